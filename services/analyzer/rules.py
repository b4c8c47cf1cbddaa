"""The deterministic analysis: what CloudThrift says when Gemini is absent, failing, or switched off.

Same `Analysis` model as Gemini's, marked `source="rules"`, built only from the finding's facts, so
the same finding on the same day always gets the same text. What an SRE would check about a kind of
waste lives with its check (`Check.advise`, in the kind's module under shared/kinds/); a check with no
rules of its own gets the generic analysis. Names and tags are read the same way for every kind
(shared/kinds/signals.py): env=prod raises the risk, tmp/scratch/test lower it, do-not-delete means keep.
"""

from __future__ import annotations

from datetime import datetime

from shared.errors import UnsupportedResource
from shared.events import Analysis, Finding, Risk
from shared.kinds import check_named
from shared.kinds.advice import Advice, clip, generic
from shared.kinds.signals import read_signals

RULES = "rules"
RISK_ORDER: dict[Risk, int] = {"low": 0, "medium": 1, "high": 2}


def rules_analysis(finding: Finding, now: datetime) -> Analysis:
    signals = read_signals(finding)
    advice: Advice | None = None
    try:
        advice = check_named(finding.kind, finding.check).advise(finding, signals, now)
    except UnsupportedResource:  # a kind this version does not know: still explained, generically
        advice = None
    advice = advice or generic(finding, signals, now)
    reason = advice.risk_reason
    if signals.instruction_like:
        reason = "a tag contains instruction-like text (check who wrote it); " + reason
    analysis = Analysis(
        summary=clip(advice.summary, 700),
        likely_cause=clip(advice.likely_cause, 300),
        risk=advice.risk,
        risk_reason=clip(reason, 300),
        recommendation=advice.recommendation,
        confidence=advice.confidence,
        source=RULES,
    )
    return within_offer(analysis, finding)


def within_offer(analysis: Analysis, finding: Finding) -> Analysis:
    """A finding offered no clean-up (`cost.withheld`: deletion protection) is never recommended for
    deletion, whatever the model wrote: the card offers no deletion to recommend."""
    if finding.cost.withheld and analysis.recommendation in ("delete", "snapshot_then_delete"):
        return analysis.model_copy(update={"recommendation": "keep"})
    return analysis


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
