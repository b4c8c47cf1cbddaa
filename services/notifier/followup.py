"""Finishing a deferred click (`finish_click`, from the clicks queue): decided (an Undo click sent,
`finish_undo`), then its card edited through the click's own webhook, else the bot, else not, with the
reason as a result.

After DEFERRED_UPDATE_MESSAGE (type 6) Discord expects the app to edit the message later. Its documented
way needs no bot token: `PATCH /webhooks/{application.id}/{interaction.token}/messages/@original`, with
the token the click carried, valid 15 minutes ("Receiving and Responding", Followup Messages). So the
card of a click decided from the clicks queue is edited that way first; past the 15 minutes (a backed-up
queue, a retried message) the bot edits it by channel and message id when a bot token is configured;
otherwise the card keeps its buttons (a later click is told who decided) and the result says why.

Discord's answer is always a result here, never an exception: the decision is already recorded, and a
retry could not edit the card any better, so a card that cannot be edited must not send its click round
the queue until it is dead-lettered. The token is a credential: it is never logged, and any error text
that might quote the request's address has it blanked out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import structlog

from services.notifier.decide import Outcome, decide
from services.notifier.inbound import Click, parse_interaction
from services.notifier.interactions import Endpoint, decided_card, pressed, undo_pressed, undone_card
from services.notifier.undo import UndoClick, undo_click
from shared.discord_messages import printable
from shared.errors import PermanentError, TransientError
from shared.events import utcnow
from shared.undo_button import parse_undo

if TYPE_CHECKING:  # the clients (aiohttp) are imported by whoever opens them
    from shared.discord import DiscordClient, MessageSink

log = structlog.get_logger("cloudthrift.notifier.followup")

TOKEN_VALIDITY = timedelta(minutes=15)  # Discord: interaction tokens are valid for 15 minutes
MARGIN = timedelta(seconds=30)  # the edit's own time on the wire: do not start one about to be refused

# How a card was (or was not) edited: "webhook" and "bot" edited it; "token_expired" (past the 15
# minutes, or Discord no longer knows the token) and "no_route" (no token, no bot) did not; "failed":
# Discord unreachable or refusing the edit within the client's retries.
CardEdit = Literal["webhook", "bot", "token_expired", "no_route", "failed", "card_gone"]


async def finish_click(endpoint: Endpoint, body: bytes, received_at: datetime) -> Outcome | UndoClick | None:
    """A deferred click, from its queue: decided as it would have been when it arrived, then the card is
    edited once, by the delivery that decided it (`edit_card`). An AWS error raises
    (the queue retries); a repeat finds the decision taken and changes nothing, the card included."""
    interaction = parse_interaction(body)
    if not isinstance(interaction, Click):
        log.error("interactions.deferred_not_a_click", problem=printable(str(interaction)))
        return None
    undo_of = parse_undo(interaction.data.custom_id)
    if undo_of is not None:
        return await finish_undo(endpoint, interaction, undo_of, received_at)
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
    if outcome.decided:
        edited = await edit_card(
            EditRoutes(webhook=endpoint.webhook, bot=endpoint.sink),
            interaction,
            decided_card(outcome, press.rows, press.approver.name, press.now),
            channel_id=outcome.channel_id,
            message_id=outcome.message_id,
            received_at=received_at,
            now=utcnow(),
        )
        logged = log.info if edited in ("webhook", "bot") else log.warning
        logged("interactions.deferred_card", card_id=printable(press.card_id), edit=edited)
    return outcome


async def finish_undo(
    endpoint: Endpoint, interaction: Click, decision_id: str, received_at: datetime
) -> UndoClick | None:
    """A deferred Undo click: sent as the warm path sends it (`undo_click` → `request_restore`), then
    its card shows the request. Nothing is written here: the executor's conditional claim (EXECUTED →
    RESTORING) is the one guard, so a redelivery once the executor has it is refused and changes
    nothing (one before finds the decision still EXECUTED and sends a request the claim then ignores).
    An AWS error raises: nothing was written, the queue retries."""
    press = undo_pressed(endpoint, interaction, decision_id, received_at)
    if isinstance(press, dict):
        return None
    answer = await undo_click(endpoint.decide, decision_id, press.approver, now=press.now)
    if answer.status is None:  # the clicker was answered type 6: the card stays, the log says why
        log.info(
            "interactions.deferred_undo_refused", decision_id=printable(decision_id), reason=answer.refused
        )
        return answer
    edited = await edit_card(
        EditRoutes(webhook=endpoint.webhook, bot=endpoint.sink),
        interaction,
        undone_card(answer.status, interaction.rows()),
        channel_id=answer.channel_id,
        message_id=answer.message_id,
        received_at=received_at,
        now=utcnow(),
    )
    logged = log.info if edited in ("webhook", "bot") else log.warning
    logged("interactions.deferred_card", card_id=printable(decision_id), edit=edited)
    return answer


@dataclass(frozen=True)
class EditRoutes:
    """The ways to edit a card: the token-less client for interaction webhooks, and the bot."""

    webhook: DiscordClient | None = None
    bot: MessageSink | None = None


async def edit_card(
    routes: EditRoutes,
    interaction: Click,
    card: dict[str, Any],
    *,
    channel_id: str | None,
    message_id: str | None,
    received_at: datetime,
    now: datetime,
) -> CardEdit:
    """Edit the clicked card to `card` once; the result names the route taken or why none was."""
    result: CardEdit = "no_route"
    token, application_id = interaction.token, interaction.application_id
    if routes.webhook is not None and token is not None and application_id is not None:
        if now - received_at > TOKEN_VALIDITY - MARGIN:
            result = "token_expired"
        else:
            secret = token.get_secret_value()
            try:
                edited = await routes.webhook.edit_original(application_id, secret, card)
            except (PermanentError, TransientError) as exc:
                log.warning("interactions.webhook_edit_failed", error=_redacted(exc, secret))
                result = "failed"
            else:
                if edited:
                    return "webhook"
                result = "token_expired"
    if routes.bot is not None and channel_id and message_id:
        try:
            edited = await routes.bot.edit_message(channel_id, message_id, card)
        except (PermanentError, TransientError) as exc:
            log.warning("interactions.bot_edit_failed", error=printable(f"{type(exc).__name__}: {exc}"))
            return "failed"
        return "bot" if edited else "card_gone"
    return result


def _redacted(exc: Exception, secret: str) -> str:
    """The error in one printable line, the token blanked should an address be quoted in it."""
    return printable(f"{type(exc).__name__}: {exc}".replace(secret, "[interaction token]"))
