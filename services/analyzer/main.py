"""Runner: wires the analysis handler to the analyze queue; its outputs go to the notify queue."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import structlog

from services.analyzer.breaker import CircuitBreaker
from services.analyzer.costs import load_model_prices
from services.analyzer.handler import AnalyzerDeps, handle_found
from shared.config import Settings
from shared.events import Envelope, ResourceFound, utcnow
from shared.ledger import Ledger
from shared.queue import Handler
from shared.telemetry.metrics import Metrics, NullMetrics
from shared.telemetry.tracing import Tracing
from shared.worker import Runtime, WorkerSpec

log = structlog.get_logger("cloudthrift.analyzer")


@contextlib.asynccontextmanager
async def analyzer_deps(
    ledger: Ledger,
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utcnow,
    metrics: Metrics | None = None,
    tracing: Tracing | None = None,
) -> AsyncIterator[AnalyzerDeps]:
    """The handler's dependencies for these settings; the Gemini client is closed on exit."""
    breaker = CircuitBreaker(
        failures=settings.gemini_breaker_failures, cooldown_seconds=settings.gemini_breaker_cooldown_seconds
    )
    prices = load_model_prices()
    if settings.gemini_api_key is None:
        # Said once, at start: every analysis is then marked source="rules" so the card can say so.
        log.warning("analyzer.rules_only", reason="GEMINI_API_KEY is not set: using rule-based analyses")
        yield AnalyzerDeps(
            ledger=ledger, prices=prices, breaker=breaker, clock=clock, metrics=metrics or NullMetrics()
        )
        return
    # Imported here: google-genai costs ~18 MiB and ~0.5 s, which rules-only and other workers skip.
    from services.analyzer.gemini import GeminiAnalyst, GeminiOptions, make_client

    options = GeminiOptions.from_settings(settings)
    if options.model.removeprefix("models/") not in prices.models:
        log.warning("analyzer.model_unpriced", model=options.model, note="token costs will be unknown")
    client = make_client(settings.gemini_api_key.get_secret_value(), options, settings.gemini_base_url)
    analyst = GeminiAnalyst(client, options)
    log.info("analyzer.gemini", model=options.model, max_concurrency=options.max_concurrency)
    try:
        yield AnalyzerDeps(
            ledger=ledger,
            prices=prices,
            analyst=analyst,
            breaker=breaker,
            clock=clock,
            metrics=metrics or NullMetrics(),
            cache_for=timedelta(days=settings.gemini_cache_days),
            tracing=tracing,
        )
    finally:
        await analyst.aclose()


@contextlib.asynccontextmanager
async def build(runtime: Runtime) -> AsyncIterator[Handler]:
    stage = runtime.telemetry.stage("analyzer")
    async with analyzer_deps(
        runtime.ledger, runtime.settings, metrics=stage.metrics, tracing=stage.tracing
    ) as deps:

        async def handle(event: Envelope) -> list:  # type: ignore[type-arg]
            return await handle_found(event, deps)

        yield handle


def messages_in_flight(settings: Settings) -> int:
    """Twice Gemini's bound, so that its slots never wait on the ledger reads and writes around each call.

    With the shared CLOUDTHRIFT_MAX_CONCURRENCY (10) below GEMINI_MAX_CONCURRENCY (16), the consumer,
    not the Gemini bound, would cap throughput (10 / 0.3 s = 33 findings/s at best). The messages above
    the bound wait for a slot while their visibility is extended; the rules alone need no more.
    """
    if settings.gemini_api_key is None:
        return settings.cloudthrift_max_concurrency
    return max(settings.cloudthrift_max_concurrency, 2 * settings.gemini_max_concurrency)


WORKER = WorkerSpec(
    name="analyzer",
    input="analyze",
    output="notify",
    build=build,
    accepts=(ResourceFound,),
    concurrency=messages_in_flight,
)
