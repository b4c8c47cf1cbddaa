"""What a click on Approve / Reject / Snooze does, shared by the Discord endpoint and the CLI.

One conditional ledger transition per decision (AWAITING_APPROVAL → APPROVED | REJECTED | SNOOZED) is
the whole guard: a double click, two approvers at once, or a CLI approval racing a button all end with
exactly one winner, and only the winner publishes ApprovalGranted. The loser is told who decided.

A click costs three AWS calls: read the card record, one conditional UpdateItem per decision (its
result carries the item, so nothing is read twice), one SendMessageBatch. An approval is published
after its transition; should publishing fail, the decision is APPROVED with no event on the queue. The
executor's sweep (services/executor/sweep.py) publishes it again once the approval is older than
`DecideDeps.recover_after` (CLOUDTHRIFT_APPROVAL_RECOVER_SECONDS) and still APPROVED (the executor
never claimed it); a later click on that card does the same with the same threshold. The event id is
deterministic and the executor claims conditionally, so a repeat is harmless, and a double click
within that time publishes nothing. The event is built and sent by shared/grants.py for both.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from services.notifier.card_buttons import Action
from shared.events import ApprovalGranted, Approver, DecisionKey
from shared.grants import (
    RECOVER_AFTER,
    GrantPublisher,
    grant_for,
    is_lost,
    mark_redriven,
    publish_grants,
    redrive_due,
)
from shared.ledger import Attr, Decision, Ledger, State
from shared.telemetry.metrics import Metrics, NullMetrics, record_approval, record_republished
from shared.telemetry.tracing import Tracing

log = structlog.get_logger("cloudthrift.notifier.decide")

TARGET = {"approve": State.APPROVED, "reject": State.REJECTED, "snooze": State.SNOOZED}
CARD_PREFIX = "card#"
_PARALLEL = 16


@dataclass(frozen=True)
class DecideDeps:
    ledger: Ledger
    publisher: GrantPublisher
    execute_url: str
    snooze_days: int = 30
    metrics: Metrics = field(default_factory=NullMetrics)
    # The interactions stage's tracer: each approval continues the trace stored with its decision.
    tracing: Tracing | None = None
    # An approval still APPROVED this long after it was given has lost its event: the executor's sweep
    # uses the same setting (CLOUDTHRIFT_APPROVAL_RECOVER_SECONDS), so there is one notion of "lost".
    recover_after: timedelta = RECOVER_AFTER


@dataclass
class Outcome:
    """What one click did. `found` is False when the card is unknown to the ledger."""

    action: Action
    found: bool = True
    decided: list[Decision] = field(default_factory=list)  # moved by this click
    earlier: list[Decision] = field(default_factory=list)  # already decided by someone else
    # Left waiting: "approve" without a chosen remedy, whose default clean-up would lose money.
    needs_choice: list[Decision] = field(default_factory=list)
    # Left waiting: "approve" of a decision offered no clean-up at all (`CostEstimate.withheld`).
    withheld: list[Decision] = field(default_factory=list)
    published: int = 0
    channel_id: str | None = None
    message_id: str | None = None
    group: bool = False
    until: datetime | None = None

    @property
    def total(self) -> int:
        return len(self.decided) + len(self.earlier)


async def decide(
    deps: DecideDeps,
    card_id: str,
    action: Action,
    approver: Approver,
    *,
    now: datetime,
    only: frozenset[str] | None = None,
    pk: str | None = None,
    remedy: str | None = None,
) -> Outcome:
    """Decide every decision of a card (or, with `only`, some of them: the CLI names one decision).

    A single card's button carries its decision's key (`pk`): then the card record is not read.
    An approval names the `remedy` the human chose (recorded for the executor to run), or none: then
    a decision whose default clean-up would lose money is not approved (`needs_choice`), so neither
    Approve all nor a bare `cloudthrift approve` ever runs a money-losing clean-up.
    """
    outcome = Outcome(action=action)
    if pk is not None and DecisionKey.is_legacy_pk(pk):  # a card posted before keys named the check
        pk = DecisionKey.from_legacy_pk(pk).pk
    if pk is not None:
        members = [(pk, card_id)]
    else:
        card = await deps.ledger.get(CARD_PREFIX + card_id)
        if card is None:
            outcome.found = False
            return outcome
        outcome.channel_id, outcome.message_id = card.get(Attr.CHANNEL_ID), card.get(Attr.MESSAGE_ID)
        outcome.group = bool(card.get("group"))
        members = [
            (member, decision_id)
            for member, decision_id in zip(card.get("members", []), card.get("decision_ids", []), strict=True)
            if only is None or member in only
        ]
    fields: dict[str, Any] = {"approver": approver, "decided_by": approver.name, "decided_at": now}
    if action == "approve":
        fields["approved_at"] = now
        if remedy:
            fields[Attr.REMEDY] = remedy
    if action == "snooze":
        outcome.until = now + timedelta(days=deps.snooze_days)
        fields["snoozed_until"] = outcome.until
    gate = asyncio.Semaphore(_PARALLEL)

    async def move(key: str, decision_id: str) -> tuple[bool, Decision | None]:
        async with gate:
            result = await deps.ledger.transition(
                key,
                State.AWAITING_APPROVAL,
                TARGET[action],
                fields=fields,
                actor=f"{approver.via}:{approver.name}",
                note=f"remedy chosen: {remedy}" if remedy and action == "approve" else None,
                now=now,
                expected_decision_id=decision_id,
                unless_loses_money=action == "approve" and not remedy,
                unless_withheld=action == "approve",
            )
        return result.applied, result.current

    moves = await asyncio.gather(*(move(key, decision_id) for key, decision_id in members))
    for (_, decision_id), (applied, current) in zip(members, moves, strict=True):
        if applied and current is not None:
            outcome.decided.append(current)
        elif (
            current is not None
            and current.decision_id == decision_id
            and current.state is State.AWAITING_APPROVAL
            and action == "approve"
        ):
            refused = outcome.withheld if current.get(Attr.WITHHELD) else outcome.needs_choice
            refused.append(current)
        elif current is not None and current.decision_id == decision_id:
            outcome.earlier.append(current)
        # else: the resource started a new cycle since the card was posted; this card no longer decides it
    if pk is not None:
        outcome.found = bool(
            outcome.decided
            or outcome.earlier
            or outcome.needs_choice
            or outcome.withheld
            or moves[0][1] is not None
        )
        current = moves[0][1]
        if current is not None:
            outcome.channel_id, outcome.message_id = (
                current.get(Attr.CHANNEL_ID),
                current.get(Attr.MESSAGE_ID),
            )
    if outcome.group and only is not None and action != "approve" and outcome.decided:
        await _tally_set_aside(deps.ledger, card_id, action, outcome.decided)
    for decided in outcome.decided:
        record_approval(
            deps.metrics, TARGET[action].value.lower(), via=approver.via, kind=decided.get("kind", "")
        )
    grants = [grant_for(d, approver, now) for d in outcome.decided if action == "approve"]
    lost = await _lost_grants(deps, outcome.earlier, now)
    grants += lost
    if grants:
        await _publish(deps, grants, {d.decision_id: d for d in outcome.decided + outcome.earlier})
        outcome.published = len(grants)
        for grant in lost:
            record_republished(deps.metrics, by="click", kind=grant.finding.kind)
    log.info(
        "decision.clicked",
        card_id=card_id,
        action=action,
        approver=approver.name,
        decided=len(outcome.decided),
        earlier=len(outcome.earlier),
        needs_choice=len(outcome.needs_choice),
        withheld=len(outcome.withheld),
        published=outcome.published,
    )
    return outcome


async def _tally_set_aside(ledger: Ledger, card_id: str, action: Action, decided: list[Decision]) -> None:
    """Members of a group card rejected or snoozed one by one never reach the executor: count them on the
    card record (services/executor/group_card.py) so its progress line shows them finished, not pending.
    A set keyed by member, so a repeated click counts once."""
    name = "tally_rejected" if action == "reject" else "tally_snoozed"
    await ledger.update_if(
        CARD_PREFIX + card_id,
        update="ADD #set :members",
        condition="attribute_exists(pk)",
        names={"#set": name},
        values={":members": {d.pk for d in decided}},
    )


async def _publish(deps: DecideDeps, grants: list[ApprovalGranted], decisions: dict[str, Decision]) -> None:
    """Publish the approvals; with tracing on, each inside a span that continues its finding's trace,
    so the click and the execution join the trace that started with the scan."""

    def announce(grant: ApprovalGranted) -> None:
        log.info("decision.approved", pk=grant.key.pk, decision_id=grant.decision_id)

    await publish_grants(
        deps.publisher,
        deps.execute_url,
        grants,
        decisions,
        tracing=deps.tracing,
        span="interactions.click",
        resource="approve",
        announce=announce,
    )


async def _lost_grants(deps: DecideDeps, earlier: list[Decision], now: datetime) -> list[ApprovalGranted]:
    """Approvals the executor never claimed, long after they were given: their event was lost.

    Recorded as a re-drive like the sweep's (shared/grants.py), so clicks and sweeps together send a
    lost approval at most once per recovery window."""
    lost = []
    for decision in earlier:
        if not (
            is_lost(decision, now, deps.recover_after) and redrive_due(decision, now, deps.recover_after)
        ):
            continue
        if await mark_redriven(deps.ledger, decision, now):
            log.warning("decision.grant_republished", decision_id=decision.decision_id)
            lost.append(grant_for(decision))
    return lost


def needs_choice_summary(outcome: Outcome) -> str:
    """Why an approval did nothing: the default clean-up would lose money, so a remedy must be chosen."""
    pks = ", ".join(d.key.resource_id for d in outcome.needs_choice[:5])
    return (
        f"Not approved: the default clean-up of {pks} would cost more than it saves (its safety snapshot "
        f"costs more than the resource). Choose a remedy on its card, or `--remedy` on the CLI."
    )


def withheld_summary(outcome: Outcome) -> str:
    """Why an approval did nothing: no clean-up is offered for it (deletion protection), and why."""
    first = outcome.withheld[0]
    others = f" (and {len(outcome.withheld) - 1} more)" if len(outcome.withheld) > 1 else ""
    reason = first.finding.cost.withheld or first.get(Attr.WITHHELD)
    return f"Not approved: {first.key.resource_id}{others} is offered no clean-up: {reason}"


def refusal_summary(outcome: Outcome) -> str:
    """Why a click or a CLI approval decided nothing."""
    if outcome.withheld:
        return withheld_summary(outcome)
    return needs_choice_summary(outcome) if outcome.needs_choice else earlier_summary(outcome)


def earlier_summary(outcome: Outcome) -> str:
    """'already approved by X at T' for the clicker who lost the race."""
    if not outcome.earlier:
        return "Nothing to decide on this card."
    first = outcome.earlier[0]
    verb = {
        State.APPROVED: "approved",
        State.EXECUTING: "approved",
        State.EXECUTED: "approved",
        State.SKIPPED: "approved",
        State.FAILED: "approved",
        State.REJECTED: "rejected",
        State.SNOOZED: "snoozed",
    }.get(first.state, first.state.value.lower())
    who = first.get(Attr.DECIDED_BY) or "someone"
    when = first.time(Attr.DECIDED_AT)
    text = f"Already {verb} by {who}" + (f" at {when:%Y-%m-%d %H:%M} UTC" if when else "")
    if first.state is State.SNOOZED and first.time(Attr.SNOOZED_UNTIL):
        text += f" (until {first.time('snoozed_until'):%Y-%m-%d})"
    return text + ("." if outcome.total == 1 else f" ({len(outcome.earlier)} of {outcome.total} decisions).")
