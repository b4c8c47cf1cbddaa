"""The HTTP side of the notifier: Discord's interactions endpoint, a health check, and scan requests.

`POST /interactions` checks the Ed25519 signature over timestamp + raw body (PyNaCl) before anything
is parsed: a missing, forged, stale or malformed signature gets 401, which is also what Discord's
routine deliberately-invalid probes must get. The signed body is then parsed into strict models
(services/notifier/inbound.py): anything else is a 400. A click does one conditional ledger write per
decision and, on approval, one SendMessage, then answers UPDATE_MESSAGE with the buttons disabled:
milliseconds, far inside Discord's 3-second deadline. `POST /scan` lets cron, n8n or a CI job request
a scan with a bearer token; `GET /healthz` says whether the queues and the table answer.

Every wrong input gets a 4xx and at most one short, rate-limited log line, never a traceback; a body
must arrive within `body_timeout` seconds (services/notifier/refusals.py): a client that declares a
Content-Length and stalls is answered 408 and its connection closed instead of being held forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from aiohttp import web
from nacl.signing import VerifyKey
from pydantic import ValidationError

from services.notifier import cards
from services.notifier.decide import DecideDeps, Outcome, decide, earlier_summary, needs_choice_summary
from services.notifier.inbound import Click, Ping, parse_interaction, parse_scan, short_reason, signature_ok
from services.notifier.main import open_sink
from services.notifier.refusals import BODY_TIMEOUT, Refusals, quiet_parser_errors
from shared.config import QUEUE_NAMES, Settings
from shared.discord import (
    EPHEMERAL,
    NO_MENTIONS,
    MessageSink,
    disabled_components,
    escape_markdown,
    printable,
)
from shared.events import Approver, ScanRequested, utcnow
from shared.worker import Runtime, open_runtime

log = structlog.get_logger("cloudthrift.notifier.http")

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
    refusals: Refusals  # body limits, and the rate-limited log of refused requests
    sink: MessageSink | None = None  # the bot, to edit a card after a slow click
    click_budget: float = 2.0  # seconds: answer well before Discord's 3-second deadline (network included)


SETTINGS = web.AppKey("settings", Settings)
ENDPOINT = web.AppKey("endpoint", Endpoint)
BODY_TIMEOUT_KEY = web.AppKey("body_timeout", float)


def init_app(
    settings: Settings, *, runtime: Runtime | None = None, body_timeout: float = BODY_TIMEOUT
) -> web.Application:
    """The aiohttp app; it opens its own runtime unless one is shared (the local default does)."""
    app = web.Application(client_max_size=settings.cloudthrift_http_max_body)
    app[SETTINGS] = settings
    app[BODY_TIMEOUT_KEY] = body_timeout
    quiet_parser_errors()
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
            app[ENDPOINT] = build_endpoint(settings, runtime, sink, body_timeout=app[BODY_TIMEOUT_KEY])
            if app[ENDPOINT].verify_key is None:
                log.warning("interactions.disabled", reason="DISCORD_PUBLIC_KEY is not set")
            yield
            # Slow clicks still being recorded finish before AWS clients close (SIGTERM drains them).
            if _BACKGROUND:
                log.info("interactions.draining", clicks=len(_BACKGROUND))
                await asyncio.wait(set(_BACKGROUND), timeout=settings.cloudthrift_drain_seconds)

    return context


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


# --- POST /interactions ----------------------------------------------------------------------


async def interactions(request: web.Request) -> web.Response:
    endpoint = request.app[ENDPOINT]
    body = await endpoint.refusals.read_body(request)
    if isinstance(body, web.Response):
        return body
    if not signature_ok(endpoint.verify_key, request.headers, body, endpoint.max_age):
        return endpoint.refusals.refuse(
            401, "bad_signature", "invalid request signature", remote=request.remote
        )
    interaction = parse_interaction(body)
    if isinstance(interaction, str):
        # Signed by Discord yet not what we expect: a format change or a kind we do not handle.
        return endpoint.refusals.refuse(
            400, "bad_interaction", "unsupported interaction", problem=interaction
        )
    if isinstance(interaction, Ping):
        return web.json_response({"type": PONG})
    return web.json_response(await click(endpoint, interaction))


def ephemeral(text: str) -> dict[str, Any]:
    """A reply only the clicker sees. The text may quote a name: escaped, and it pings nobody."""
    data = {"content": escape_markdown(text), "flags": EPHEMERAL, "allowed_mentions": NO_MENTIONS}
    return {"type": CHANNEL_MESSAGE, "data": data}


async def click(endpoint: Endpoint, interaction: Click) -> dict[str, Any]:
    button = cards.parse_custom_id(interaction.data.custom_id)
    if button is None:
        return ephemeral("This button is not one CloudThrift knows.")
    action, card_id = button.action, button.card_id
    user = interaction.clicker
    roles = interaction.roles
    if user is None or (user.id not in endpoint.approver_ids and endpoint.approver_roles.isdisjoint(roles)):
        user_id = user.id if user else ""
        log.warning("interactions.not_allowed", user_id=user_id, action=action, card_id=printable(card_id))
        return ephemeral("You are not allowed to decide on CloudThrift cards.")
    name = (user.global_name or user.username or "").strip() or user.id
    approver = Approver(id=user.id, name=name[:128], via="discord")
    now = utcnow()
    rows = interaction.rows() or cards.buttons(card_id, group=False)
    # Never cancelled: a decision cut off between its transition and its publish would lose its event.
    task = asyncio.ensure_future(
        decide(endpoint.decide, card_id, action, approver, now=now, pk=button.pk, remedy=button.remedy)
    )
    try:
        outcome = await asyncio.wait_for(asyncio.shield(task), endpoint.click_budget)
    except TimeoutError:
        # AWS is slow: acknowledge within Discord's deadline, finish in the background, edit the card then.
        _BACKGROUND.add(task)
        task.add_done_callback(lambda done: _edit_later(endpoint, done, rows, approver.name, now))
        log.warning("interactions.click_slow", card_id=printable(card_id), budget_s=endpoint.click_budget)
        return {"type": DEFERRED_UPDATE}
    except Exception as exc:  # the click is safe to repeat: transitions are conditional
        log.error(
            "interactions.click_failed",
            card_id=printable(card_id),
            error=printable(f"{type(exc).__name__}: {exc}"),
        )
        return ephemeral("CloudThrift could not finish recording this click; please click again in a minute.")
    if not outcome.found:
        return ephemeral("This card is unknown to CloudThrift (was the ledger reset?).")
    if not outcome.decided and outcome.needs_choice:
        return ephemeral(needs_choice_summary(outcome))
    if not outcome.decided:
        return ephemeral(earlier_summary(outcome))
    return {"type": UPDATE_MESSAGE, "data": decided_card(outcome, rows, approver.name, now)}


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
    # aiohttp hands over bytes that are not UTF-8 as surrogate escapes: compare the bytes sent.
    sent = given.encode("utf-8", "surrogateescape")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent, endpoint.scan_token.encode()):
        endpoint.refusals.note("bad_token", status=401, remote=request.remote)
        return web.json_response(
            {"error": "bearer token required"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="cloudthrift"'},
        )
    raw = await endpoint.refusals.read_body(request)
    if isinstance(raw, web.Response):
        return raw
    body = parse_scan(raw)
    try:
        if isinstance(body, str):
            raise ValueError(body)
        who = printable(body.requested_by or request.headers.get("User-Agent") or "api", 100) or "api"
        request_ = ScanRequested(
            **body.model_dump(exclude_unset=True, exclude={"requested_by"}), requested_by=f"http:{who}"
        )
    except ValidationError as exc:
        problem = short_reason(exc)
        return endpoint.refusals.refuse(400, "bad_scan", f"bad scan request: {problem}", problem=problem)
    except ValueError as exc:
        return endpoint.refusals.refuse(400, "bad_scan", f"bad scan request: {exc}", problem=str(exc))
    try:
        await endpoint.runtime.publisher.publish(endpoint.runtime.queues["scan"].url, [request_])
    except Exception as exc:  # AWS unavailable: not the caller's fault, and worth retrying
        log.error("scan.publish_failed", error=printable(f"{type(exc).__name__}: {exc}"))
        return web.json_response({"error": "could not queue the scan; retry later"}, status=503)
    log.info("scan.requested_over_http", scan_id=request_.scan_id, requested_by=request_.requested_by)
    return web.json_response({"scan_id": request_.scan_id}, status=202)


async def start_endpoint(settings: Settings, runtime: Runtime | None = None) -> web.AppRunner:
    """Serve on CLOUDTHRIFT_HTTP_HOST:PORT in the running loop; the caller cleans the runner up."""
    runner = web.AppRunner(init_app(settings, runtime=runtime), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.cloudthrift_http_host, settings.cloudthrift_http_port).start()
    log.info("interactions.serving", addresses=[str(a) for a in runner.addresses])
    return runner
