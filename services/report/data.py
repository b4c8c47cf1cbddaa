"""What the report shows, read from the ledger: filtered decisions, their figures, the tables' rows.

The figures come from `summarize` (services/executor/savings.py), the same function behind
`cloudthrift savings --json`, over the same decisions. This module only adds what a table needs per
row (a resource's name, its recommendation, its undo state), read for the states the tables list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from services.executor.savings import CLEANED_UP, PENDING, SavingsReport, read_ledger, summarize
from shared.ledger import Attr, Decision, Ledger, State

TOP_PENDING = 25
# Per row of the tables: read only for the states the tables list (the findings are the big part).
ROW_FIELDS = ("resource_id", "idle_since", "finding", "analysis", "action", "snapshot_id")
_ROW_STATES = {*PENDING, *(state for state in State if state.value in CLEANED_UP)}


class Filters(BaseModel):
    """The command's options. A clean-up belongs to the period it ran in; anything else to the period
    it was first found in."""

    model_config = ConfigDict(frozen=True)

    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    accounts: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()

    def keep(self, decision: Decision) -> bool:
        if self.accounts and decision.get(Attr.ACCOUNT_ID) not in self.accounts:
            return False
        if self.regions and decision.get(Attr.REGION) not in self.regions:
            return False
        if self.kinds and decision.get(Attr.KIND) not in self.kinds:
            return False
        if self.since is None and self.until is None:
            return True
        cleaned = decision.get(Attr.STATE) in CLEANED_UP
        when = decision.time(Attr.EXECUTED_AT if cleaned else "created_at")
        if when is None:
            return False
        return (self.since is None or when >= self.since) and (self.until is None or when < self.until)

    @property
    def described(self) -> list[tuple[str, str]]:
        """The filters in force, as (name, value) for the page's header."""
        shown = [
            ("accounts", ", ".join(sorted(self.accounts))),
            ("regions", ", ".join(sorted(self.regions))),
            ("kinds", ", ".join(sorted(self.kinds))),
            ("since", self.since.isoformat() if self.since else ""),
            ("until", self.until.isoformat() if self.until else ""),
        ]
        return [(name, value) for name, value in shown if value]


@dataclass(frozen=True)
class Row:
    """One resource in a table, with its untrusted texts (name, ids) kept as plain strings."""

    kind: str
    resource_id: str
    name: str
    account_id: str
    region: str
    monthly_usd: Decimal
    net_usd: Decimal
    age_days: int | None = None
    recommendation: str = ""
    approver: str = ""
    executed_at: datetime | None = None
    action: str = ""
    snapshot_id: str = ""
    undo: str = ""


@dataclass(frozen=True)
class ReportData:
    figures: SavingsReport
    pending: list[Row]
    cleaned_up: list[Row]
    dry_runs: list[Row]
    price_sources: list[tuple[str, str]]
    filters: Filters


async def load(ledger: Ledger, filters: Filters, *, now: datetime | None = None) -> ReportData:
    """Read the ledger (by state, projected), keep what the filters select, and summarize it."""
    extra = {state: ROW_FIELDS for state in _ROW_STATES}
    decisions = [d async for d in read_ledger(ledger, extra=extra) if filters.keep(d)]
    as_of = now or datetime.now(UTC)
    if filters.until is not None and filters.until < as_of:
        as_of = filters.until
    figures = summarize(decisions, now=as_of)
    return build(decisions, figures, filters)


def build(decisions: Iterable[Decision], figures: SavingsReport, filters: Filters) -> ReportData:
    """The tables' rows and the price sources. Only the largest pending items get a row (and their
    analysis decoded): over 10,000 decisions, building a row for each pending one was most of this."""
    pending: list[tuple[Decision, dict[str, Any]]] = []
    cleaned: list[Row] = []
    dry: list[Row] = []
    sources: set[tuple[str, str]] = set()
    waiting = {s.value for s in PENDING}
    for decision in decisions:
        state = decision.get(Attr.STATE)
        finding = _json(decision.get(Attr.FINDING))
        cost = finding.get("cost") or {}
        if cost.get("price_source"):
            sources.add((str(cost["price_source"]), str(cost.get("price_date", ""))))
        if state in waiting:
            pending.append((decision, finding))
        elif state in CLEANED_UP:
            (dry if decision.get(Attr.DRY_RUN) else cleaned).append(_row(decision, finding, figures.as_of))
    largest = sorted(pending, key=lambda pair: (-_monthly(pair[0]), str(pair[0].get(Attr.RESOURCE_ID, ""))))
    rows = [_row(decision, finding, figures.as_of) for decision, finding in largest[:TOP_PENDING]]
    executed_first = datetime.min.replace(tzinfo=UTC)
    for table in (cleaned, dry):
        table.sort(key=lambda row: (row.executed_at or executed_first, row.resource_id), reverse=True)
    return ReportData(figures, rows, cleaned, dry, sorted(sources), filters)


def _monthly(decision: Decision) -> Decimal:
    return Decimal(str(decision.get(Attr.MONTHLY_COST_USD) or 0))


def _json(raw: Any) -> dict[str, Any]:
    """The finding and analysis are stored as JSON text; a table needs a few of their fields."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _undo(decision: Decision) -> str:
    """Issue 14's undo: the restore time or state when there is one, "not undone" otherwise."""
    restored = decision.time("restored_at")
    if restored is not None:
        return f"restored {restored:%Y-%m-%d %H:%M}"
    state = str(decision.get(Attr.STATE))
    return "not undone" if state == "EXECUTED" else state.lower().replace("_", " ")


def _row(decision: Decision, finding: dict[str, Any], as_of: datetime) -> Row:
    tags = finding.get("tags") or {}
    since = decision.time(Attr.IDLE_SINCE) or decision.time(Attr.CREATED_AT)
    saving = None  # pending: what cleaning up would save; cleaned up: what it saved (or would have)
    if decision.get(Attr.STATE) in CLEANED_UP:
        dry = bool(decision.get(Attr.DRY_RUN))
        saving = decision.get(Attr.WOULD_SAVE_MONTHLY_USD if dry else "realised_monthly_saving_usd")
    return Row(
        kind=str(decision.get(Attr.KIND, "")),
        resource_id=str(decision.get(Attr.RESOURCE_ID, "")),
        name=str(tags.get("Name", "")),
        account_id=str(decision.get(Attr.ACCOUNT_ID, "")),
        region=str(decision.get(Attr.REGION, "")),
        monthly_usd=_monthly(decision),
        net_usd=Decimal(
            str(saving if saving is not None else decision.get(Attr.NET_MONTHLY_SAVING_USD) or 0)
        ),
        age_days=(as_of - since).days if since else None,
        recommendation=str(_json(decision.get(Attr.ANALYSIS)).get("recommendation", "")),
        approver=str(decision.get(Attr.APPROVER_NAME) or ""),
        executed_at=decision.time(Attr.EXECUTED_AT),
        action=str(decision.get(Attr.ACTION) or ""),
        snapshot_id=str(decision.get(Attr.SNAPSHOT_ID) or ""),
        undo=_undo(decision),
    )
