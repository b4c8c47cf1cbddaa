"""Unattached EBS volumes: state `available` means no instance uses them, yet they bill every GB."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from shared.events import Finding, Recommendation, Risk
from shared.kinds.advice import Advice, clip, confidence, idle_days, idle_text, usd
from shared.kinds.base import Check, Observation, Usage
from shared.kinds.ebs_volume.kind import LISTED_VOLUMES, EbsVolume
from shared.kinds.signals import Signals

_IOPS_SHARE = Decimal("0.3")  # above this share of the cost, the card names the provisioned IOPS


@EbsVolume.check("unattached")
class Unattached(Check):
    summary = "state 'available': attached to no instance, yet billed for its size"
    filters = LISTED_VOLUMES  # attached ones too: counted busy (shared/kinds/ebs_volume/kind.py)
    # A card offers each, priced; when the first would lose money, a human must choose another.
    remedies = ("snapshot-then-delete", "archive-snapshot-then-delete", "delete")

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        # `available` is the state of a volume with no attachment (an attached one is `in-use`).
        if observation.facts.get("state") == "available":
            return (
                "volume is unattached (state 'available'): it is billed for its size and used by no instance"
            )
        return None

    def busy_reason(self, observation: Observation) -> str:
        return (
            f"volume is no longer unattached (state {observation.facts.get('state')!r}): it is in use again"
        )

    def advise(self, finding: Finding, signals: Signals, now: datetime) -> Advice:
        return _advise_unattached(finding, signals, now)


def _advise_unattached(finding: Finding, s: Signals, now: datetime) -> Advice:
    """Snapshots are insurance, but on cold types (sc1, st1) they cost as much as the volume (net
    saving <= 0), so never recommended there; provisioned IOPS are the expensive part of io1/io2; a
    volume made from a snapshot can usually be made again."""
    facts, cost = finding.facts, finding.cost
    vtype, size = str(facts.get("volume_type") or "unknown-type"), facts.get("size_gib") or 0
    name = str(facts.get("name") or "")
    snapshot_id = facts.get("source_snapshot_id")
    days = idle_days(finding, now)
    where = facts.get("availability_zone") or finding.key.region
    summary = (
        f"Unattached {size} GiB {vtype} volume{f' named {name[:60]!r}' if name else ''} in {where}, "
        f"{idle_text(finding, now)}. It costs {usd(cost.monthly_usd)}/month"
    )
    iops_cost = sum((ln.monthly_usd for ln in cost.lines if "IOPS" in ln.item), Decimal(0))
    if cost.monthly_usd and iops_cost >= cost.monthly_usd * _IOPS_SHARE:
        summary += f", {usd(iops_cost)} of it for {int(facts.get('iops') or 0):,} provisioned IOPS"
    cold = cost.net_monthly_saving_usd <= 0
    if cold:
        summary += (
            f". A snapshot would cost up to {usd(cost.snapshot_monthly_usd)}/month, as much as or more "
            f"than the volume, so keeping one saves nothing: delete it outright or keep it."
        )
    else:
        summary += (
            f"; deleting it after a snapshot saves {usd(cost.net_monthly_saving_usd)}/month net (the "
            f"snapshot costs up to {usd(cost.snapshot_monthly_usd)}/month), "
            f"{usd(cost.monthly_usd)}/month without one."
        )
    if snapshot_id:
        summary += f" It was created from snapshot {snapshot_id}."
    if vtype in {"io1", "io2"}:
        summary += " If the data is needed again, a gp3 volume restored from a snapshot is far cheaper."
    if s.disposable and snapshot_id:
        cause = (
            f"Restored from snapshot {snapshot_id} for a temporary job ({s.disposable}) and never removed."
        )
    elif snapshot_id:
        cause = (
            f"Probably restored from snapshot {snapshot_id} for a one-off task, or left behind when the "
            "instance it served was terminated."
        )
    elif s.disposable:
        cause = f"A temporary or test volume ({s.disposable}) that outlived its experiment."
    else:
        cause = (
            "Most likely left behind when its instance was terminated: data volumes survive termination "
            "unless DeleteOnTermination was set."
        )
    risk: Risk
    recommendation: Recommendation
    if s.keep:
        risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
    elif s.prod:
        risk, reason = "high", f"production resource ({s.prod}): it may hold data someone still relies on"
        recommendation = "investigate"
    elif s.data and not s.disposable:
        risk, reason = "medium", f"may hold database or backup data ({s.data})"
        recommendation = "investigate" if cold else "snapshot_then_delete"
    elif s.disposable or (snapshot_id and not s.data) or days >= 90:
        risk = "low"
        reason = (
            f"looks disposable ({s.disposable})"
            if s.disposable
            else f"can be re-created from snapshot {snapshot_id}"
            if snapshot_id
            else f"unused for {days} days and unclaimed"
        )
        recommendation = "delete" if (cold or s.disposable or snapshot_id) else "snapshot_then_delete"
    else:
        risk, reason = "medium", "nothing says what the data is: it may be the only copy"
        recommendation = "investigate" if cold else "snapshot_then_delete"
    if cold and recommendation == "snapshot_then_delete":  # never pay more for the insurance
        recommendation = "investigate"
    return Advice(summary, cause, risk, clip(reason, 300), recommendation, confidence(s, risk))
