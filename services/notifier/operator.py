"""The operator's side of approvals: list what waits, and decide from the terminal like a click.

`cloudthrift approve ID` runs the very code a button runs (`decide`), with the operator recorded as
approver (via "cli"), then edits the Discord card so the channel shows the decision too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.notifier import card_buttons, cards
from services.notifier.decide import CARD_PREFIX, DecideDeps, Outcome, decide
from shared.discord import MessageSink
from shared.events import Approver
from shared.ledger import Decision, Ledger, State


@dataclass(frozen=True)
class Target:
    card_id: str
    only: frozenset[str] | None  # None: the whole card


class UnknownDecision(LookupError):
    """No card and no decision awaiting approval matches the id the operator typed."""


async def pending(ledger: Ledger) -> list[Decision]:
    return [d async for d in ledger.by_state(State.AWAITING_APPROVAL)]


async def resolve(ledger: Ledger, ident: str) -> Target:
    """A card id (decides the whole card), or a decision id, its unique prefix, or its ledger key.

    A whole decision id names its own card's record (one read), so it never lists every decision
    awaiting approval: after an organization's first scan that list is thousands of items, read for one
    id. Only a prefix or a ledger key is looked up among them, reading just the fields it matches on.
    """
    card = await ledger.get(CARD_PREFIX + ident) if len(ident) >= 8 else None
    if card is not None and card.get("group"):
        return Target(ident, None)
    if card is not None and card.get("members"):
        return Target(ident, frozenset(card.get("members", [])))
    waiting = ledger.by_state(State.AWAITING_APPROVAL, attributes=("decision_id", "card_id"))
    matches = [d async for d in waiting if d.decision_id.startswith(ident) or d.pk == ident]
    if len(matches) != 1 or not matches[0].get("card_id"):
        problem = "matches several decisions" if matches else "matches no decision awaiting approval"
        raise UnknownDecision(f"{ident!r} {problem}")
    return Target(str(matches[0].get("card_id")), frozenset({matches[0].pk}))


async def decide_from_cli(
    deps: DecideDeps,
    sink: MessageSink | None,
    ident: str,
    action: card_buttons.Action,
    approver: Approver,
    *,
    now: datetime,
    remedy: str | None = None,
) -> Outcome:
    target = await resolve(deps.ledger, ident)
    outcome = await decide(deps, target.card_id, action, approver, now=now, only=target.only, remedy=remedy)
    whole_card = not outcome.group or target.only is None
    if sink is not None and outcome.decided and whole_card and outcome.message_id and outcome.channel_id:
        status = cards.status_line(
            action,
            f"{approver.name} (CLI)",
            now,
            count=len(outcome.decided),
            of=outcome.total,
            until=outcome.until,
        )
        # A single card's buttons depend on its finding (priced choices, or none offered at all): drawn
        # from it, as the notifier drew them, so the disabled row shows what the card offered.
        cost = None if outcome.group else outcome.decided[0].finding.cost
        rows = card_buttons.buttons(
            target.card_id, group=outcome.group, snooze_days=deps.snooze_days, disabled=True, cost=cost
        )
        await sink.edit_message(
            outcome.channel_id, outcome.message_id, {"content": status, "components": rows}
        )
    return outcome
