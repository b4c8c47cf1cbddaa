"""What a human sees on Discord: the approval card, the group card, and the decided state of either.

Pure functions from findings to message payloads. Every payload goes through `clamp_message`, so a
long summary, many tags or a huge group are truncated by construction instead of being refused.
The buttons and the ids they carry are services/notifier/card_buttons.py's: the card id is the decision
id of a single card, or the id of a group card whose ledger record lists its decisions.

Every string that is not ours (tags, names, the resource's facts, Gemini's prose, who clicked) goes
through `md`, so Discord shows it verbatim: a tag `owner=**x** <@123>` neither formats nor renders as
a mention (and `allowed_mentions`, set on everything sent, makes sure nobody is pinged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.notifier.card_buttons import Action, buttons
from services.notifier.choices import choices_text, money
from shared.discord_messages import clamp_message, cut, escape_markdown
from shared.events import Analysis, CostEstimate, Finding
from shared.ledger import Decision, State

RISK_COLOURS = {"low": 0x2ECC71, "medium": 0xE67E22, "high": 0xE74C3C}
_RISK_MARK = {"low": "🟢", "medium": "🟠", "high": "🔴"}
_LARGEST = 10


def undo_text(finding: Finding) -> str:
    """How the proposed clean-up is undone, or that it cannot be: said before anyone approves."""
    from shared.errors import UnsupportedResource
    from shared.kinds import check_named, remedies_of
    from shared.kinds.recycle_bin import KNOWN_FACT, undo_phrase

    if finding.cost.withheld:
        return "none: no clean-up is offered"
    try:
        remedies = remedies_of(check_named(finding.kind, finding.check))
    except UnsupportedResource:
        return "unknown to this version"
    if not remedies:
        return "unknown to this version"
    default = finding.cost.choices[0].remedy if finding.cost.choices else remedies[0].name
    undo = next((r.undo for r in remedies if r.name == default), remedies[0].undo)
    if undo is None and KNOWN_FACT in finding.facts:  # a kind that looked up its Recycle Bin rules
        return f"⚠️ none of CloudThrift's own: it {undo_phrase(finding.facts)}"
    if undo is None:
        return "⚠️ none: this clean-up cannot be undone"
    return f"{undo} (`cloudthrift restore` or the Undo button once done)"


def md(text: object) -> str:
    """Untrusted text for a Discord markdown field: shown verbatim."""
    return escape_markdown(text)


def code(text: object) -> str:
    """Untrusted text inside a `code span`, where escapes do not work: it must not close the span."""
    return str(text).replace("`", "'")


def source_label(analysis: Analysis) -> str:
    return "rules (no Gemini)" if analysis.source == "rules" else f"Gemini ({analysis.source})"


def _facts(finding: Finding) -> str:
    lines = [f"{md(name)}: {md(value)}" for name, value in finding.facts.items() if value not in (None, "")]
    return "\n".join(lines) or "-"


def _age(finding: Finding, now: datetime) -> str:
    created = f"{(now - finding.created_at).days} days" if finding.created_at else "unknown"
    return f"created {created} ago; idle since {finding.idle_since:%Y-%m-%d}"


def _net_saving(cost: CostEstimate) -> str:
    """The default's net saving; when it would lose money, said so (never "$-35.00") and why."""
    if cost.withheld:
        return "none: no clean-up is offered (see below)"
    if cost.loses_money:
        return (
            f"none by default: keeping the snapshot ({money(cost.snapshot_monthly_usd)}/month) loses "
            f"{money(-cost.net_monthly_saving_usd)}/month; pick a cheaper choice below"
        )
    kept = f" (snapshot kept: {money(cost.snapshot_monthly_usd)})" if cost.snapshot_monthly_usd else ""
    return f"{money(cost.net_monthly_saving_usd)}/month{kept}"


def single_card(
    finding: Finding, analysis: Analysis, card_id: str, *, now: datetime, snooze_days: int = 30
) -> dict[str, Any]:
    cost = finding.cost
    tags = ", ".join(f"{md(k)}={md(v)}" for k, v in sorted(finding.tags.items())) or "none"
    embed = {
        "title": f"{_RISK_MARK[analysis.risk]} Idle {finding.kind}: {md(finding.key.resource_id)}",
        "description": f"{md(analysis.summary)}\n\n**Likely cause:** {md(analysis.likely_cause)}\n"
        f"**Why idle:** {md(finding.idle_reason)}",
        "color": RISK_COLOURS[analysis.risk],
        "fields": [
            {"name": "Account", "value": finding.key.account_id, "inline": True},
            {"name": "Region", "value": finding.key.region, "inline": True},
            {"name": "Age", "value": _age(finding, now), "inline": True},
            {"name": "Details", "value": _facts(finding), "inline": False},
            {"name": "Monthly cost", "value": money(cost.monthly_usd), "inline": True},
            {
                "name": "Net saving",
                "value": _net_saving(cost),
                "inline": True,
            },
            {"name": "Risk", "value": f"{analysis.risk}: {md(analysis.risk_reason)}", "inline": False},
            {
                "name": "Recommendation",
                "value": f"{md(analysis.recommendation)} (confidence {analysis.confidence:.0%})",
                "inline": True,
            },
            {"name": "Analysis by", "value": source_label(analysis), "inline": True},
            *(
                [{"name": "⛔ No clean-up offered", "value": md(cost.withheld), "inline": False}]
                if cost.withheld
                else []
            ),
            {"name": "Undo", "value": undo_text(finding), "inline": False},
            *([{"name": "Choices", "value": choices_text(cost), "inline": False}] if cost.choices else []),
            {"name": "Tags", "value": tags, "inline": False},
        ],
        "footer": {
            "text": f"Prices: {cost.price_source} ({cost.price_date})"
            + (f". {cost.note}" if cost.note else "")
            + f" · decision {card_id}"
        },
    }
    return clamp_message(
        {
            "embeds": [embed],
            "components": buttons(
                card_id, group=False, snooze_days=snooze_days, pk=finding.key.pk, cost=cost
            ),
        }
    )


def group_card(
    items: Sequence[tuple[Finding, Analysis | None]],
    card_id: str,
    *,
    snooze_days: int = 30,
    apart: Sequence[Finding] = (),
) -> dict[str, Any]:
    """One card for many findings of a scan that share account, region and kind. `apart` are the
    findings of the same window whose default clean-up would lose money or that are offered none
    (`cost.withheld`): not members (Approve all never includes them), listed here, each on its own
    card (with its priced choices, or without any Approve)."""
    first = items[0][0]
    total = sum((f.cost.monthly_usd for f, _ in items), Decimal(0))
    net = sum((f.cost.net_monthly_saving_usd for f, _ in items), Decimal(0))
    risks = [a.risk for _, a in items if a is not None]
    worst = next((r for r in ("high", "medium", "low") if r in risks), "medium")
    largest = sorted(items, key=lambda item: item[0].cost.monthly_usd, reverse=True)[:_LARGEST]
    lines = [
        f"• `{code(f.key.resource_id)}` {money(f.cost.monthly_usd)}/mo"
        + (f", {a.risk} risk: {md(cut(a.summary, 90))}" if a else "")
        for f, a in largest
    ]
    sources = sorted({source_label(a) for _, a in items if a is not None}) or ["none"]
    embed = {
        "title": f"{_RISK_MARK[worst]} {len(items)} idle {first.kind} in {first.key.region} "
        f"({first.key.account_id})",
        "description": f"Scan `{code(first.scan_id)}` found {len(items)} idle {first.kind} resources. "
        f"Approve all to clean them up (each is re-checked before anything is done).\n\n"
        f"**Largest {len(largest)}:**\n" + "\n".join(lines),
        "color": RISK_COLOURS[worst],
        "fields": [
            {"name": "Count", "value": str(len(items)), "inline": True},
            {"name": "Monthly cost", "value": money(total), "inline": True},
            {"name": "Net saving", "value": f"{money(net)}/month", "inline": True},
            {
                "name": "Risk",
                "value": ", ".join(f"{risks.count(r)} {r}" for r in ("high", "medium", "low") if r in risks)
                or "not analysed",
                "inline": True,
            },
            {"name": "Analysis by", "value": ", ".join(sources), "inline": True},
        ],
        "footer": {"text": f"Prices: {first.cost.price_source} ({first.cost.price_date}) · group {card_id}"},
    }
    if apart:
        listed = [
            f"• `{code(f.key.resource_id)}` {md(f.kind)} {money(f.cost.monthly_usd)}/mo: "
            + (
                f"no clean-up offered: {md(cut(f.cost.withheld, 90))}"
                if f.cost.withheld
                else f"its default clean-up loses {money(-f.cost.net_monthly_saving_usd)}/month"
            )
            for f in apart[:_LARGEST]
        ]
        more = f"\n…and {len(apart) - _LARGEST} more" if len(apart) > _LARGEST else ""
        embed["fields"].append(
            {
                "name": f"Not in Approve all: {len(apart)} need their own decision",
                "value": "Each has its own card: with cheaper choices when the safety snapshot would "
                "cost more than the resource saves, without Approve when no clean-up is offered.\n"
                + "\n".join(listed)
                + more,
                "inline": False,
            }
        )
    return clamp_message(
        {"embeds": [embed], "components": buttons(card_id, group=True, snooze_days=snooze_days)}
    )


def status_line(
    action: Action,
    who: str,
    when: datetime,
    *,
    count: int = 1,
    of: int = 1,
    until: datetime | None = None,
    earlier: Mapping[str, int] | None = None,
) -> str:
    """The decided card's first line. On a group card, members decided before this click (one by one
    from the CLI) are named by what happened to them (`1 already rejected`), in a fixed order."""
    verb = {"approve": "✅ Approved", "reject": "❌ Rejected", "snooze": "💤 Snoozed"}[action]
    scope = f" {count} of {of}" if of > 1 else ""
    tail = f" until {until:%Y-%m-%d}" if until else ""
    before = [f"{earlier[state]} already {state}" for state in _EARLIER_ORDER if (earlier or {}).get(state)]
    others = f" ({', '.join(before)})" if before else ""
    return cut(f"{verb}{scope} by {md(who)} at {when:%Y-%m-%d %H:%M} UTC{tail}{others}", 2000)


_EARLIER_ORDER = ("approved", "rejected", "snoozed")
_VERB = {State.REJECTED: "rejected", State.SNOOZED: "snoozed", State.AWAITING_APPROVAL: "undecided"}


def earlier_counts(decisions: Sequence[Decision]) -> dict[str, int]:
    """How decisions taken before a click ended: approved (whatever the executor did since),
    rejected or snoozed."""
    counts: dict[str, int] = {}
    for decision in decisions:
        verb = _VERB.get(decision.state, "approved")
        counts[verb] = counts.get(verb, 0) + 1
    return counts


def with_executor_status(payload: dict[str, Any], status: str | None) -> dict[str, Any]:
    """Say above the card what an approval will do: clean up, rehearse (dry run), or wait for an executor."""
    return payload | {"content": cut(f"Executor: {status}", 2000)} if status else payload
