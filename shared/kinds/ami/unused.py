"""The `unused` check: images no instance, launch template or launch configuration uses (see the package)."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.events import Finding, Recommendation, Risk
from shared.kinds.advice import Advice, confidence, usd
from shared.kinds.ami.kind import USER_KINDS, Ami
from shared.kinds.base import Check, Observation, Usage
from shared.kinds.recycle_bin import undo_phrase
from shared.kinds.signals import Signals


@Ami.check("unused")
class Unused(Check):
    summary = (
        "owned, available, not public, older than 90 days, and used by no instance, launch template "
        "(default or latest version) or launch configuration"
    )
    filters = ({"Name": "state", "Values": ["available"]},)
    remedies = ("deregister-and-delete-snapshots", "deregister")
    min_age = timedelta(days=90)

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        if _used(observation) is not None:
            return None
        facts = observation.facts
        return (
            f"AMI {facts.get('name')!r} that no instance, launch template or launch configuration uses; "
            f"its {facts.get('snapshot_count')} snapshot(s) ({facts.get('size_gib')} GiB) keep billing"
        )

    def busy_reason(self, observation: Observation) -> str:
        return f"image is no longer unused: {_used(observation) or 'changed'}"

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        """Deleting the snapshots is where the saving is, and it cannot be undone: low risk only for an
        image that looks disposable or has newer siblings; otherwise investigate."""
        facts, cost = finding.facts, finding.cost
        days = (now - finding.created_at).days if finding.created_at else 0
        summary = (
            f"AMI {str(facts.get('name'))[:60]!r} ({facts.get('architecture')}, {facts.get('platform')}), "
            f"created {days} days ago, used by no instance, launch template or launch configuration "
            f"visible in {finding.key.region}. Its {facts.get('snapshot_count')} snapshot(s) "
            f"({facts.get('size_gib')} GiB) cost up to {usd(cost.monthly_usd)}/month. Deregistering it "
            f"and deleting its snapshots saves that; deregistered, the image {undo_phrase(facts)}. "
            f"Deregistering alone keeps the "
            f"snapshots (and their cost) so it can be registered again. Accounts it is shared with may "
            f"still launch it: that use is not visible from here."
        )
        cause = (
            "Built by a release pipeline or by hand; newer images replaced it and nothing cleans up old ones."
        )
        risk: Risk
        recommendation: Recommendation
        if s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif s.prod:
            risk, reason, recommendation = (
                "medium",
                f"a production image ({s.prod}): a rollback target?",
                "investigate",
            )
        else:
            risk, recommendation = "low", "delete"
            reason = f"nothing launches it, and it is {days} days old"
        return Advice(summary, cause, risk, reason, recommendation, confidence(s, risk))


def _used(observation: Observation) -> str | None:
    """Why the image is still someone's, or None."""
    facts = observation.facts
    if facts.get("state") != "available":
        return f"state {facts.get('state')!r}"
    if facts.get("public"):
        return "it is public: others may launch it"
    for user in USER_KINDS:
        if facts.get(f"used_by_{user}"):
            return f"used by {user.replace('_', ' ')} {facts.get(f'used_by_{user}')}"
    return None
