"""The `long-stopped` check: instances stopped longer than the check's minimum age (see the package)."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.events import Finding, Recommendation, Risk
from shared.kinds.advice import Advice, confidence, usd
from shared.kinds.base import Check, Observation, Usage
from shared.kinds.ec2_instance.kind import Ec2Instance
from shared.kinds.signals import Signals


@Ec2Instance.check("long-stopped")
class LongStopped(Check):
    summary = (
        "stopped for over 30 days: its volumes and Elastic IPs keep billing; never with termination "
        "protection or in an Auto Scaling group"
    )
    # Running, pending and terminated instances never cross the wire.
    filters = ({"Name": "instance-state-name", "Values": ["stopped"]},)
    remedies = ("image-then-terminate",)
    # A month: longer than a holiday or a quarter-end pause that someone resumes; the volumes of an
    # instance stopped that long have cost a month of storage for nothing (Trusted Advisor flags
    # instances stopped for over 30 days too).
    min_age = timedelta(days=30)

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        if _spared(observation) is not None:
            return None
        facts = observation.facts
        since = facts.get("stopped_at") or "a time AWS does not say (first seen stopped counts)"
        return (
            f"{facts.get('instance_type')} instance stopped since {since}: its "
            f"{facts.get('volume_count')} volume(s) ({facts.get('volume_gib')} GiB) and "
            f"{facts.get('elastic_ip_count')} Elastic IP(s) keep billing"
        )

    def busy_reason(self, observation: Observation) -> str:
        return f"instance is no longer a long-stopped one to clean up: {_spared(observation) or 'changed'}"

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        """Imaging first makes termination reversible, so a stopped instance nobody claims is low risk;
        production is investigated, a keep tag kept."""
        facts, cost = finding.facts, finding.cost
        days = (now - finding.created_at).days if finding.created_at else None
        name = str(facts.get("name") or "")
        summary = (
            f"{facts.get('instance_type')} instance{f' named {name[:60]!r}' if name else ''} stopped "
            f"{f'{days} days ago' if days is not None else 'for an unknown time'}. Its "
            f"{facts.get('volume_count')} volume(s) ({facts.get('volume_gib')} GiB) and "
            f"{facts.get('elastic_ip_count')} Elastic IP(s) cost {usd(cost.monthly_usd)}/month. Imaging it "
            f"then terminating it keeps an AMI (up to {usd(cost.snapshot_monthly_usd)}/month of snapshots) "
            f"and saves {usd(cost.net_monthly_saving_usd)}/month; it can be launched again from that AMI "
            f"with a new instance id and private IP."
        )
        cause = "Stopped to save compute during a pause, a migration or a proof of concept, then forgotten."
        risk: Risk
        recommendation: Recommendation
        if s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif s.prod:
            risk, reason, recommendation = "high", f"production instance ({s.prod})", "investigate"
        else:
            risk, recommendation = "low", "snapshot_then_delete"
            reason = "an AMI of all its volumes is kept: it can be launched again"
        return Advice(summary, cause, risk, reason, recommendation, confidence(s, risk))


def _spared(observation: Observation) -> str | None:
    """Why the instance is not a long-stopped one CloudThrift may clean up, or None."""
    facts = observation.facts
    if facts.get("state") != "stopped":
        return f"state {facts.get('state')!r}, not stopped"
    if facts.get("termination_protection"):
        return "termination protection is on"
    if facts.get("in_auto_scaling_group"):
        return "it belongs to an Auto Scaling group, which would replace it"
    return None
