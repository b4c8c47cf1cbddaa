"""The HTTP side of the notifier: Discord's interactions endpoint, a health check, and scan requests.

`POST /interactions` checks the Ed25519 signature over timestamp + raw body (PyNaCl) before anything
is parsed: a missing, forged or stale signature gets 401, which is also what Discord's routine
deliberately-invalid probes must get. A click does one conditional ledger write per decision and, on
approval, one SendMessage, then answers UPDATE_MESSAGE with the buttons disabled: milliseconds, far
inside Discord's 3-second deadline. `POST /scan` lets cron, n8n or a CI job request a scan with a
bearer token; `GET /healthz` says whether the queues and the table answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from aiohttp import web
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from pydantic import ValidationError

from services.notifier import cards
from services.notifier.decide import DecideDeps, Outcome, decide, earlier_summary
from services.notifier.main import open_sink
from shared.config import QUEUE_NAMES, Settings
from shared.discord import EPHEMERAL, MessageSink, disabled_components
from shared.events import Approver, ScanRequested, utcnow
from shared.worker import Runtime, open_runtime

log = structlog.get_logger("cloudthrift.notifier.http")

PING, MESSAGE_COMPONENT = 1, 3
PONG, CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 6, 7
_BACKGROUND: set[asyncio.Future[Any]] = set()  # slow clicks still being recorded (kept referenced)


@dataclass(frozen=True)
class Endpoint:
    """Everything the handlers need, built once when the app starts."""

    runtime: Runtime
    verify_key: VerifyKey | None
    approver_ids: frozenset[str]
    approver_roles: frozenset[str]
    max_age: int
    scan_token: str | None
    decide: DecideDeps
    sink: MessageSink | None = None  # the bot, to edit a card after a slow click
    click_budget: float = 2.0  # seconds: answer well before Discord's 3-second deadline (network included)


SETTINGS = web.AppKey("settings", Settings)
ENDPOINT = web.AppKey("endpoint", Endpoint)


def init_app(settings: Settings, *, runtime: Runtime | None = None) -> web.Application:
    """The aiohttp app; it opens its own runtime unless one is shared (the local default does)."""
    app = web.Application(client_max_size=settings.cloudthrift_http_max_body)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_context(runtime))
    app.router.add_post("/interactions", interactions)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/scan", scan)
    return app


def _context(shared: Runtime | None):  # type: ignore[no-untyped-def]
    async def context(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        async with contextlib.AsyncExitStack() as stack:
            runtime = shared or await stack.enter_async_context(open_runtime(settings))
            sink = (
                await stack.enter_async_context(open_sink(settings)) if settings.discord_bot_token else None
            )
            app[ENDPOINT] = build_endpoint(settings, runtime, sink)
            if app[ENDPOINT].verify_key is None:
                log.warning("interactions.disabled", reason="DISCORD_PUBLIC_KEY is not set")
            yield
            # Slow clicks still being recorded finish before AWS clients close (SIGTERM drains them).
            if _BACKGROUND:
                log.info("interactions.draining", clicks=len(_BACKGROUND))
                await asyncio.wait(set(_BACKGROUND), timeout=settings.cloudthrift_drain_seconds)

    return context


def build_endpoint(settings: Settings, runtime: Runtime, sink: MessageSink | None = None) -> Endpoint:
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
        sink=sink,
    )


# --- POST /interactions ----------------------------------------------------------------------


def verified(endpoint: Endpoint, headers: Any, body: bytes) -> bool:
    """Ed25519 over timestamp + raw body, and a timestamp recent enough that a replay is refused."""
    signature, stamp = headers.get("X-Signature-Ed25519", ""), headers.get("X-Signature-Timestamp", "")
    if endpoint.verify_key is None or len(signature) != 128 or not stamp.isdigit():
        return False
    if abs(time.time() - int(stamp)) > endpoint.max_age:
        return False
    try:
        endpoint.verify_key.verify(stamp.encode() + body, bytes.fromhex(signature))
    except (BadSignatureError, ValueError):
        return False
    return True


async def interactions(request: web.Request) -> web.Response:
    endpoint = request.app[ENDPOINT]
    body = await request.read()  # aiohttp answers 413 past client_max_size
    if not verified(endpoint, request.headers, body):
        log.warning("interactions.bad_signature", remote=request.remote)
        return web.json_response({"error": "invalid request signature"}, status=401)
    try:
        interaction = json.loads(body)
    except ValueError:
        return web.json_response({"error": "body is not JSON"}, status=400)
    if not isinstance(interaction, dict):
        return web.json_response({"error": "body is not a JSON object"}, status=400)
    kind = interaction.get("type")
    if kind == PING:
        return web.json_response({"type": PONG})
    if kind != MESSAGE_COMPONENT:
        return web.json_response({"error": f"unsupported interaction type {kind!r}"}, status=400)
    return web.json_response(await click(endpoint, interaction))


def ephemeral(text: str) -> dict[str, Any]:
    return {"type": CHANNEL_MESSAGE, "data": {"content": text, "flags": EPHEMERAL}}


def clicker(interaction: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The user (from member.user in a guild, user in a DM) and their role ids."""
    member = interaction.get("member") or {}
    user = member.get("user") or interaction.get("user") or {}
    return user, [str(role) for role in member.get("roles") or []]


async def click(endpoint: Endpoint, interaction: dict[str, Any]) -> dict[str, Any]:
    data = interaction.get("data") or {}
    button = cards.parse_custom_id(str(data.get("custom_id", "")))
    if button is None:
        return ephemeral("This button is not one CloudThrift knows.")
    action, card_id = button.action, button.card_id
    user, roles = clicker(interaction)
    user_id = str(user.get("id", ""))
    if not user_id or (user_id not in endpoint.approver_ids and endpoint.approver_roles.isdisjoint(roles)):
        log.warning("interactions.not_allowed", user_id=user_id, action=action, card_id=card_id)
        return ephemeral("You are not allowed to decide on CloudThrift cards.")
    approver = Approver(
        id=user_id[:64],
        name=str(user.get("global_name") or user.get("username") or user_id)[:128],
        via="discord",
    )
    now = utcnow()
    rows = (interaction.get("message") or {}).get("components") or cards.buttons(card_id, group=False)
    # Never cancelled: a decision cut off between its transition and its publish would lose its event.
    task = asyncio.ensure_future(decide(endpoint.decide, card_id, action, approver, now=now, pk=button.pk))
    try:
        outcome = await asyncio.wait_for(asyncio.shield(task), endpoint.click_budget)
    except TimeoutError:
        # AWS is slow: acknowledge within Discord's deadline, finish in the background, edit the card then.
        _BACKGROUND.add(task)
        task.add_done_callback(lambda done: _edit_later(endpoint, done, rows, approver.name, now))
        log.warning("interactions.click_slow", card_id=card_id, budget_s=endpoint.click_budget)
        return {"type": DEFERRED_UPDATE}
    except Exception as exc:  # the click is safe to repeat: transitions are conditional
        log.error("interactions.click_failed", card_id=card_id, error=f"{type(exc).__name__}: {exc}")
        return ephemeral("CloudThrift could not finish recording this click; please click again in a minute.")
    if not outcome.found:
        return ephemeral("This card is unknown to CloudThrift (was the ledger reset?).")
    if not outcome.decided:
        return ephemeral(earlier_summary(outcome))
    return {"type": UPDATE_MESSAGE, "data": decided_card(outcome, rows, approver.name, now)}


def decided_card(outcome: Outcome, rows: list[dict[str, Any]], who: str, now: datetime) -> dict[str, Any]:
    status = cards.status_line(
        outcome.action, who, now, count=len(outcome.decided), of=outcome.total, until=outcome.until
    )
    return {"content": status, "components": disabled_components(rows)}


def _edit_later(
    endpoint: Endpoint, task: asyncio.Future[Outcome], rows: list[dict[str, Any]], who: str, now: datetime
) -> None:
    _BACKGROUND.discard(task)
    if task.cancelled() or task.exception() is not None:
        log.error(
            "interactions.slow_click_failed", error=str(task.exception()) if not task.cancelled() else ""
        )
        return
    outcome = task.result()
    if endpoint.sink is None or not outcome.decided or not (outcome.channel_id and outcome.message_id):
        return
    edit = endpoint.sink.edit_message(
        outcome.channel_id, outcome.message_id, decided_card(outcome, rows, who, now)
    )
    follow_up = asyncio.ensure_future(edit)
    _BACKGROUND.add(follow_up)
    follow_up.add_done_callback(_BACKGROUND.discard)


# --- GET /healthz, POST /scan ----------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    runtime = request.app[ENDPOINT].runtime
    try:
        async with asyncio.timeout(3):
            dynamodb = await runtime.aws.client("dynamodb")
            await dynamodb.describe_table(TableName=runtime.ledger.table_name)
            for name in QUEUE_NAMES:
                await runtime.sqs.get_queue_attributes(  # type: ignore[attr-defined]
                    QueueUrl=runtime.queues[name].url, AttributeNames=["QueueArn"]
                )
    except Exception as exc:
        return web.json_response({"status": "unavailable", "error": f"{type(exc).__name__}"}, status=503)
    return web.json_response({"status": "ok", "queues": len(QUEUE_NAMES), "table": runtime.ledger.table_name})


async def scan(request: web.Request) -> web.Response:
    endpoint = request.app[ENDPOINT]
    if endpoint.scan_token is None:
        return web.json_response(
            {"error": "scan requests over HTTP are off: set CLOUDTHRIFT_SCAN_TOKEN"}, status=404
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), endpoint.scan_token.encode()):
        return web.json_response(
            {"error": "bearer token required"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="cloudthrift"'},
        )
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise ValueError("not an object")
        wanted = {k: body[k] for k in ("regions", "kinds", "account_id", "role_arn") if k in body}
        who = str(body.get("requested_by") or request.headers.get("User-Agent") or "api")[:100]
        request_ = ScanRequested(**wanted, requested_by=f"http:{who}")
    except (ValueError, TypeError, ValidationError) as exc:
        return web.json_response({"error": f"bad scan request: {str(exc)[:300]}"}, status=400)
    await endpoint.runtime.publisher.publish(endpoint.runtime.queues["scan"].url, [request_])
    log.info("scan.requested_over_http", scan_id=request_.scan_id, requested_by=request_.requested_by)
    return web.json_response({"scan_id": request_.scan_id}, status=202)


async def start_endpoint(settings: Settings, runtime: Runtime | None = None) -> web.AppRunner:
    """Serve on CLOUDTHRIFT_HTTP_HOST:PORT in the running loop; the caller cleans the runner up."""
    runner = web.AppRunner(init_app(settings, runtime=runtime), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.cloudthrift_http_host, settings.cloudthrift_http_port).start()
    log.info("interactions.serving", addresses=[str(a) for a in runner.addresses])
    return runner
