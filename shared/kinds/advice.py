"""The pieces every check's rule-based analysis is made of (services/analyzer/rules.py assembles them).

A check's `advise` returns an `Advice`; the analyzer turns it into the `Analysis` a card shows, marked
`source="rules"`. These helpers keep every kind's text in the same voice: money as `$1,234.56`, ages in
days, fields cut at a word boundary, and a confidence that says rules are never very sure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shared.events import Finding, Recommendation, Risk
from shared.kinds.signals import Signals


@dataclass(frozen=True)
class Advice:
    summary: str
    likely_cause: str
    risk: Risk
    risk_reason: str
    recommendation: Recommendation
    confidence: float


def usd(value: Decimal) -> str:
    return f"${value:,.2f}"


def clip(text: str, limit: int) -> str:
    """Fit a text field, cutting at a word boundary with an ellipsis rather than mid-word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def idle_days(finding: Finding, now: datetime) -> int:
    return max(0, (now - finding.idle_since).days)


def idle_text(finding: Finding, now: datetime) -> str:
    days = idle_days(finding, now)
    text = f"idle since {finding.idle_since.date().isoformat()} ({days} day{'s' if days != 1 else ''})"
    if finding.created_at is not None:
        text += f", created {max(0, (now - finding.created_at).days)} days ago"
    return text


def confidence(s: Signals, risk: Risk) -> float:
    """Rules are never very sure; contradicting signals (prod and scratch) make them less so."""
    clues = sum(bool(x) for x in (s.prod, s.disposable, s.data, s.keep, s.referenced))
    value = 0.5 + 0.1 * min(clues, 2)
    if s.prod and s.disposable:
        value = 0.4
    if risk == "medium" and clues == 0:
        value = 0.45
    return round(value, 2)


def generic(finding: Finding, s: Signals, now: datetime) -> Advice:
    """For a check with no rules of its own: the facts the finding carries, and the tags' signals."""
    summary = (
        f"Idle {finding.kind} in {finding.key.region}, {idle_text(finding, now)}: {finding.idle_reason}. "
        f"It costs {usd(finding.cost.monthly_usd)}/month; cleaning it up saves "
        f"{usd(finding.cost.net_monthly_saving_usd)}/month net."
    )
    risk: Risk = "high" if (s.prod or s.keep) else "low" if s.disposable else "medium"
    reason = s.keep or s.prod or s.disposable or "CloudThrift has no specific rules for this check yet"
    recommendation: Recommendation = "keep" if s.keep else "delete" if risk == "low" else "investigate"
    return Advice(summary, finding.idle_reason, risk, reason, recommendation, confidence(s, risk))
