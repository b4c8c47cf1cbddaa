"""Lambda entry for Discord's interactions: `services.serverless.interactions.handler`.

Two event sources feed the one function:

- its **function URL** (auth NONE: the Ed25519 signature authenticates every request), payload format
  2.0: `POST /interactions` goes through `answer_interaction`, the code the aiohttp endpoint runs;
- its **clicks queue** (`<prefix>-clicks`, SQS): clicks answered DEFERRED_UPDATE_MESSAGE, decided here
  through the queue runtime (shared/lambda_sqs.py), so a failure is retried and a poison one
  dead-lettered with its reason like any other message.

A cold container has only what checks a request (settings, the public key, one SQS client) and imports
only that (services/notifier/gate.py; the deciding half, the ledger's codec and the kinds are imported
with the endpoint): opening the ledger, the queues and the Discord client costs a second or more
(bench/README.md), so until they are open a click is verified, authorised, put on the clicks queue and
answered type 6 within Discord's 3 seconds. The queue's invocation opens the rest; later clicks in that
container are decided inline (and deferred the same way should AWS be slower than the budget). The
ledger transition is conditional: a click decided twice is recorded once.
"""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from nacl.signing import VerifyKey
from pydantic import BaseModel, ConfigDict, Field

from services.notifier.gate import (
    Deferral,
    Pressed,
    UndoPressed,
    answer_interaction,
    defer,
    pressed,
    undo_pressed,
)
from services.notifier.inbound import Click
from services.notifier.refusals import Refusals
from services.serverless import start_logging
from services.serverless.settings import container_settings
from shared.aws import AwsClients
from shared.config import Settings
from shared.events import ClickReceived, Envelope, utcnow
from shared.lambda_container import Container
from shared.lambda_sqs import handle_sqs_event
from shared.publisher import Publisher, resolve_queue
from shared.undo_button import parse_undo

if TYPE_CHECKING:  # the deciding half: imported when a container opens it (`open_endpoint`)
    from services.notifier.interactions import Endpoint
    from shared.unit import MessageWork

log = structlog.get_logger("cloudthrift.notifier.http")

CLICKS_QUEUE = "clicks"
PATH = "/interactions"


class _Http(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    method: str
    sourceIp: str | None = None


class _RequestContext(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    http: _Http


class UrlEvent(BaseModel):
    """A function URL request, payload format 2.0 (header names lowercased, the body maybe base64)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    version: str = "2.0"
    rawPath: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    isBase64Encoded: bool = False
    requestContext: _RequestContext

    def raw_body(self) -> bytes:
        if self.body is None:
            return b""
        return base64.b64decode(self.body) if self.isBase64Encoded else self.body.encode()


@dataclass
class InteractionsState:
    """The light part (a Gate) is open from the first request; `endpoint` once a decision needs it."""

    settings: Settings
    verify_key: VerifyKey | None
    max_age: int
    approver_ids: frozenset[str]
    approver_roles: frozenset[str]
    refusals: Refusals
    publisher: Publisher
    clicks_url: str
    stack: contextlib.AsyncExitStack
    endpoint: Endpoint | None = None
    work: MessageWork | None = None

    async def enqueue(self, body: bytes, received_at: datetime) -> None:
        click_ = ClickReceived(interaction=body.decode(), received_at=received_at)
        await self.publisher.publish(self.clicks_url, [click_])

    async def open_endpoint(self) -> tuple[Endpoint, MessageWork]:
        """The ledger, the queues and the bot: what deciding a click needs (the cold part)."""
        if self.endpoint is None or self.work is None:
            from services.notifier.followup import finish_click
            from services.notifier.interactions import build_endpoint
            from services.notifier.main import open_sink
            from shared.discord import DiscordClient
            from shared.unit import Backoff, MessageWork
            from shared.worker import open_runtime

            runtime = await self.stack.enter_async_context(open_runtime(self.settings))
            sink = None
            if self.settings.discord_bot_token:
                sink = await self.stack.enter_async_context(open_sink(self.settings))
            # No bot token needed: a deferred click's card is edited with the click's own token.
            webhook = await self.stack.enter_async_context(
                DiscordClient(
                    None,
                    base_url=self.settings.discord_api_base_url,
                    max_attempts=self.settings.discord_max_attempts,
                )
            )
            endpoint = build_endpoint(self.settings, runtime, sink, webhook=webhook)
            prefix = self.settings.cloudthrift_prefix
            clicks = await resolve_queue(
                runtime.sqs, f"{prefix}-{CLICKS_QUEUE}", f"{prefix}-{CLICKS_QUEUE}-dlq"
            )

            async def handle(event: Envelope[Any]) -> list[Any]:
                payload: ClickReceived = event.payload
                await finish_click(endpoint, payload.interaction.encode(), payload.received_at)
                return []

            self.work = MessageWork(
                sqs=runtime.sqs,
                queue=clicks,
                handler=handle,
                publisher=runtime.publisher,
                backoff=Backoff(max_receives=self.settings.cloudthrift_max_receives),
                telemetry=runtime.telemetry.stage("interactions"),
                accepts=frozenset({ClickReceived.event_type}),
            )
            self.endpoint = endpoint
        return self.endpoint, self.work


async def open_state(stack: contextlib.AsyncExitStack, settings: Settings | None = None) -> InteractionsState:
    settings = settings or await container_settings()
    aws = await stack.enter_async_context(AwsClients(settings))
    sqs = await aws.client("sqs")
    prefix = settings.cloudthrift_prefix
    clicks_url = (
        settings.cloudthrift_clicks_queue_url
        or (await sqs.get_queue_url(QueueName=f"{prefix}-{CLICKS_QUEUE}"))["QueueUrl"]
    )
    key = settings.discord_public_key
    return InteractionsState(
        settings=settings,
        verify_key=VerifyKey(bytes.fromhex(key)) if key else None,
        max_age=settings.cloudthrift_signature_max_age_seconds,
        approver_ids=frozenset(settings.discord_approver_ids),
        approver_roles=frozenset(settings.discord_approver_role_ids),
        refusals=Refusals(log, max_body=settings.cloudthrift_http_max_body),
        publisher=Publisher(sqs),
        clicks_url=clicks_url,
        stack=stack,
    )


def _flush(state: InteractionsState) -> None:
    if state.endpoint is not None:
        state.endpoint.runtime.telemetry.metrics.flush()


def new_container(settings: Settings | None = None) -> Container[InteractionsState]:
    async def open_(stack: contextlib.AsyncExitStack) -> InteractionsState:
        return await open_state(stack, settings)

    return Container(open_, flush=_flush)


async def route(state: InteractionsState, event: dict[str, Any]) -> dict[str, Any]:
    """One invocation: a batch from the clicks queue, or a function URL request."""
    if "Records" in event:
        _, work = await state.open_endpoint()
        return await handle_sqs_event(event, work)
    return await answer_url(state, UrlEvent.model_validate(event))


async def invoke(container: Container[InteractionsState], event: dict[str, Any]) -> dict[str, Any]:
    return await container.run(lambda state: route(state, event))


async def answer_url(state: InteractionsState, request: UrlEvent) -> dict[str, Any]:
    if request.rawPath != PATH:
        return _response(404, {"error": "not found"})
    if request.requestContext.http.method != "POST":
        return _response(405, {"error": "POST only"})

    async def on_click(interaction: Click, raw: bytes) -> dict[str, Any]:
        if state.endpoint is None:  # cold: the budget went on start-up; the queue decides it
            return await click_deferred(state, interaction, raw)
        from services.notifier.interactions import click  # loaded with the endpoint

        return await click(state.endpoint, interaction, body=raw, deferral=Deferral(state.enqueue))

    answer = await answer_interaction(
        state, request.headers, request.raw_body(), on_click, remote=request.requestContext.http.sourceIp
    )
    return _response(answer.status, answer.body)


async def click_deferred(state: InteractionsState, interaction: Click, raw: bytes) -> dict[str, Any]:
    """A click on a cold container: refused at once if it is not an approver's, queued otherwise (an
    Undo too: the queue's consumer sends it as the warm path does, followup.py `finish_undo`)."""
    undo_of = parse_undo(interaction.data.custom_id)
    if undo_of is not None:
        press: Pressed | UndoPressed | dict[str, Any] = undo_pressed(state, interaction, undo_of, utcnow())
    else:
        press = pressed(state, interaction, utcnow())
    if isinstance(press, dict):
        return press
    return await defer(Deferral(state.enqueue, at_once=True), raw, press)


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


_CONTAINER: Container[InteractionsState] | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler (function URL and clicks queue alike)."""
    global _CONTAINER
    if _CONTAINER is None:
        start_logging()
        _CONTAINER = new_container()
    return _CONTAINER.invoke(lambda state: route(state, event))
