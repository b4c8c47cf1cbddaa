"""The deterministic analysis: what CloudThrift says when Gemini is absent, failing, or switched off.

Same `Analysis` model as Gemini's, marked `source="rules"`, built only from the finding's facts, so
the same finding on the same day always gets the same text. The rules encode what an SRE would check:

- volumes: a snapshot is insurance, but on cold types (sc1, st1) it costs more per month than the
  volume itself (net saving <= 0), so it is never recommended there; provisioned IOPS (io1/io2) are
  the expensive part of a volume; a volume made from a snapshot can usually be made again;
- Elastic IPs: a released address is gone for good (allow-lists, DNS), so the risk is never low
  unless the address is plainly disposable;
- names and tags: env=prod raises the risk, tmp/scratch/test lower it, do-not-delete means keep.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from services.analyzer.signals import Signals, read_signals
from shared.events import Analysis, Finding, Recommendation, Risk

RULES = "rules"
RISK_ORDER: dict[Risk, int] = {"low": 0, "medium": 1, "high": 2}
_IOPS_SHARE = Decimal("0.3")


def usd(value: Decimal) -> str:
    return f"${value:,.2f}"


def clip(text: str, limit: int) -> str:
    """Fit a text field, cutting at a word boundary with an ellipsis rather than mid-word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def rules_analysis(finding: Finding, now: datetime) -> Analysis:
    signals = read_signals(finding)
    if finding.kind == "ebs-volume":
        parts = _volume(finding, signals, now)
    elif finding.kind == "elastic-ip":
        parts = _address(finding, signals, now)
    else:
        parts = _generic(finding, signals, now)
    summary, cause, risk, reason, recommendation, confidence = parts
    if signals.instruction_like:
        reason = "a tag contains instruction-like text (check who wrote it); " + reason
    return Analysis(
        summary=clip(summary, 700),
        likely_cause=clip(cause, 300),
        risk=risk,
        risk_reason=clip(reason, 300),
        recommendation=recommendation,
        confidence=confidence,
        source=RULES,
    )


Parts = tuple[str, str, Risk, str, Recommendation, float]


def _idle_text(finding: Finding, now: datetime) -> str:
    days = max(0, (now - finding.idle_since).days)
    text = f"idle since {finding.idle_since.date().isoformat()} ({days} day{'s' if days != 1 else ''})"
    if finding.created_at is not None:
        text += f", created {max(0, (now - finding.created_at).days)} days ago"
    return text


def _volume(finding: Finding, s: Signals, now: datetime) -> Parts:
    facts, cost = finding.facts, finding.cost
    vtype = str(facts.get("volume_type") or "unknown-type")
    size = facts.get("size_gib") or 0
    name = str(facts.get("name") or "")
    snapshot_id = facts.get("source_snapshot_id")
    idle_days = max(0, (now - finding.idle_since).days)
    where = facts.get("availability_zone") or finding.key.region
    summary = (
        f"Unattached {size} GiB {vtype} volume{f' named {name[:60]!r}' if name else ''} in {where}, "
        f"{_idle_text(finding, now)}. It costs {usd(cost.monthly_usd)}/month"
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
    elif s.disposable or (snapshot_id and not s.data) or idle_days >= 90:
        risk = "low"
        reason = (
            f"looks disposable ({s.disposable})"
            if s.disposable
            else f"can be re-created from snapshot {snapshot_id}"
            if snapshot_id
            else f"unused for {idle_days} days and unclaimed"
        )
        recommendation = "delete" if (cold or s.disposable or snapshot_id) else "snapshot_then_delete"
    else:
        risk, reason = "medium", "nothing says what the data is: it may be the only copy"
        recommendation = "investigate" if cold else "snapshot_then_delete"
    if cold and recommendation == "snapshot_then_delete":  # never pay more for the insurance
        recommendation = "investigate"
    confidence = _confidence(s, risk)
    return summary, cause, risk, reason, recommendation, confidence


def _address(finding: Finding, s: Signals, now: datetime) -> Parts:
    name = str(finding.facts.get("name") or "")
    summary = (
        f"Elastic IP{f' named {name[:60]!r}' if name else ''} in {finding.key.region}, associated with "
        f"nothing, {_idle_text(finding, now)}. Public IPv4 addresses are billed hourly, "
        f"{usd(finding.cost.monthly_usd)}/month; releasing it saves all of it. A released address cannot "
        "be recovered."
    )
    cause = (
        "Allocated for an instance, NAT gateway or load balancer that was later removed; an address stays "
        "allocated (and billed) until someone releases it."
    )
    idle_days = max(0, (now - finding.idle_since).days)
    risk: Risk
    recommendation: Recommendation
    if s.keep:
        risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
    elif s.prod or s.referenced:
        signal = s.prod or s.referenced
        risk = "high"
        reason = f"{signal}: the address may be on a partner allow-list or in DNS, and cannot be recovered"
        recommendation = "investigate"
    elif s.disposable:
        risk, reason, recommendation = "low", f"looks disposable ({s.disposable})", "delete"
    else:
        risk = "medium"
        reason = "a released address is gone for good: check DNS records and allow-lists first"
        recommendation = "delete" if idle_days >= 30 else "investigate"
    return summary, cause, risk, reason, recommendation, _confidence(s, risk)


def _generic(finding: Finding, s: Signals, now: datetime) -> Parts:
    summary = (
        f"Idle {finding.kind} in {finding.key.region}, {_idle_text(finding, now)}: {finding.idle_reason}. "
        f"It costs {usd(finding.cost.monthly_usd)}/month; deleting it saves "
        f"{usd(finding.cost.net_monthly_saving_usd)}/month net."
    )
    risk: Risk = "high" if (s.prod or s.keep) else "low" if s.disposable else "medium"
    reason = s.keep or s.prod or s.disposable or "CloudThrift has no specific rules for this kind yet"
    recommendation: Recommendation = "keep" if s.keep else "delete" if risk == "low" else "investigate"
    return summary, finding.idle_reason, risk, reason, recommendation, _confidence(s, risk)


def _confidence(s: Signals, risk: Risk) -> float:
    """Rules are never very sure; contradicting signals (prod and scratch) make them less so."""
    clues = sum(bool(x) for x in (s.prod, s.disposable, s.data, s.keep, s.referenced))
    confidence = 0.5 + 0.1 * min(clues, 2)
    if s.prod and s.disposable:
        confidence = 0.4
    if risk == "medium" and clues == 0:
        confidence = 0.45
    return round(confidence, 2)


def raise_to_floor(analysis: Analysis, floor: Analysis) -> Analysis:
    """Keep a model's analysis, but never with a lower risk than the rules see in the same facts.

    This is the last guard against a persuasive tag: whatever the text made the model believe, a
    production or never-recoverable resource stays at the risk the facts alone give it.
    """
    if RISK_ORDER[analysis.risk] >= RISK_ORDER[floor.risk]:
        return analysis
    update: dict[str, object] = {"risk": floor.risk, "risk_reason": clip(f"{floor.risk_reason}.", 300)}
    if floor.recommendation in ("keep", "investigate") and analysis.recommendation in (
        "delete",
        "snapshot_then_delete",
    ):
        update["recommendation"] = floor.recommendation
    return analysis.model_copy(update=update)
