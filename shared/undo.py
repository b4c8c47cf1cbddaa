"""Undo of an executed clean-up (issue 14): who may ask, what may be undone, and how it is sent.

Two doors lead here, the CLI (`cloudthrift restore DECISION`) and the Undo button of an executed card;
both end in `request_restore`, which refuses plainly and writes nothing, or publishes one
`RestoreRequested` to the executor's queue. The ledger is never written here: the executor's claim
(EXECUTED → RESTORING, conditional) is the one guard, so a second click, a replayed interaction or a
CLI request racing a button finds the decision claimed or restored and changes nothing.

    EXECUTED → RESTORING → RESTORED          (an undo is never undone)
                         ↘ RESTORE_FAILED → RESTORING (asked again)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.events import Approver, RestoreRequested
from shared.kinds import discover
from shared.kinds.base import Kind, Remedy
from shared.ledger import Attr, Decision, Ledger, State
from shared.registry import Registry
from shared.undo_button import UNDO_PREFIX, parse_undo  # the button's format: kept here for callers

# A decision in one of these may be asked to be undone (again, after a failed undo).
UNDOABLE = frozenset({State.EXECUTED, State.RESTORE_FAILED})


class Publisher(Protocol):
    async def publish(self, queue_url: str, payloads: list[RestoreRequested]) -> object: ...


def remedy_of(decision: Decision, registry: Registry[Kind] | None = None) -> Remedy | None:
    """The remedy that did the clean-up, found by the action the ledger recorded (a volume deleted
    without a snapshot was done by `delete`, not `snapshot-then-delete`)."""
    kinds = registry or discover()
    if decision.kind not in kinds:
        return None
    kind = kinds.get(decision.kind)
    action = decision.get(Attr.ACTION)
    for name in kind.remedies.names():
        remedy = kind.remedies.get(name)()
        if remedy.action == action:
            return remedy
    return None


def refusal(decision: Decision | None, registry: Registry[Kind] | None = None) -> str | None:
    """Why this decision cannot be undone now, in one plain line; None when it can."""
    if decision is None:
        return "no such decision in the ledger"
    state = decision.state
    rid = decision.get(Attr.RESOURCE_ID, decision.pk)
    if state is State.RESTORED:
        who = decision.get(Attr.RESTORE_REQUESTED_BY) or "someone"
        return f"{rid} was already restored (undo asked by {who}); an undo is never undone"
    if state is State.RESTORING:
        who = decision.get(Attr.RESTORE_REQUESTED_BY) or "someone"
        return f"an undo of {rid} is already under way (asked by {who})"
    if state not in UNDOABLE:
        return f"decision is {state.value}: only an executed clean-up can be undone"
    if decision.dry_run:
        return "this was a dry run: nothing was changed, so there is nothing to undo"
    remedy = remedy_of(decision, registry)
    if remedy is None:
        return f"no remedy of this version did {decision.get(Attr.ACTION)!r}: it cannot be undone here"
    if remedy.undo is None:
        return f"{remedy.summary!r} has no undo (the card said so before approval)"
    return None


def undo_custom_id(decision: Decision) -> str:
    return UNDO_PREFIX + decision.decision_id


def undo_command(custom_id: str) -> str | None:
    """What the console shows under an Undo button (no Discord bot): the command that does the same."""
    decision_id = parse_undo(custom_id)
    return f"cloudthrift restore {decision_id}" if decision_id else None


def requester_name(approver: Approver) -> str:
    return f"{approver.name} ({approver.via}:{approver.id})"[:256]


@dataclass(frozen=True)
class RestoreAnswer:
    """What a request did: `sent` the event, or `refused` with the reason (nothing written)."""

    decision: Decision | None
    refused: str | None = None

    @property
    def sent(self) -> bool:
        return self.refused is None


async def request_restore(
    ledger: Ledger,
    publisher: Publisher,
    execute_url: str,
    pk: str,
    approver: Approver,
    *,
    now: datetime,
    registry: Registry[Kind] | None = None,
    decision_id: str | None = None,
) -> RestoreAnswer:
    """Check the decision may be undone and send the request to the executor; refuse otherwise.

    `decision_id`: the cycle a card's button was made for; a later cycle of the resource is refused.
    """
    decision = await ledger.get(pk)
    if decision is not None and decision_id is not None and decision.decision_id != decision_id:
        return RestoreAnswer(decision, "this card is about an earlier cycle of the resource")
    why = refusal(decision, registry)
    if why is not None or decision is None:
        return RestoreAnswer(decision, why or "no such decision in the ledger")
    request = RestoreRequested(
        decision_id=decision.decision_id, key=decision.key, requested_by=approver, requested_at=now
    )
    await publisher.publish(execute_url, [request])
    return RestoreAnswer(decision)


async def find_decision(ledger: Ledger, ident: str) -> list[Decision]:
    """Decisions whose id starts with `ident` (or whose ledger key is `ident`), in any state: the CLI
    resolves what the operator typed, and refuses with the state's own reason."""
    found: list[Decision] = []
    for state in State:
        async for item in ledger.by_state(state, attributes=("decision_id",)):
            if str(item.get(Attr.DECISION_ID, "")).startswith(ident) or item.pk == ident:
                found.append(item)
    return found
