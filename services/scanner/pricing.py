"""The dated, region-aware price table shipped with the scanner (prices.json), and the sums on it.

Every estimate names its source and date; a region missing from the table is priced with the fallback
region's figures and says so, rather than silently costing nothing.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from shared.events import CostLine

PRICES_FILE = Path(__file__).with_name("prices.json")
CENT = Decimal("0.01")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VolumePrice(_Frozen):
    gb_month: Decimal
    iops_month: Decimal | None = None
    iops_free: int = 0
    iops_tiers: tuple[tuple[int | None, Decimal], ...] | None = None
    throughput_month: Decimal | None = None
    throughput_free: int = 0


class RegionPrices(_Frozen):
    ebs: dict[str, VolumePrice]
    snapshot_gb_month: Decimal
    public_ipv4_hour: Decimal


class PriceTable(_Frozen):
    source: str
    as_of: str
    hours_per_month: int
    notes: dict[str, str]
    regions: dict[str, RegionPrices]
    fallback_region: str

    def for_region(self, region: str) -> tuple[RegionPrices, str]:
        """The region's prices and a source label (which says when the fallback was used)."""
        if region in self.regions:
            return self.regions[region], self.source
        return (
            self.regions[self.fallback_region],
            f"{self.source} ({self.fallback_region} prices: {region} is not in the table)",
        )


@cache
def load_prices(path: Path = PRICES_FILE) -> PriceTable:
    return PriceTable.model_validate_json(path.read_text())


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def line(item: str, quantity: Decimal | int, unit: str, unit_price: Decimal) -> CostLine:
    quantity = Decimal(quantity)
    return CostLine(
        item=item,
        quantity=quantity,
        unit=unit,
        unit_price_usd=unit_price,
        monthly_usd=money(quantity * unit_price),
    )


def tiered(quantity: int, tiers: tuple[tuple[int | None, Decimal], ...]) -> list[tuple[int, Decimal]]:
    """Split `quantity` over price tiers given as (upper bound or None, unit price)."""
    parts: list[tuple[int, Decimal]] = []
    lower = 0
    for upper, price in tiers:
        top = quantity if upper is None else min(quantity, upper)
        if top > lower:
            parts.append((top - lower, price))
        if upper is None or quantity <= upper:
            break
        lower = upper
    return parts
