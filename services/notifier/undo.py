"""The Undo button of an executed card: the click's side of shared/undo.py.

Reached only after the endpoint checked the signature and that the clicker is an approver (http.py,
exactly as for Approve). The card record of a single card is named after its decision and lists its
ledger key; the request is checked and sent by `request_restore`, which writes nothing: the executor's
conditional claim (EXECUTED → RESTORING) makes a double click or a replayed interaction change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from services.notifier.decide import CARD_PREFIX, DecideDeps
from shared.discord_messages import escape_markdown
from shared.events import Approver
from shared.ledger import Attr
from shared.undo import request_restore

log = structlog.get_logger("cloudthrift.notifier.undo")


@dataclass(frozen=True)
class UndoClick:
    """What the clicker is told: `status` replaces the card's first line when the undo was sent;
    `refused` is an ephemeral reply otherwise (and nothing was written or sent). `channel_id` and
    `message_id` name the card's message, for the bot to edit it after a deferred click."""

    status: str | None = None
    refused: str | None = None
    channel_id: str | None = None
    message_id: str | None = None


async def undo_click(deps: DecideDeps, decision_id: str, approver: Approver, *, now: datetime) -> UndoClick:
    card = await deps.ledger.get(CARD_PREFIX + decision_id)
    members = list(card.get("members") or []) if card is not None else []
    if card is None or card.get("group") or len(members) != 1:
        return UndoClick(refused="This card is unknown to CloudThrift (was the ledger reset?).")
    answer = await request_restore(
        deps.ledger,
        deps.publisher,
        deps.execute_url,
        str(members[0]),
        approver,
        now=now,
        decision_id=decision_id,
    )
    log.info("decision.undo_clicked", decision_id=decision_id, approver=approver.name, refused=answer.refused)
    if answer.refused is not None:
        return UndoClick(refused=f"Cannot undo: {answer.refused}.")
    who = escape_markdown(approver.name)
    return UndoClick(
        status=f"↩️ Undo requested by {who} at {now:%Y-%m-%d %H:%M} UTC: the executor restores it and "
        "updates this card.",
        channel_id=card.get(Attr.CHANNEL_ID),
        message_id=card.get(Attr.MESSAGE_ID),
    )
