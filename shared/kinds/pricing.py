"""The dated, region-aware price table shipped as data (prices.json), and the sums on it.

One flat table of rates per region, named by dimension (`ebs.gp2.gb_month`, `vpc.public_ipv4.hour`),
so a new kind adds rows, never a typed field. Every estimate names the table's source and date; a
region missing from the table is priced with the fallback region's rows and says so, rather than
silently costing nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from shared.events import CostLine

PRICES_FILE = Path(__file__).with_name("prices.json")
ESTIMATED = " (estimated rate)"  # the end of a cost line's item priced at a rate under `estimates`


class MissingPrice(KeyError):
    """A kind asked for a rate the table does not have: a bug caught by the registry meta-test."""


@dataclass(frozen=True)
class Rates:
    """One region's rates, with the label every figure priced from them carries."""

    region: str
    values: Mapping[str, Decimal]
    source: str
    hours_per_month: int
    # Dimensions whose rate here is an estimate (derived, not read from the price list): said on the card.
    estimated: frozenset[str] = frozenset()

    def is_estimate(self, dimension: str) -> bool:
        return dimension in self.estimated

    def line(self, item: str, quantity: Decimal | int, unit: str, dimension: str) -> CostLine:
        """A cost line at this region's rate for `dimension`, saying so when that rate is an estimate."""
        marked = f"{item}{ESTIMATED}" if self.is_estimate(dimension) else item
        return line(marked, quantity, unit, self[dimension])

    def __getitem__(self, dimension: str) -> Decimal:
        try:
            return self.values[dimension]
        except KeyError:
            raise MissingPrice(f"no price for {dimension!r} in {self.region}") from None

    def __contains__(self, dimension: object) -> bool:
        return dimension in self.values


class PriceTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    as_of: str
    hours_per_month: int
    notes: dict[str, str]
    regions: dict[str, dict[str, Decimal]]
    # Region -> dimensions whose rate is an estimate there (see the table's notes for how it was made).
    estimates: dict[str, list[str]] = Field(default_factory=dict)
    fallback_region: str
    # Where each row's figures come from, and when they were read: a dimension, or a prefix ending in
    # "." for a family of them (`rds.`). Rows no source covers are listed under `estimates`.
    sources: dict[str, str] = Field(default_factory=dict)

    def source_of(self, dimension: str) -> str | None:
        """The most specific source entry covering `dimension` (itself, else its longest prefix)."""
        covering = [key for key in self.sources if _covers(key, dimension)]
        return self.sources[max(covering, key=len)] if covering else None

    def rates(self, region: str) -> Rates:
        """The region's rates and a source label (which says when the fallback region was used)."""
        if region in self.regions:
            estimated = frozenset(self.estimates.get(region, ()))
            return Rates(region, self.regions[region], self.source, self.hours_per_month, estimated)
        return Rates(
            region,
            self.regions[self.fallback_region],
            f"{self.source} ({self.fallback_region} prices: {region} is not in the table)",
            self.hours_per_month,
            frozenset(self.estimates.get(self.fallback_region, ())),
        )

    def with_rows(self, rows: Mapping[str, Mapping[str, Decimal]]) -> PriceTable:
        """This table plus more rows per region (a kind shipped outside the package, in tests)."""
        merged = {region: dict(rates) for region, rates in self.regions.items()}
        for region, extra in rows.items():
            merged.setdefault(region, {}).update(extra)
        return self.model_copy(update={"regions": merged})


def _covers(key: str, dimension: str) -> bool:
    return key == dimension or (key.endswith(".") and dimension.startswith(key))


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
