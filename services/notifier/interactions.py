"""Discord's interactions, whatever carries them: the aiohttp endpoint (services/notifier/http.py) and
the Lambda function URL (services/serverless/interactions.py) both call `answer_interaction`.

Gates, in this order (services/notifier/gate.py, the half that needs no AWS): the body size, the
Ed25519 signature (`signature_ok`), the strict parse (`parse_interaction`), then the click itself. A
click does one conditional ledger write per decision and, on approval, one SendMessage, then answers
UPDATE_MESSAGE with the buttons disabled.

Discord wants an answer within 3 seconds. When the decision cannot be made in time (AWS slow, or a cold
Lambda whose start-up already spent the budget), the click is answered DEFERRED_UPDATE_MESSAGE and
finished elsewhere: in the background on a long-running server, or, where nothing may run after the
answer (Lambda), through a queue (`Deferral`: a `ClickReceived` event that followup.py `finish_click`
handles). The ledger transition is conditional, so however often a click is finished it is recorded once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from nacl.signing import VerifyKey

from services.notifier import cards
from services.notifier.decide import DecideDeps, Outcome, decide, refusal_summary
from services.notifier.gate import (  # the light half, re-exported: callers import it from here too
    CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    PONG,
    UPDATE_MESSAGE,
    Answer,
    Deferral,
    Gate,
    OnClick,
    Pressed,
    UndoPressed,
    answer_interaction,
    clicker,
    defer,
    ephemeral,
    pressed,
    undo_pressed,
)
from services.notifier.inbound import Click
from services.notifier.refusals import BODY_TIMEOUT, Refusals
from services.notifier.undo import undo_click
from shared.config import Settings
from shared.discord_messages import NO_MENTIONS, disabled_components, printable
from shared.events import utcnow
from shared.undo_button import parse_undo
from shared.worker import Runtime

if TYPE_CHECKING:  # the bot client (aiohttp) is imported by whoever opens it
    from shared.discord import DiscordClient, MessageSink

__all__ = [
    "CHANNEL_MESSAGE",
    "DEFERRED_UPDATE",
    "PONG",
    "UPDATE_MESSAGE",
    "Answer",
    "Deferral",
    "Endpoint",
    "Gate",
    "OnClick",
    "Pressed",
    "UndoPressed",
    "answer_interaction",
    "build_endpoint",
    "click",
    "clicker",
    "decided_card",
    "defer",
    "ephemeral",
    "pressed",
    "undo",
    "undo_pressed",
    "undone_card",
]

log = structlog.get_logger("cloudthrift.notifier.http")

BACKGROUND: set[asyncio.Future[Any]] = set()  # slow clicks still being recorded (kept referenced)


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
    webhook: DiscordClient | None = None  # token-less: edits a deferred click's card with its token
    click_budget: float = 2.0  # seconds: answer well before Discord's 3-second deadline (network included)


async def undo(endpoint: Endpoint, interaction: Click, decision_id: str) -> dict[str, Any]:
    """An Undo click, approver-only like Approve: the request is sent (the card's button greyed out)
    or refused to the clicker alone. Nothing is written here: the executor's conditional claim makes
    a double click or a replayed interaction change nothing."""
    press = undo_pressed(endpoint, interaction, decision_id, utcnow())
    if isinstance(press, dict):
        return press
    try:
        answer = await undo_click(endpoint.decide, decision_id, press.approver, now=press.now)
    except Exception as exc:  # nothing was written: the click is safe to repeat
        log.error("interactions.undo_failed", error=printable(f"{type(exc).__name__}: {exc}"))
        return ephemeral("CloudThrift could not send this undo; please click again in a minute.")
    if answer.status is None:
        return ephemeral(answer.refused or "Nothing to undo.")
    return {"type": UPDATE_MESSAGE, "data": undone_card(answer.status, interaction.rows())}


def undone_card(status: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The card once its undo is sent: the request's line first, its buttons greyed out."""
    return {"content": status, "components": disabled_components(rows), "allowed_mentions": NO_MENTIONS}


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
    webhook: DiscordClient | None = None,
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
        webhook=webhook,
    )
