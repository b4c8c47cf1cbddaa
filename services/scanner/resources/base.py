"""What a resource kind must tell the scanner: how to list it, whether it is idle and why, its cost.

One small class per kind, registered in `detectors`. Listing does I/O (paginated, filtered server-side
where the API allows); everything else is a pure function of what the API returned, so it is tested
without any AWS at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from services.scanner.pricing import RegionPrices
from shared.events import CostLine, FactValue
from shared.registry import Registry


@dataclass(frozen=True)
class Observation:
    """One resource as a detector reads it; `idle_reason` is None when the resource is in use."""

    resource_id: str
    facts: dict[str, FactValue]
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    idle_reason: str | None = None


@dataclass(frozen=True)
class Pricing:
    lines: list[CostLine]
    snapshot_monthly_usd: Decimal = Decimal(0)
    note: str | None = None


class Detector(ABC):
    kind: ClassVar[str]
    service: ClassVar[str] = "ec2"
    permissions: ClassVar[tuple[str, ...]]

    @abstractmethod
    def candidates(self, client: Any) -> AsyncIterator[Mapping[str, Any]]:
        """Every resource of this kind in the client's region that might be idle."""

    @abstractmethod
    def observe(self, raw: Mapping[str, Any]) -> Observation:
        """Read one API record: identity, facts, tags, age, and why it is idle (if it is)."""

    @abstractmethod
    def price(self, observation: Observation, prices: RegionPrices, hours_per_month: int) -> Pricing:
        """Monthly cost lines, and what the snapshot kept on deletion would cost."""


detectors: Registry[Detector] = Registry("resource kind")


def tags_of(raw: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in raw.get("Tags", []) or []}
