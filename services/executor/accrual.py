"""What one real clean-up avoids over time: rates in force between instants (issue 14).

A clean-up saves its net rate from execution; once its safety snapshot expired, its gross rate; until
an undo was asked for (`restore_requested_at`). The savings report draws the cumulative curve from
these, and the money sweep counts each interval once to Datadog (services/executor/retention.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.ledger import Attr, Decision

# AWS prices a month as 730 hours (the price table's convention: $0.005/h is $3.65 a month).
HOURS_PER_MONTH = Decimal(730)


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0))


@dataclass(frozen=True)
class Accrual:
    """One real clean-up: it avoids `monthly_usd` a month from `start` until `end` (its undo), if any."""

    start: datetime
    monthly_usd: Decimal
    end: datetime | None = None


def accruals_of(decision: Decision) -> list[Accrual]:
    """What one real clean-up avoids, as rates over time: its net saving from execution, its gross
    saving once its safety snapshot expired (the retention sweep), until an undo was asked for
    (`restore_requested_at`) or, for an undo recorded without it, until it was restored."""
    executed_at = decision.time(Attr.EXECUTED_AT)
    if executed_at is None:
        return []
    end = decision.time(Attr.RESTORE_REQUESTED_AT) or decision.time(Attr.RESTORED_AT)
    if end is None and decision.get(Attr.STATE) == "RESTORED":
        end = decision.time(Attr.UPDATED_AT)
    if decision.get(Attr.STATE) == "RESTORE_FAILED":
        end = None  # nothing came back: it is still saving
    rate = _money(decision.get(Attr.REALISED_MONTHLY_SAVING_USD))
    expired = decision.time("snapshot_expired_at")
    if expired is None:
        return [Accrual(executed_at, rate, end)]
    before = _money(decision.get("net_before_expiry_usd"))
    if end is not None and end <= expired:
        return [Accrual(executed_at, before, end)]
    return [Accrual(executed_at, before, expired), Accrual(expired, rate, end)]


def avoided_between(accruals: Iterable[Accrual], start: datetime, end: datetime) -> Decimal:
    """Cost avoided between two instants: each rate times the hours it was in force within them."""
    total = Decimal(0)
    for accrual in accruals:
        since = max(start, accrual.start)
        until = min(end, accrual.end) if accrual.end is not None else end
        if until > since:
            hours = Decimal(str((until - since).total_seconds())) / 3600
            total += accrual.monthly_usd * hours / HOURS_PER_MONTH
    return total
