"""The HTTP side of the notifier: Discord's interactions endpoint, a health check, and scan requests.

`POST /interactions` runs services/notifier/interactions.py (shared with the Lambda function URL): the
Ed25519 signature over timestamp + raw body (PyNaCl) is checked before anything is parsed; a missing,
forged, stale or malformed signature gets 401, which is also what Discord's routine deliberately-invalid
probes must get. The signed body is then parsed into strict models (services/notifier/inbound.py):
anything else is a 400. A click does one conditional ledger write per decision and, on approval, one
SendMessage, then answers UPDATE_MESSAGE with the buttons disabled: milliseconds, far inside Discord's
3-second deadline. `POST /scan` lets cron, n8n or a CI job request a scan with a bearer token;
`GET /healthz` says whether the queues and the table answer.

Every wrong input gets a 4xx and at most one short, rate-limited log line, never a traceback; a body
must arrive within `body_timeout` seconds (services/notifier/refusals.py): a client that declares a
Content-Length and stalls is answered 408 and its connection closed instead of being held forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import structlog
from aiohttp import web
from pydantic import ValidationError

from services.notifier.inbound import Click, parse_scan, short_reason
from services.notifier.interactions import BACKGROUND, Endpoint, answer_interaction, build_endpoint, click
from services.notifier.main import open_sink
from services.notifier.refusals import BODY_TIMEOUT, quiet_parser_errors
from shared.config import QUEUE_NAMES, Settings
from shared.discord import printable
from shared.events import ScanRequested
from shared.worker import Runtime, open_runtime

log = structlog.get_logger("cloudthrift.notifier.http")

__all__ = ["Endpoint", "build_endpoint", "click", "init_app", "start_endpoint"]


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
            if BACKGROUND:
                log.info("interactions.draining", clicks=len(BACKGROUND))
                await asyncio.wait(set(BACKGROUND), timeout=settings.cloudthrift_drain_seconds)

    return context


# --- POST /interactions ----------------------------------------------------------------------


async def interactions(request: web.Request) -> web.Response:
    endpoint = request.app[ENDPOINT]
    body = await endpoint.refusals.read_body(request)
    if isinstance(body, web.Response):
        return body

    async def on_click(interaction: Click, raw: bytes) -> dict[str, Any]:
        return await click(endpoint, interaction, body=raw)

    answer = await answer_interaction(endpoint, request.headers, body, on_click, remote=request.remote)
    return web.json_response(answer.body, status=answer.status)


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
