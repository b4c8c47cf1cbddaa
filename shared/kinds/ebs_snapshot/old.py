"""The `old` check: snapshots nothing manages any more (see the package's docstring)."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.events import Finding, Recommendation, Risk
from shared.kinds.advice import Advice, confidence, usd
from shared.kinds.base import Check, Observation, Usage
from shared.kinds.ebs_snapshot.kind import EbsSnapshot
from shared.kinds.recycle_bin import undo_phrase
from shared.kinds.signals import Signals


@EbsSnapshot.check("old")
class Old(Check):
    summary = "owned, completed, older than 90 days, and used by no AMI, AWS Backup, DLM or CloudThrift"
    filters = ({"Name": "status", "Values": ["completed"]},)
    remedies = ("archive", "delete")
    min_age = timedelta(days=90)

    def remedy_order(self, observation: Observation) -> tuple[str, ...]:
        """Delete when the snapshot's volume still exists: its data lives on there (and in the volume's
        newer snapshots), so archiving would bill the full size for 90 days to keep a stale copy.
        Archive when the volume is gone: the snapshot may be the last copy, and archived it can still
        be restored."""
        return ("delete", "archive") if observation.facts.get("volume_exists") else self.remedies

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        if _held(observation) is not None:
            return None
        facts = observation.facts
        volume = (
            f"of {facts.get('volume_id')} ({'still exists' if facts.get('volume_exists') else 'deleted'})"
        )
        return f"snapshot {volume} that no AMI, AWS Backup plan, DLM policy or CloudThrift decision uses"

    def busy_reason(self, observation: Observation) -> str:
        return f"snapshot is no longer unmanaged: {_held(observation) or 'changed'}"

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        """Archive rather than delete when in doubt: a snapshot whose volume is gone may be the last
        copy of that data, and an archived one can still be restored (in up to 72 hours)."""
        facts, cost = finding.facts, finding.cost
        days = (now - finding.created_at).days if finding.created_at else 0
        name = str(facts.get("name") or "")
        exists = bool(facts.get("volume_exists"))
        summary = (
            f"{facts.get('size_gib')} GiB snapshot{f' named {name[:60]!r}' if name else ''} of "
            f"{facts.get('volume_id')}, taken {days} days ago; its volume "
            f"{'still exists' if exists else 'was deleted'}. It costs up to {usd(cost.monthly_usd)}/month. "
        )
        if exists:  # the proposed remedy is delete (Old.remedy_order)
            summary += (
                f"Proposed: delete it, since its data lives on in the volume. "
                f"Deleted, it {undo_phrase(facts)}."
            )
        else:
            summary += (
                f"Proposed: archive it, at {usd(cost.snapshot_monthly_usd)}/month (90-day minimum, "
                f"restore up to 72 h); deleting it would save all of it. Deleted, it {undo_phrase(facts)}."
            )
        cause = "Taken by hand or by a script before a change, and never cleaned up: nothing manages it."
        risk: Risk
        recommendation: Recommendation
        if s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif s.prod:
            risk, reason, recommendation = "high", f"production data ({s.prod})", "investigate"
        elif exists or s.disposable:
            risk, recommendation = "low", "delete"
            reason = "its volume still holds newer data" if exists else f"looks disposable ({s.disposable})"
        else:
            risk, recommendation = "medium", "investigate"
            reason = (
                "its volume is gone: it may be the last copy of that data (archive it rather than delete)"
            )
        return Advice(summary, cause, risk, reason, recommendation, confidence(s, risk))


def _held(observation: Observation) -> str | None:
    """Why the snapshot is someone's (an AMI's, a backup tool's, ours), or None."""
    facts = observation.facts
    if facts.get("state") != "completed":
        return f"not completed (state {facts.get('state')!r})"
    if facts.get("storage_tier") != "standard":
        return f"already in the {facts.get('storage_tier')} tier"
    if facts.get("used_by_images"):
        return f"used by AMI {facts.get('used_by_images')}"
    if facts.get("managed_by"):
        return f"managed by {facts.get('managed_by')}, which expires it itself"
    if facts.get("cloudthrift_decision"):
        return f"CloudThrift's safety snapshot for decision {facts.get('cloudthrift_decision')}"
    return None
