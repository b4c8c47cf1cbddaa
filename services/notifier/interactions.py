"""Discord's interactions, whatever carries them: the aiohttp endpoint (services/notifier/http.py) and
the Lambda function URL (services/serverless/interactions.py) both call `answer_interaction`.

Gates, in this order: the body size, the Ed25519 signature (`signature_ok`), the strict parse
(`parse_interaction`), then the click itself. A click does one conditional ledger write per decision
and, on approval, one SendMessage, then answers UPDATE_MESSAGE with the buttons disabled.

Discord wants an answer within 3 seconds. When the decision cannot be made in time (AWS slow, or a cold
Lambda whose start-up already spent the budget), the click is answered DEFERRED_UPDATE_MESSAGE and
finished elsewhere: in the background on a long-running server, or, where nothing may run after the
answer (Lambda), through a queue (`Deferral`: a `ClickReceived` event that `finish_click` handles).
The ledger transition is conditional, so however often a click is finished it is recorded once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from multidict import CIMultiDict
from nacl.signing import VerifyKey

from services.notifier import cards
from services.notifier.decide import DecideDeps, Outcome, decide, refusal_summary
from services.notifier.inbound import Click, Ping, parse_interaction, signature_ok
from services.notifier.refusals import BODY_TIMEOUT, Refusals
from services.notifier.undo import undo_click
from shared.config import Settings
from shared.discord_messages import EPHEMERAL, NO_MENTIONS, disabled_components, escape_markdown, printable
from shared.events import Approver, utcnow
from shared.undo import parse_undo
from shared.worker import Runtime

if TYPE_CHECKING:  # the bot client (aiohttp) is imported by whoever opens it
    from shared.discord import MessageSink

log = structlog.get_logger("cloudthrift.notifier.http")

PONG, CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 6, 7
BACKGROUND: set[asyncio.Future[Any]] = set()  # slow clicks still being recorded (kept referenced)


class Gate(Protocol):
    """What checks a request before anything acts on it (needs no AWS client)."""

    verify_key: VerifyKey | None
    max_age: int
    approver_ids: frozenset[str]
    approver_roles: frozenset[str]
    refusals: Refusals


@dataclass(frozen=True)
class Endpoint:
    """Everything a click needs, built once (services/notifier/http.py `build_endpoint`)."""

    runtime: Runtime
    verify_key: VerifyKey | None
    approver_ids: frozenset[str]
    approver_roles: frozenset[str]
    max_age: int
    decide: DecideDeps
    refusals: Refusals  # body limits, and the rate-limited log of refused requests
    scan_token: str | None = None
    sink: MessageSink | None = None  # the bot, to edit a card after a slow click
    click_budget: float = 2.0  # seconds: answer well before Discord's 3-second deadline (network included)


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
    action: cards.Action
    pk: str | None
    approver: Approver
    rows: list[dict[str, Any]]
    now: datetime
    remedy: str | None = None  # an approval of one of the card's priced choices


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
    button = cards.parse_custom_id(interaction.data.custom_id)
    if button is None:
        return ephemeral("This button is not one CloudThrift knows.")
    approver = clicker(gate, interaction, button.action, button.card_id)
    if isinstance(approver, dict):
        return approver
    rows = interaction.rows() or cards.buttons(button.card_id, group=False)
    return Pressed(button.card_id, button.action, button.pk, approver, rows, now, button.remedy)


def clicker(gate: Gate, interaction: Click, action: str, card_id: str) -> Approver | dict[str, Any]:
    """Who clicked, when a configured approver (by id or role); else the ephemeral refusal."""
    user, roles = interaction.clicker, interaction.roles
    if user is None or (user.id not in gate.approver_ids and gate.approver_roles.isdisjoint(roles)):
        user_id = user.id if user else ""
        log.warning("interactions.not_allowed", user_id=user_id, action=action, card_id=printable(card_id))
        return ephemeral("You are not allowed to decide on CloudThrift cards.")
    name = (user.global_name or user.username or "").strip() or user.id
    return Approver(id=user.id, name=name[:128], via="discord")


async def undo(endpoint: Endpoint, interaction: Click, decision_id: str) -> dict[str, Any]:
    """An Undo click, approver-only like Approve: the request is sent (the card's button greyed out)
    or refused to the clicker alone. Nothing is written here: the executor's conditional claim makes
    a double click or a replayed interaction change nothing."""
    approver = clicker(endpoint, interaction, "undo", decision_id)
    if isinstance(approver, dict):
        return approver
    try:
        answer = await undo_click(endpoint.decide, decision_id, approver, now=utcnow())
    except Exception as exc:  # nothing was written: the click is safe to repeat
        log.error("interactions.undo_failed", error=printable(f"{type(exc).__name__}: {exc}"))
        return ephemeral("CloudThrift could not send this undo; please click again in a minute.")
    if answer.status is None:
        return ephemeral(answer.refused or "Nothing to undo.")
    data = {
        "content": answer.status,
        "components": disabled_components(interaction.rows()),
        "allowed_mentions": NO_MENTIONS,
    }
    return {"type": UPDATE_MESSAGE, "data": data}


async def click(
    endpoint: Endpoint, interaction: Click, *, body: bytes = b"", deferral: Deferral | None = None
) -> dict[str, Any]:
    undo_of = parse_undo(interaction.data.custom_id)
    if undo_of is not None:
        return await undo(endpoint, interaction, undo_of)
    press = pressed(endpoint, interaction, utcnow())
    if isinstance(press, dict):
        return press
    if deferral is not None and deferral.at_once:
        return await defer(deferral, body, press)
    # Never cancelled: a decision cut off between its transition and its publish would lose its event.
    task = asyncio.ensure_future(
        decide(
            endpoint.decide,
            press.card_id,
            press.action,
            press.approver,
            now=press.now,
            pk=press.pk,
            remedy=press.remedy,
        )
    )
    try:
        outcome = await asyncio.wait_for(asyncio.shield(task), endpoint.click_budget)
    except TimeoutError:
        log.warning(
            "interactions.click_slow", card_id=printable(press.card_id), budget_s=endpoint.click_budget
        )
        if deferral is not None:
            # Nothing may run after the answer here: the queue finishes it (the task, should the loop run
            # again, races it harmlessly: the transition is conditional).
            BACKGROUND.add(task)
            task.add_done_callback(BACKGROUND.discard)
            return await defer(deferral, body, press)
        # AWS is slow: acknowledge within Discord's deadline, finish in the background, edit the card then.
        BACKGROUND.add(task)
        task.add_done_callback(lambda done: _edit_later(endpoint, done, press))
        return {"type": DEFERRED_UPDATE}
    except Exception as exc:  # the click is safe to repeat: transitions are conditional
        log.error(
            "interactions.click_failed",
            card_id=printable(press.card_id),
            error=printable(f"{type(exc).__name__}: {exc}"),
        )
        return ephemeral("CloudThrift could not finish recording this click; please click again in a minute.")
    if not outcome.found:
        return ephemeral("This card is unknown to CloudThrift (was the ledger reset?).")
    if not outcome.decided:
        return ephemeral(refusal_summary(outcome))
    return {"type": UPDATE_MESSAGE, "data": decided_card(outcome, press.rows, press.approver.name, press.now)}


async def defer(deferral: Deferral, body: bytes, press: Pressed) -> dict[str, Any]:
    """Queue the click and acknowledge it (type 6); the queue's consumer decides it (`finish_click`)."""
    try:
        await deferral.enqueue(body, press.now)
    except Exception as exc:
        log.error("interactions.defer_failed", error=printable(f"{type(exc).__name__}: {exc}"))
        return ephemeral("CloudThrift could not finish recording this click; please click again in a minute.")
    log.info("interactions.click_deferred", card_id=printable(press.card_id), action=press.action)
    return {"type": DEFERRED_UPDATE}


async def finish_click(endpoint: Endpoint, body: bytes, received_at: datetime) -> Outcome | None:
    """A deferred click, from its queue: decided as it would have been when it arrived, then the card is
    edited. An AWS error raises (the queue retries); a repeat finds the decision taken and changes nothing."""
    interaction = parse_interaction(body)
    if not isinstance(interaction, Click):
        log.error("interactions.deferred_not_a_click", problem=printable(str(interaction)))
        return None
    press = pressed(endpoint, interaction, received_at)
    if isinstance(press, dict):
        return None
    outcome = await decide(
        endpoint.decide,
        press.card_id,
        press.action,
        press.approver,
        now=press.now,
        pk=press.pk,
        remedy=press.remedy,
    )
    if endpoint.sink is not None and outcome.decided and outcome.channel_id and outcome.message_id:
        card = decided_card(outcome, press.rows, press.approver.name, press.now)
        await endpoint.sink.edit_message(outcome.channel_id, outcome.message_id, card)
    return outcome


def decided_card(outcome: Outcome, rows: list[dict[str, Any]], who: str, now: datetime) -> dict[str, Any]:
    status = cards.status_line(
        outcome.action,
        who,
        now,
        count=len(outcome.decided),
        of=outcome.total,
        until=outcome.until,
        earlier=cards.earlier_counts(outcome.earlier),
    )
    return {"content": status, "components": disabled_components(rows), "allowed_mentions": NO_MENTIONS}


def _edit_later(endpoint: Endpoint, task: asyncio.Future[Outcome], press: Pressed) -> None:
    BACKGROUND.discard(task)
    if task.cancelled() or task.exception() is not None:
        log.error(
            "interactions.slow_click_failed", error=str(task.exception()) if not task.cancelled() else ""
        )
        return
    outcome = task.result()
    if endpoint.sink is None or not outcome.decided or not (outcome.channel_id and outcome.message_id):
        return
    card = decided_card(outcome, press.rows, press.approver.name, press.now)
    follow_up = asyncio.ensure_future(
        endpoint.sink.edit_message(outcome.channel_id, outcome.message_id, card)
    )
    BACKGROUND.add(follow_up)
    follow_up.add_done_callback(BACKGROUND.discard)


def build_endpoint(
    settings: Settings,
    runtime: Runtime,
    sink: MessageSink | None = None,
    *,
    body_timeout: float = BODY_TIMEOUT,
) -> Endpoint:
    key = settings.discord_public_key
    token = settings.cloudthrift_scan_token
    return Endpoint(
        runtime=runtime,
        verify_key=VerifyKey(bytes.fromhex(key)) if key else None,
        approver_ids=frozenset(settings.discord_approver_ids),
        approver_roles=frozenset(settings.discord_approver_role_ids),
        max_age=settings.cloudthrift_signature_max_age_seconds,
        scan_token=token.get_secret_value() if token else None,
        decide=DecideDeps(
            ledger=runtime.ledger,
            publisher=runtime.publisher,
            execute_url=runtime.queues["execute"].url,
            snooze_days=settings.cloudthrift_snooze_days,
            metrics=runtime.telemetry.stage("interactions").metrics,
            tracing=runtime.telemetry.stage("interactions").tracing,
            recover_after=timedelta(seconds=settings.cloudthrift_approval_recover_seconds),
        ),
        refusals=Refusals(log, max_body=settings.cloudthrift_http_max_body, body_timeout=body_timeout),
        sink=sink,
    )
