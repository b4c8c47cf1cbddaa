"""The process-wide telemetry the runner builds, what each stage gets from it, and the queue hooks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.telemetry.agent import AgentGate, agent_configured
from shared.telemetry.metrics import DogStatsdMetrics, Metrics, NullMetrics
from shared.telemetry.tracing import MESSAGE_SPAN, Tracing, finish, message_carrier

log = logging.getLogger("cloudthrift.telemetry")


@dataclass(frozen=True)
class Stage:
    """What one stage (scanner, analyzer, notifier, executor, interactions) reports through."""

    name: str
    metrics: Metrics
    tracing: Tracing

    @classmethod
    def off(cls, name: str = "worker") -> Stage:
        return cls(name, NullMetrics(), Tracing(f"cloudthrift-{name}", enabled=False))


@dataclass(frozen=True)
class Telemetry:
    """Built once by the runner from the settings; `stage(name)` hands each worker its own service."""

    metrics: Metrics = field(default_factory=NullMetrics)
    # A switch, or an AgentGate: spans only while the Agent answers.
    tracing: bool | Callable[[], bool] = False
    env: str | None = None
    version: str | None = None

    def stage(self, name: str) -> Stage:
        service = f"cloudthrift-{name}"
        return Stage(
            name=name,
            metrics=self.metrics.tagged(service=service),
            tracing=Tracing(service, enabled=self.tracing, env=self.env, version=self.version),
        )

    @classmethod
    def from_settings(cls, settings: Any, *, short_lived: bool = False) -> Telemetry:
        """DogStatsD unless DD_DOGSTATSD_DISABLE; spans unless DD_TRACE_ENABLED=false, and only while
        a trace Agent answers (agent.py).

        Args:
            short_lived: a CLI command: one probe, said at debug level; a worker announces a missing
                Agent once and keeps probing, so an Agent that starts later is used.
        """
        version = settings.dd_version or _package_version()
        metrics: Metrics = NullMetrics()
        gate = AgentGate(announce=not short_lived) if settings.dd_trace_enabled or short_lived else None
        if not settings.dd_dogstatsd_disable and (not short_lived or _metrics_agent_known(gate)):
            try:
                metrics = DogStatsdMetrics.from_environment(env=settings.dd_env, version=version)
            except Exception:  # a bad DD_DOGSTATSD_URL must not stop a worker
                log.warning("DogStatsD client unavailable; metrics off", exc_info=True)
        tracing: bool | AgentGate = False
        if settings.dd_trace_enabled and gate is not None:
            tracing = gate
            if not short_lived:
                tracing.watch()
        return cls(metrics=metrics, tracing=tracing, env=settings.dd_env, version=version)

    def close(self) -> None:
        """Send what is pending (bounded wait), at shutdown."""
        closer = getattr(self.metrics, "close", None)
        if closer is not None:
            closer()
        if isinstance(self.tracing, AgentGate):
            self.tracing.close()
        if self.tracing is True or (callable(self.tracing) and self.tracing()):
            Tracing.flush()


def _metrics_agent_known(gate: AgentGate | None) -> bool:
    """Whether a short-lived command should send DogStatsD metrics: an Agent is configured by name
    (DD_AGENT_HOST, DD_DOGSTATSD_URL/HOST) or answers on its trace port. Otherwise the command stays
    quiet and skips importing the datadog package, whose HTTP API client (requests, urllib3) is
    about a tenth of `cloudthrift approve`'s start-up. Workers always send: an Agent may come later.
    """
    return agent_configured() or (gate is not None and gate())


def _package_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cloudthrift")
    except PackageNotFoundError:
        return None


class MessageTelemetry:
    """One received SQS message: its lag, its span (child of the producer's), its outcome.

    Created in the message's own asyncio task, so the span it activates is what the handler's spans
    and log lines see, and what `attributes()` passes on to the messages the handler produces.
    """

    def __init__(self, stage: Stage, queue: str, message: Mapping[str, Any]) -> None:
        self._stage = stage
        self._queue = queue
        self._started = time.monotonic()
        self._event_type = "unknown"
        self._finished = False
        self.span: Any = None
        attributes = message.get("Attributes", {})
        try:
            sent = attributes.get("SentTimestamp")
            if sent:
                lag = max(0.0, time.time() - int(sent) / 1000)
                stage.metrics.distribution(
                    "cloudthrift.queue.lag", lag, {"queue": queue, "stage": stage.name}
                )
            # No carrier (a scheduled scan, a CLI request): this message starts its own trace.
            carrier = message_carrier(message)
            self.span = stage.tracing.start(MESSAGE_SPAN, resource=queue, parent=carrier, root=True)
            if self.span is not None:
                self.span.set_tags(
                    {
                        "messaging.system": "aws_sqs",
                        "messaging.destination.name": queue,
                        "messaging.message.id": message.get("MessageId", ""),
                        "cloudthrift.receive_count": attributes.get("ApproximateReceiveCount", "1"),
                    }
                )
        except Exception:  # telemetry must never cost a message
            log.debug("message telemetry not started", exc_info=True)

    def describe(self, event: Any) -> None:
        self._event_type = event.type
        if self.span is not None:
            try:
                self.span.resource = event.type
                self.span.set_tag("cloudthrift.event_id", str(event.id))
            except Exception:
                log.debug("span not described", exc_info=True)

    def attributes(self) -> dict[str, dict[str, str]] | None:
        """Message attributes that make the outputs children of this message's span."""
        return self._stage.tracing.message_attributes()

    def finish(self, outcome: str, error: BaseException | None = None) -> None:
        """outcome: ok, retry or dead_letter. Only the first call counts."""
        if self._finished:
            return
        self._finished = True
        metrics = self._stage.metrics
        tags = {"stage": self._stage.name, "event_type": self._event_type, "outcome": outcome}
        metrics.distribution("cloudthrift.stage.latency", time.monotonic() - self._started, tags)
        metrics.increment("cloudthrift.stage.messages", tags=tags)
        if error is not None:
            metrics.increment("cloudthrift.stage.errors", tags=tags | {"error": type(error).__name__})
        if outcome == "dead_letter":
            error_name = type(error).__name__ if error is not None else "unknown"
            dlq_tags = {"queue": self._queue, "stage": self._stage.name, "error": error_name}
            metrics.increment("cloudthrift.dlq.moved", tags=dlq_tags)
        finish(self.span, error)


async def report_gauges(
    sqs: Any, queues: Sequence[Any], metrics: Metrics, ledger: Any = None, now: datetime | None = None
) -> None:
    """Queue and DLQ depths of `queues` (QueueRefs); pending approvals too when given the ledger."""
    for queue in queues:
        for url, name in ((queue.url, "cloudthrift.queue.depth"), (queue.dlq_url, "cloudthrift.dlq.depth")):
            answer = await sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            depth = int(answer.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))
            metrics.gauge(name, depth, {"queue": queue.name})
    if ledger is None:
        return
    from shared.ledger import State

    now = now or datetime.now(UTC)
    count, oldest, money = 0, 0.0, Decimal(0)
    async for decision in ledger.by_state(State.AWAITING_APPROVAL):
        count += 1
        since = decision.time("updated_at")
        if since is not None:
            oldest = max(oldest, (now - since).total_seconds())
        money += Decimal(str(decision.get("monthly_cost_usd", 0)))
    metrics.gauge("cloudthrift.approvals.pending", count)
    metrics.gauge("cloudthrift.approvals.pending_age_max", oldest)
    metrics.gauge("cloudthrift.approvals.pending_monthly_usd", money)


async def sample_gauges(every: float, stop: asyncio.Event, **report: Any) -> None:
    """`report_gauges` every `every` seconds until `stop` (the first after one interval, so a short-lived
    process adds no calls); a failed round is logged and skipped."""
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
            return
        except TimeoutError:
            pass
        try:
            await report_gauges(**report)
        except Exception as exc:
            log.warning("gauges not reported: %s", exc)
