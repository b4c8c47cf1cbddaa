"""The `no-connections` check: a standalone DB instance with no connection over the window.

Not reported: members of Aurora (or other) clusters, whose usage is the cluster's, and sources of read
replicas (their replicas depend on them). Stopping is not offered as a saving: RDS starts a stopped
instance again after seven days
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_StopInstance.html), so it only defers cost.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.events import Finding, Recommendation, Risk
from shared.kinds.advice import Advice, clip, confidence, idle_text, usd
from shared.kinds.base import Check, Observation, Usage
from shared.kinds.rds_instance.kind import CONNECTIONS, RdsInstance
from shared.kinds.signals import Signals


@RdsInstance.check("no-connections")
class NoConnections(Check):
    summary = "no database connection over the window, yet billed per instance-hour and storage"
    metrics = (CONNECTIONS,)
    window = timedelta(days=32)  # a month-end job connecting once a month is use
    permissions = ("cloudwatch:GetMetricData",)
    remedies = ("snapshot-then-delete",)

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        facts = observation.facts
        if facts.get("cluster") or facts.get("replicas") or facts.get("status") != "available":
            return None  # cluster members and replica sources are not judged alone; stopped is not idle
        if usage is None or not usage.known() or usage.values.get(CONNECTIONS.name):
            return None
        peak = usage.values[CONNECTIONS.name] or 0
        return f"no connections: {peak:,.0f} database connections (peak) over {usage.window.days} days"

    def busy_reason(self, observation: Observation) -> str:
        return "the database had connections within the window, or is no longer standalone and available"

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        facts = finding.facts
        shape = f"{facts.get('instance_class')}{', Multi-AZ' if facts.get('multi_az') else ''}"
        unknown = " (part of the price unknown)" if finding.cost.note else ""
        summary = (
            f"{facts.get('engine')} DB instance {str(facts.get('name'))[:60]!r} ({shape}, "
            f"{facts.get('allocated_gib')} GiB) in {finding.key.region}, {idle_text(finding, now)}: "
            f"{finding.idle_reason}. It costs {usd(finding.cost.monthly_usd)}/month{unknown}. "
            "Deleting it keeps a final snapshot to restore from; stopping it would only defer the cost "
            "(RDS restarts a stopped instance after 7 days)."
        )
        cause = "An environment or migration that ended, or an application moved to another database"
        risk: Risk
        recommendation: Recommendation
        if s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif facts.get("deletion_protection"):
            risk, reason, recommendation = "high", "deletion protection is on", "keep"
        elif s.prod:
            risk, reason, recommendation = "high", f"production database ({s.prod})", "investigate"
        elif s.disposable:
            risk, reason, recommendation = "low", f"looks disposable ({s.disposable})", "snapshot_then_delete"
        else:
            risk, recommendation = "medium", "snapshot_then_delete"
            reason = "no connection in a month; the final snapshot keeps the data restorable"
        return Advice(clip(summary, 700), cause, risk, clip(reason, 300), recommendation, confidence(s, risk))
