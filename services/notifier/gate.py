"""The light half of Discord's interactions: what checks a request and answers it without AWS.

The body size, the Ed25519 signature (`signature_ok`), the strict parse (`parse_interaction`), who
clicked (`pressed`, `undo_pressed`, `clicker`), and a click put aside for later (`defer`). A cold
Lambda answers a click with this alone within Discord's 3 seconds (services/serverless/interactions.py),
so it imports nothing that opens or speaks to the ledger: deciding is services/notifier/interactions.py,
imported once the container has time for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import structlog
from multidict import CIMultiDict
from nacl.signing import VerifyKey

from services.notifier import card_buttons
from services.notifier.inbound import Click, Ping, parse_interaction, signature_ok
from services.notifier.refusals import Refusals
from shared.discord_messages import EPHEMERAL, NO_MENTIONS, escape_markdown, printable
from shared.events import Approver

log = structlog.get_logger("cloudthrift.notifier.http")

PONG, CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 6, 7


class Gate(Protocol):
    """What checks a request before anything acts on it (needs no AWS client)."""

    verify_key: VerifyKey | None
    max_age: int
    approver_ids: frozenset[str]
    approver_roles: frozenset[str]
    refusals: Refusals


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Deferral:
    """Where a click goes when it is answered before it is decided: `enqueue(body, received_at)`."""

    enqueue: Callable[[bytes, datetime], Awaitable[None]]
    at_once: bool = False  # True: do not even try within the budget (a cold start spent it)


@dataclass(frozen=True)
class Pressed:
    """A click by an allowed approver on a CloudThrift button."""

    card_id: str
    action: card_buttons.Action
    pk: str | None
    approver: Approver
    rows: list[dict[str, Any]]
    now: datetime
    remedy: str | None = None  # an approval of one of the card's priced choices


@dataclass(frozen=True)
class UndoPressed:
    """An Undo click by an allowed approver (shared/undo_button.py): `card_id` is the decision's id,
    which names the card record of its single card."""

    card_id: str
    approver: Approver
    now: datetime
    action: Literal["undo"] = "undo"


OnClick = Callable[[Click, bytes], Awaitable[dict[str, Any]]]


async def answer_interaction(
    gate: Gate, headers: Mapping[str, str], body: bytes, on_click: OnClick, *, remote: str | None = None
) -> Answer:
    """The status and JSON answer to one request; refusals are counted in `gate.refusals`."""
    if len(body) > gate.refusals.max_body:
        return _refuse(gate, 413, "too_large", f"body larger than {gate.refusals.max_body} bytes")
    # Header names are case-insensitive (a function URL lowercases them, aiohttp keeps them as sent).
    if not signature_ok(gate.verify_key, CIMultiDict(headers), body, gate.max_age):
        return _refuse(gate, 401, "bad_signature", "invalid request signature", remote=remote)
    interaction = parse_interaction(body)
    if isinstance(interaction, str):
        # Signed by Discord yet not what we expect: a format change or a kind we do not handle.
        return _refuse(gate, 400, "bad_interaction", "unsupported interaction", problem=interaction)
    if isinstance(interaction, Ping):
        return Answer(200, {"type": PONG})
    return Answer(200, await on_click(interaction, body))


def _refuse(gate: Gate, status: int, reason: str, message: str, **fields: object) -> Answer:
    gate.refusals.note(reason, status=status, **fields)
    return Answer(status, {"error": message})


def ephemeral(text: str) -> dict[str, Any]:
    """A reply only the clicker sees. The text may quote a name: escaped, and it pings nobody."""
    data = {"content": escape_markdown(text), "flags": EPHEMERAL, "allowed_mentions": NO_MENTIONS}
    return {"type": CHANNEL_MESSAGE, "data": data}


def pressed(gate: Gate, interaction: Click, now: datetime) -> Pressed | dict[str, Any]:
    """The click, or the ephemeral answer refusing it (unknown button, clicker not allowed)."""
    button = card_buttons.parse_custom_id(interaction.data.custom_id)
    if button is None:
        return ephemeral("This button is not one CloudThrift knows.")
    approver = clicker(gate, interaction, button.action, button.card_id)
    if isinstance(approver, dict):
        return approver
    rows = interaction.rows() or card_buttons.buttons(button.card_id, group=False)
    return Pressed(button.card_id, button.action, button.pk, approver, rows, now, button.remedy)


def undo_pressed(
    gate: Gate, interaction: Click, decision_id: str, now: datetime
) -> UndoPressed | dict[str, Any]:
    """An Undo click, approver-only like Approve; else the ephemeral refusal (warm, cold and queued alike)."""
    approver = clicker(gate, interaction, "undo", decision_id)
    if isinstance(approver, dict):
        return approver
    return UndoPressed(decision_id, approver, now)


def clicker(gate: Gate, interaction: Click, action: str, card_id: str) -> Approver | dict[str, Any]:
    """Who clicked, when a configured approver (by id or role); else the ephemeral refusal."""
    user, roles = interaction.clicker, interaction.roles
    if user is None or (user.id not in gate.approver_ids and gate.approver_roles.isdisjoint(roles)):
        user_id = user.id if user else ""
        log.warning("interactions.not_allowed", user_id=user_id, action=action, card_id=printable(card_id))
        return ephemeral("You are not allowed to decide on CloudThrift cards.")
    name = (user.global_name or user.username or "").strip() or user.id
    return Approver(id=user.id, name=name[:128], via="discord")


async def defer(deferral: Deferral, body: bytes, press: Pressed | UndoPressed) -> dict[str, Any]:
    """Queue the click and acknowledge it (type 6); the queue's consumer decides it (followup.py)."""
    try:
        await deferral.enqueue(body, press.now)
    except Exception as exc:
        log.error("interactions.defer_failed", error=printable(f"{type(exc).__name__}: {exc}"))
        return ephemeral("CloudThrift could not finish recording this click; please click again in a minute.")
    log.info("interactions.click_deferred", card_id=printable(press.card_id), action=press.action)
    return {"type": DEFERRED_UPDATE}
