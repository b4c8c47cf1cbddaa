"""The savings history: what cleaning up really saved, and the waste still waiting on a human.

A pure function over ledger decisions, so the figures are tested without any AWS and the commands only
render them: `cloudthrift savings` prints them, `cloudthrift report` draws them, both from `summarize`,
so the two can never disagree. Only real executions count as realised; dry runs are reported apart
(what they would have saved), so a rehearsal can never be mistaken for money saved.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.executor.accrual import HOURS_PER_MONTH, Accrual, accruals_of
from shared.events import utcnow
from shared.ledger import Attr, Decision, Ledger, State

PENDING = (State.FOUND, State.ANALYZED, State.AWAITING_APPROVAL)
# A real clean-up stays in the savings history through its undo (issue 14's RESTORING → RESTORED):
# it avoided cost from its execution until it was undone. Names, so this works before those states exist.
CLEANED_UP = frozenset({"EXECUTED", "RESTORING", "RESTORED", "RESTORE_FAILED"})
# The realised monthly saving stops counting once an undo is asked for (RESTORING), not when it lands.
UNDOING = frozenset({"RESTORING", "RESTORED"})
DECIDED = frozenset(
    {"APPROVED", "REJECTED", "SNOOZED", "EXECUTING", "EXECUTED", "SKIPPED", "FAILED"} | CLEANED_UP
)
# Every attribute `summarize` reads: readers project these instead of transferring whole findings.
FIELDS = (
    "decision_id",
    "cycle",
    "kind",
    "account_id",
    "region",
    "created_at",
    "decided_at",
    "executed_at",
    "restored_at",
    "updated_at",
    "dry_run",
    "realised_monthly_saving_usd",
    "would_save_monthly_usd",
    "approver_name",
    "monthly_cost_usd",
    "net_monthly_saving_usd",
    "restore_requested_at",
    "gross_monthly_saving_usd",
    "snapshot_size_basis",
    "snapshot_expired_at",
    "net_before_expiry_usd",
)
_CENT = Decimal("0.01")


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def usd(value: Decimal) -> str:
    """Money as text: two decimals, exact (what a spreadsheet expects)."""
    return str(value.quantize(_CENT))


def _table(values: dict[str, Decimal]) -> dict[str, str]:
    return {name: usd(amount) for name, amount in sorted(values.items())}


def _by_kind() -> defaultdict[str, Decimal]:
    return defaultdict(Decimal)


@dataclass
class SavingsReport:
    as_of: datetime = field(default_factory=utcnow)
    realised_monthly_usd: Decimal = Decimal(0)
    executed: int = 0
    by_month: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_month_and_kind: dict[str, dict[str, Decimal]] = field(default_factory=lambda: defaultdict(_by_kind))
    by_kind: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_region: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_approver: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    accruals: list[Accrual] = field(default_factory=list)
    undone: int = 0
    # Clean-ups a human chose knowingly although they cost more than they save: counted, and said.
    losing: int = 0
    losing_monthly_usd: Decimal = Decimal(0)
    # What the kept snapshots' prices rest on: the size AWS reported, or the provisioned upper bound.
    snapshot_reported: int = 0
    snapshot_upper_bound: int = 0
    snapshots_expired: int = 0
    dry_runs: int = 0
    dry_run_monthly_usd: Decimal = Decimal(0)
    pending: int = 0
    pending_waste_monthly_usd: Decimal = Decimal(0)
    pending_net_saving_monthly_usd: Decimal = Decimal(0)
    # Undecided findings whose default clean-up would lose money: never summed into the net saving.
    pending_losing: int = 0
    pending_losing_monthly_usd: Decimal = Decimal(0)
    pending_by_state: Counter[str] = field(default_factory=Counter)
    pending_by_account: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    pending_by_kind: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    outcomes: Counter[str] = field(default_factory=Counter)
    decision_hours: list[float] = field(default_factory=list)
    first_found: datetime | None = None

    def avoided_series(self) -> list[tuple[datetime, Decimal]]:
        """Cost avoided to date, cumulative, at every execution and undo up to `as_of` (and at `as_of`).

        A sweep over the events: between two of them the total grows at the sum of the monthly rates
        then in force, so the curve is exact at its points and linear between them.
        """
        events: list[tuple[datetime, Decimal]] = []
        for accrual in self.accruals:
            events.append((accrual.start, accrual.monthly_usd))
            if accrual.end is not None:
                events.append((accrual.end, -accrual.monthly_usd))
        events = sorted(event for event in events if event[0] <= self.as_of)
        series: list[tuple[datetime, Decimal]] = []
        total, rate, last = Decimal(0), Decimal(0), None
        for when, change in [*events, (self.as_of, Decimal(0))]:
            if last is not None:
                hours = Decimal(str((when - last).total_seconds())) / 3600
                total += rate * hours / HOURS_PER_MONTH
            rate, last = rate + change, when
            series.append((when, total))
        return series if events else []

    @property
    def avoided_to_date_usd(self) -> Decimal:
        series = self.avoided_series()
        return series[-1][1] if series else Decimal(0)

    def decision_time_hours(self) -> tuple[float, float] | None:
        """Median and 90th percentile of the hours from first sighting to a human's decision."""
        hours = sorted(self.decision_hours)
        if not hours:
            return None
        p90 = statistics.quantiles(hours, n=10, method="inclusive")[-1] if len(hours) > 1 else hours[0]
        return statistics.median(hours), p90

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: money as strings with two decimals (exact, and what a spreadsheet expects)."""
        timing = self.decision_time_hours()
        return {
            "as_of": self.as_of.isoformat(),
            "first_found": self.first_found.isoformat() if self.first_found else None,
            "realised": {
                "monthly_usd": usd(self.realised_monthly_usd),
                "executed": self.executed,
                "undone": self.undone,
                "avoided_to_date_usd": usd(self.avoided_to_date_usd),
                "losing": {"executed": self.losing, "monthly_usd": usd(self.losing_monthly_usd)},
                "snapshot_cost": {
                    "reported_by_aws": self.snapshot_reported,
                    "upper_bound": self.snapshot_upper_bound,
                    "expired": self.snapshots_expired,
                },
                "by_month": _table(self.by_month),
                "by_month_and_kind": {m: _table(k) for m, k in sorted(self.by_month_and_kind.items())},
                "by_kind": _table(self.by_kind),
                "by_region": _table(self.by_region),
                "by_approver": _table(self.by_approver),
            },
            "dry_run": {"executed": self.dry_runs, "would_save_monthly_usd": usd(self.dry_run_monthly_usd)},
            "pending": {
                "decisions": self.pending,
                "waste_monthly_usd": usd(self.pending_waste_monthly_usd),
                "net_saving_monthly_usd": usd(self.pending_net_saving_monthly_usd),
                "losing_by_default": {
                    "decisions": self.pending_losing,
                    "monthly_usd": usd(self.pending_losing_monthly_usd),
                },
                "by_state": dict(sorted(self.pending_by_state.items())),
                "by_account": _table(self.pending_by_account),
                "by_kind": _table(self.pending_by_kind),
            },
            "outcomes": dict(sorted(self.outcomes.items())),
            "decision_time": {
                "decided": len(self.decision_hours),
                "median_hours": f"{timing[0]:.1f}" if timing else None,
                "p90_hours": f"{timing[1]:.1f}" if timing else None,
            },
        }


def summarize(decisions: Iterable[Decision], *, now: datetime | None = None) -> SavingsReport:
    """Sum realised savings by month, kind, region and approver, and the waste still undecided.

    `now` is the moment "to date" means for the cost avoided (default: the current time).
    """
    report = SavingsReport(as_of=now or utcnow())
    for decision in decisions:
        if "state" not in decision.attrs or "decision_id" not in decision.attrs:
            continue  # auxiliary records (cards, group windows, markers) share the table
        state = str(decision.attrs["state"])  # by name: undo states may be newer than this code
        found = decision.time(Attr.CREATED_AT)
        if found is not None and (report.first_found is None or found < report.first_found):
            report.first_found = found
        if state in DECIDED and found is not None and decision.cycle == 0:
            # A later cycle keeps its first cycle's created_at: its own start is not recorded apart.
            decided = decision.time(Attr.DECIDED_AT)
            if decided is not None:
                report.decision_hours.append((decided - found).total_seconds() / 3600)
        if state in ("EXECUTED", "SKIPPED", "FAILED"):
            report.outcomes[state] += 1
        if state in CLEANED_UP and decision.get(Attr.DRY_RUN):
            report.dry_runs += 1
            report.dry_run_monthly_usd += _money(decision.get(Attr.WOULD_SAVE_MONTHLY_USD))
        elif state in CLEANED_UP:
            _cleaned_up(report, decision)
        elif state in {s.value for s in PENDING}:
            amount = _money(decision.get(Attr.MONTHLY_COST_USD))
            report.pending += 1
            report.pending_by_state[state] += 1
            report.pending_waste_monthly_usd += amount
            net = _money(decision.get(Attr.NET_MONTHLY_SAVING_USD))
            if net < 0:  # its default clean-up loses money: a human must choose; never summed silently
                report.pending_losing += 1
                report.pending_losing_monthly_usd += -net
            else:
                report.pending_net_saving_monthly_usd += net
            report.pending_by_account[str(decision.get(Attr.ACCOUNT_ID, "unknown"))] += amount
            report.pending_by_kind[str(decision.get(Attr.KIND, "unknown"))] += amount
    return report


def _cleaned_up(report: SavingsReport, decision: Decision) -> None:
    amount = _money(decision.get(Attr.REALISED_MONTHLY_SAVING_USD))
    executed_at = decision.time(Attr.EXECUTED_AT)
    report.accruals.extend(accruals_of(decision))
    asked = decision.time(Attr.RESTORE_REQUESTED_AT) or decision.time(Attr.RESTORED_AT)
    # A failed undo brought nothing back: it still saves (and a retry asks again).
    if decision.get(Attr.STATE) in UNDOING or (asked and decision.get(Attr.STATE) != "RESTORE_FAILED"):
        report.undone += 1
        return  # undone (or being undone): it saves nothing any more, what it avoided stays avoided
    month = executed_at.strftime("%Y-%m") if executed_at else "unknown"
    kind = str(decision.get(Attr.KIND, "unknown"))
    report.executed += 1
    report.realised_monthly_usd += amount
    if amount < 0:
        report.losing += 1
        report.losing_monthly_usd += -amount
    basis = str(decision.get(Attr.SNAPSHOT_SIZE_BASIS) or "")
    if decision.get("snapshot_expired_at"):
        report.snapshots_expired += 1
    elif basis.startswith("reported"):
        report.snapshot_reported += 1
    elif basis.startswith("upper bound"):
        report.snapshot_upper_bound += 1
    report.by_month[month] += amount
    report.by_month_and_kind[month][kind] += amount
    report.by_kind[kind] += amount
    report.by_region[str(decision.get(Attr.REGION, "unknown"))] += amount
    report.by_approver[str(decision.get(Attr.APPROVER_NAME) or "unknown")] += amount


async def read_ledger(
    ledger: Ledger, *, extra: Mapping[State, Sequence[str]] | None = None, in_flight: int = 2
) -> AsyncIterator[Decision]:
    """Every decision, state by state through the by-state index, with only the fields needed.

    Never a scan: the index holds decisions only (auxiliary records have no state), and each query
    reads one state's items, projected to `FIELDS` (plus `extra[state]`), not their whole findings.
    `in_flight` states are read at once, so one page is decoded here while the next is answered:
    against DynamoDB their round trips overlap, and on the embedded AWS, which answers DynamoDB one
    request at a time, a page waits for at most one other page, never for every state's (ten at
    once queued past the client's read timeout over 10,000 decisions).
    """
    gate = asyncio.Semaphore(in_flight)

    async def one(state: State) -> list[Decision]:
        fields = (*FIELDS, *(extra or {}).get(state, ()))
        async with gate:
            return [decision async for decision in ledger.by_state(state, attributes=fields)]

    for chunk in await asyncio.gather(*(one(state) for state in State)):
        for decision in chunk:
            yield decision
