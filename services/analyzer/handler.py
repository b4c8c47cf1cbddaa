"""ResourceFound in, ResourceAnalyzed out: explain each finding once, with Gemini or the rules.

Idempotent under SQS redelivery, because the ledger decides before anything is spent:

- FOUND: analyse, then FOUND → ANALYZED (conditional on the decision id read), then publish;
- ANALYZED for the same facts (fingerprint): a redelivery; re-publish the stored analysis, no call;
- ANALYZED for other facts: a newer scan saw a change; re-analyse (ANALYZED → ANALYZED), unless this
  message is older than the one analysed (a late duplicate must not roll the analysis back);
- AWAITING_APPROVAL or later: the human has it (or had it); publish nothing.

Gemini's answers are cached by the finding's fingerprint, so the next cycle of an unchanged resource
(after a snooze, a skip, a dry run) does not pay for the same explanation again. The cache lives on
the decision item itself (`gemini_analysis`, `gemini_cache_key`), not in records of its own: the
fingerprint includes the resource id, so a cache entry could only ever serve that one decision, and
keeping it there costs no extra DynamoDB read or write per finding (two calls in all: the read and
the conditional transition). New cycles keep these fields; a rules fallback leaves them untouched.
Rule-based analyses are never cached: a later scan should try Gemini again. A cached answer expires
after GEMINI_CACHE_DAYS (`gemini_cached_at`): its text was written for the resource as it was then
("idle for 10 days" reads wrong three months later), and a newer model may be configured by then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

import structlog

from services.analyzer.answers import GeminiAnswer, GeminiFailure
from services.analyzer.breaker import CircuitBreaker
from services.analyzer.costs import ModelPrices
from services.analyzer.rules import raise_to_floor, rules_analysis, within_offer
from shared.config import default
from shared.errors import InvalidEvent, TransientError
from shared.events import Analysis, Envelope, Finding, ResourceAnalyzed, ResourceFound, utcnow
from shared.ledger import Attr, Decision, Ledger, State
from shared.telemetry.metrics import Metrics, NullMetrics, record_gemini_usage
from shared.telemetry.tracing import Tracing, annotate

log = structlog.get_logger("cloudthrift.analyzer")

_ATTEMPTS = 3  # reads after a lost race before handing the message back to the queue
_NO_TRACING = Tracing("cloudthrift-analyzer", enabled=False)
GEMINI_SPAN = "gemini.generate_content"


class Analyst(Protocol):
    """What the handler needs from Gemini (the real `GeminiAnalyst`, or anything shaped like it)."""

    @property
    def model(self) -> str: ...

    async def analyse(self, finding: Finding, now: datetime) -> GeminiAnswer: ...


@dataclass(frozen=True)
class AnalyzerDeps:
    ledger: Ledger
    prices: ModelPrices
    analyst: Analyst | None = None  # None: no GEMINI_API_KEY, every analysis comes from the rules
    breaker: CircuitBreaker = field(
        default_factory=lambda: CircuitBreaker(
            failures=default("gemini_breaker_failures"),
            cooldown_seconds=default("gemini_breaker_cooldown_seconds"),
        )
    )
    clock: Callable[[], datetime] = utcnow
    metrics: Metrics = field(default_factory=NullMetrics)
    cache_for: timedelta = timedelta(days=default("gemini_cache_days"))  # zero turns the cache off
    # The analyzer stage's tracer: each Gemini call is a span under the message's, so its latency and
    # failures show in the trace that follows the finding.
    tracing: Tracing | None = None


@dataclass(frozen=True)
class Produced:
    analysis: Analysis
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal | None = None
    cached: bool = False
    fallback_reason: str | None = None
    fresh_gemini: Analysis | None = None  # Gemini's answer as given (before the risk floor): to cache


def cache_key(finding: Finding, model: str) -> str:
    """Fingerprint (facts and tags), plus what else changes the text: the model and the money."""
    extra = f"{model}|{finding.cost.monthly_usd}|{finding.cost.net_monthly_saving_usd}"
    return f"{finding.fingerprint}#{hashlib.sha256(extra.encode()).hexdigest()[:12]}"


def _cached(decision: Decision, key: str | None, now: datetime, cache_for: timedelta) -> Analysis | None:
    """The Gemini analysis kept on the decision, if it was made for exactly this key, recently enough."""
    raw = decision.get(Attr.GEMINI_ANALYSIS)
    if key is None or raw is None or decision.get(Attr.GEMINI_CACHE_KEY) != key:
        return None
    cached_at = decision.time(Attr.GEMINI_CACHED_AT)
    if cached_at is None or now - cached_at >= cache_for:
        return None
    return Analysis.model_validate_json(raw)


async def handle_found(event: Envelope[ResourceFound], deps: AnalyzerDeps) -> list[ResourceAnalyzed]:
    if not isinstance(event.payload, ResourceFound):
        raise InvalidEvent(f"the analyzer reads ResourceFound, not {event.type}")
    finding = event.payload.finding
    structlog.contextvars.bind_contextvars(pk=finding.key.pk, kind=finding.kind)
    key = cache_key(finding, deps.analyst.model) if deps.analyst is not None else None
    decision = await deps.ledger.get(finding.key)
    for _ in range(_ATTEMPTS):
        if decision is None:
            log.info("analysis.no_decision", note="forgotten since (resource busy again): nothing to do")
            return []
        step = _next_step(decision, finding, event.occurred_at)
        if step == "skip":
            log.info("analysis.skipped", state=decision.state.value)
            return []
        if step == "republish":
            stored = decision.analysis
            assert stored is not None  # _next_step only says republish when there is one
            log.info("analysis.republished", source=stored.source)
            return [ResourceAnalyzed(finding=finding, analysis=stored)]
        now = deps.clock()
        produced = await produce(finding, deps, now, _cached(decision, key, now, deps.cache_for))
        fields = _fields(produced, finding, event, now)
        if produced.fresh_gemini is not None:
            fields |= {
                Attr.GEMINI_ANALYSIS: produced.fresh_gemini,
                Attr.GEMINI_CACHE_KEY: key,
                Attr.GEMINI_CACHED_AT: now,
            }
        result = await deps.ledger.transition(
            decision.pk,
            decision.state,
            State.ANALYZED,
            fields=fields,
            actor="analyzer",
            note=f"analysis by {produced.analysis.source}",
            expected_decision_id=decision.decision_id,
        )
        if result.applied:
            log.info(
                "analysis.recorded",
                source=produced.analysis.source,
                risk=produced.analysis.risk,
                recommendation=produced.analysis.recommendation,
                cached=produced.cached,
                tokens_in=produced.tokens_in,
                tokens_out=produced.tokens_out,
                fallback_reason=produced.fallback_reason,
            )
            return [ResourceAnalyzed(finding=finding, analysis=produced.analysis)]
        log.info("analysis.lost_race", state=result.current.state.value if result.current else None)
        decision = result.current
    raise TransientError(f"ledger item {finding.key.pk} kept changing under the analyzer")


def _next_step(
    decision: Decision, finding: Finding, occurred_at: datetime
) -> Literal["analyse", "republish", "skip"]:
    if decision.state is State.FOUND:
        return "analyse"
    if decision.state is not State.ANALYZED:
        return "skip"
    if decision.analysis is not None and decision.get(Attr.ANALYSIS_FINGERPRINT) == finding.fingerprint:
        return "republish"
    analysed_event_at = decision.time(Attr.ANALYSIS_EVENT_AT)
    if analysed_event_at is not None and occurred_at <= analysed_event_at:
        return "skip"  # a late copy of an older scan's message: the newer analysis stands
    return "analyse"


def _fields(
    produced: Produced, finding: Finding, event: Envelope[ResourceFound], now: datetime
) -> dict[str, object]:
    fields: dict[str, object] = {
        Attr.ANALYSIS: produced.analysis,
        Attr.ANALYSIS_SOURCE: produced.analysis.source,
        Attr.ANALYSIS_FINGERPRINT: finding.fingerprint,
        Attr.ANALYSIS_EVENT_AT: event.occurred_at,
        Attr.ANALYSIS_CACHED: produced.cached,
        Attr.ANALYSIS_TOKENS_IN: produced.tokens_in,
        Attr.ANALYSIS_TOKENS_OUT: produced.tokens_out,
        Attr.ANALYZED_AT: now,
        # The decision shows what was analysed (a re-scan may have changed the facts since FOUND).
        Attr.FINDING: finding,
        Attr.FINGERPRINT: finding.fingerprint,
    }
    if produced.cost_usd is not None:
        fields[Attr.ANALYSIS_COST_USD] = produced.cost_usd
    if produced.fallback_reason:
        fields[Attr.ANALYSIS_FALLBACK_REASON] = produced.fallback_reason[:300]
    return fields


async def produce(
    finding: Finding, deps: AnalyzerDeps, now: datetime, cached: Analysis | None = None
) -> Produced:
    """The analysis for one finding: cached Gemini, fresh Gemini, or the rules; never an exception
    for anything Gemini does. `now` is the one time this analysis is made at (the cache's age, the
    rules, the record); `cached` is Gemini's earlier answer for these exact facts, if any."""
    floor = rules_analysis(finding, now)
    if deps.analyst is None:
        return Produced(floor)
    model = deps.analyst.model
    if cached is not None:
        return Produced(within_offer(raise_to_floor(cached, floor), finding), cached=True)
    if not deps.breaker.allow():
        return Produced(floor, fallback_reason="circuit breaker open: Gemini skipped for a cool-down")
    try:
        with (deps.tracing or _NO_TRACING).span(GEMINI_SPAN, resource=model) as span:
            annotate(span, **{"gemini.model": model})
            answer = await deps.analyst.analyse(finding, now)
            annotate(span, **{"gemini.tokens_in": answer.tokens_in, "gemini.tokens_out": answer.tokens_out})
    except GeminiFailure as failure:
        if failure.counts_against_service:
            deps.breaker.record_failure()
        else:
            deps.breaker.record_success()  # Gemini answered; this finding's answer was unusable
        log.warning("gemini.failed", failure=failure.kind, detail=failure.detail, breaker=deps.breaker.state)
        record_gemini_usage(
            deps.metrics,
            model=model,
            input_tokens=failure.tokens_in,
            output_tokens=failure.tokens_out,
            cost_usd=deps.prices.cost(model, failure.tokens_in, failure.tokens_out) or 0,
            outcome=failure.kind,
        )
        return Produced(
            floor,
            tokens_in=failure.tokens_in,
            tokens_out=failure.tokens_out,
            cost_usd=deps.prices.cost(model, failure.tokens_in, failure.tokens_out),
            fallback_reason=str(failure),
        )
    except BaseException:
        deps.breaker.release()
        raise
    deps.breaker.record_success()
    record_gemini_usage(
        deps.metrics,
        model=model,
        input_tokens=answer.tokens_in,
        output_tokens=answer.tokens_out,
        cost_usd=deps.prices.cost(model, answer.tokens_in, answer.tokens_out) or 0,
    )
    return Produced(
        within_offer(raise_to_floor(answer.analysis, floor), finding),
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
        cost_usd=deps.prices.cost(model, answer.tokens_in, answer.tokens_out),
        fresh_gemini=answer.analysis,  # cached as Gemini said it: the floor is re-applied on reuse
    )
