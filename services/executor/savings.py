"""The savings history: what cleaning up really saved, and the waste still waiting on a human.

A pure function over ledger decisions, so the report is tested without any AWS and the CLI only
renders it. Only real executions count as realised; dry runs are reported apart (what they would have
saved), so a rehearsal can never be mistaken for money saved.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.ledger import Decision, State

PENDING = (State.FOUND, State.ANALYZED, State.AWAITING_APPROVAL)
_CENT = Decimal("0.01")


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0))


@dataclass
class SavingsReport:
    realised_monthly_usd: Decimal = Decimal(0)
    executed: int = 0
    by_month: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_kind: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_region: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_approver: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    dry_runs: int = 0
    dry_run_monthly_usd: Decimal = Decimal(0)
    pending: int = 0
    pending_waste_monthly_usd: Decimal = Decimal(0)
    pending_net_saving_monthly_usd: Decimal = Decimal(0)
    pending_by_state: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: money as strings with two decimals (exact, and what a spreadsheet expects)."""

        def usd(value: Decimal) -> str:
            return str(value.quantize(_CENT))

        def table(values: dict[str, Decimal]) -> dict[str, str]:
            return {name: usd(amount) for name, amount in sorted(values.items())}

        return {
            "realised": {
                "monthly_usd": usd(self.realised_monthly_usd),
                "executed": self.executed,
                "by_month": table(self.by_month),
                "by_kind": table(self.by_kind),
                "by_region": table(self.by_region),
                "by_approver": table(self.by_approver),
            },
            "dry_run": {"executed": self.dry_runs, "would_save_monthly_usd": usd(self.dry_run_monthly_usd)},
            "pending": {
                "decisions": self.pending,
                "waste_monthly_usd": usd(self.pending_waste_monthly_usd),
                "net_saving_monthly_usd": usd(self.pending_net_saving_monthly_usd),
                "by_state": dict(sorted(self.pending_by_state.items())),
            },
            "outcomes": dict(sorted(self.outcomes.items())),
        }


def summarize(decisions: Iterable[Decision]) -> SavingsReport:
    """Sum realised savings by month, kind, region and approver, and the waste still undecided."""
    report = SavingsReport()
    for decision in decisions:
        if "state" not in decision.attrs or "decision_id" not in decision.attrs:
            continue  # auxiliary records (cards, group windows, markers) share the table
        state = decision.state
        if state in (State.EXECUTED, State.SKIPPED, State.FAILED):
            report.outcomes[state.value] += 1
        if state is State.EXECUTED and decision.get("dry_run"):
            report.dry_runs += 1
            report.dry_run_monthly_usd += _money(decision.get("would_save_monthly_usd"))
        elif state is State.EXECUTED:
            amount = _money(decision.get("realised_monthly_saving_usd"))
            executed_at = decision.time("executed_at")
            report.executed += 1
            report.realised_monthly_usd += amount
            report.by_month[executed_at.strftime("%Y-%m") if executed_at else "unknown"] += amount
            report.by_kind[str(decision.get("kind", "unknown"))] += amount
            report.by_region[str(decision.get("region", "unknown"))] += amount
            report.by_approver[str(decision.get("approver_name") or "unknown")] += amount
        elif state in PENDING:
            report.pending += 1
            report.pending_by_state[state.value] += 1
            report.pending_waste_monthly_usd += _money(decision.get("monthly_cost_usd"))
            report.pending_net_saving_monthly_usd += _money(decision.get("net_monthly_saving_usd"))
    return report
