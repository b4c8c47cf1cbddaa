"""Spans for one stage, and the trace context carried through SQS and the ledger.

ddtrace is imported lazily, only by a `Tracing` that is enabled: importing shared code never turns
tracing on (no `ddtrace.auto` side effect), and a process with tracing off never loads ddtrace at all.
The context travels as the JSON of `HTTPPropagator.inject` headers, in the `_datadog` message attribute
(the name ddtrace's own botocore integration uses, so a sync-boto3 producer or consumer interoperates)
and in the decision's `trace_context` attribute.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

log = logging.getLogger("cloudthrift.telemetry")

TRACE_ATTRIBUTE = "_datadog"
TRACE_CONTEXT_FIELD = "trace_context"
MESSAGE_SPAN = "cloudthrift.message"


class Tracing:
    """One stage's tracer: spans carry `service`, plus `env` and `version` set explicitly.

    ddtrace puts `version` only on spans whose service equals DD_SERVICE (PROTOCOLS C3); our stages
    are services of their own, so we tag it ourselves.
    """

    def __init__(
        self,
        service: str,
        *,
        enabled: bool | Callable[[], bool],
        env: str | None = None,
        version: str | None = None,
    ) -> None:
        """Args:
        enabled: a switch, or a gate asked before each span (shared/telemetry/agent.py: no spans
            while no Agent answers).
        """
        self.service = service
        self._enabled = enabled
        self._tags = {k: v for k, v in (("env", env), ("version", version)) if v}

    @property
    def enabled(self) -> bool:
        return self._enabled() if callable(self._enabled) else self._enabled

    def start(
        self,
        name: str,
        *,
        resource: str | None = None,
        parent: str | Mapping[str, str] | None = None,
        root: bool = False,
    ) -> Any:
        """Start and activate a span in the current task: a child of `parent` (a carrier) if it holds
        a context, else of the active span, else (or with `root`) the first span of a new trace.

        Returns None when tracing is off or ddtrace fails: callers treat the span as optional.
        """
        if not self.enabled:
            return None
        try:
            from ddtrace.trace import tracer

            child_of = _extract(parent)
            if child_of is None and not root:
                child_of = tracer.context_provider.active()
            span = tracer.start_span(
                name,
                child_of=child_of,
                service=self.service,
                resource=resource or name,
                span_type="worker",
                activate=True,
            )
            span.set_tags(self._tags)
            return span
        except Exception:
            log.debug("span %s not started", name, exc_info=True)
            return None

    @contextlib.contextmanager
    def span(
        self, name: str, *, resource: str | None = None, parent: str | Mapping[str, str] | None = None
    ) -> Iterator[Any]:
        """`start` as a block (e.g. a Gemini call inside a handler); an exception leaving the block
        marks the span as an error."""
        span = self.start(name, resource=resource, parent=parent)
        try:
            yield span
        except BaseException as exc:
            finish(span, exc)
            raise
        finish(span)

    def resume(self, carrier: str | Mapping[str, str] | None, name: str, *, resource: str | None = None):
        """Continue a stored trace (e.g. the decision's `trace_context` on an approval click)."""
        return self.span(name, resource=resource, parent=carrier)

    def carrier(self) -> dict[str, str]:
        """The propagation headers of the active span ({} when there is none)."""
        if not self.enabled or "ddtrace" not in sys.modules:
            return {}
        try:
            from ddtrace.propagation.http import HTTPPropagator
            from ddtrace.trace import tracer

            span = tracer.current_span()
            if span is None:
                return {}
            headers: dict[str, str] = {}
            HTTPPropagator.inject(span.context, headers)
            return headers
        except Exception:
            log.debug("trace context not injected", exc_info=True)
            return {}

    def message_attributes(self) -> dict[str, dict[str, str]] | None:
        """`attributes=` for `Publisher.publish`: the active span's context, one SQS attribute."""
        headers = self.carrier()
        if not headers:
            return None
        return {TRACE_ATTRIBUTE: {"DataType": "String", "StringValue": json.dumps(headers)}}

    def ledger_fields(self) -> dict[str, str]:
        """`fields=` for `Ledger.transition`: the active span's context, stored with the decision."""
        headers = self.carrier()
        return {TRACE_CONTEXT_FIELD: json.dumps(headers)} if headers else {}

    @staticmethod
    def flush(timeout: float = 2.0) -> None:
        """Send finished spans, waiting at most `timeout`: with no Agent, ddtrace retries for seconds."""
        if "ddtrace" not in sys.modules:
            return

        def flush() -> None:
            with contextlib.suppress(Exception):
                from ddtrace.trace import tracer

                tracer.flush()

        flusher = threading.Thread(target=flush, name="ddtrace-flush", daemon=True)
        flusher.start()
        flusher.join(timeout)


def message_carrier(message: Mapping[str, Any]) -> str | None:
    """The trace context an SQS message carries, if any."""
    attribute = message.get("MessageAttributes", {}).get(TRACE_ATTRIBUTE)
    return attribute.get("StringValue") if attribute else None


def finish(span: Any, error: BaseException | None = None) -> None:
    """Finish a span (None is fine), recording the error if there was one."""
    if span is None:
        return
    try:
        if error is not None:
            span.set_exc_info(type(error), error, error.__traceback__)
        span.finish()
    except Exception:
        log.debug("span not finished cleanly", exc_info=True)


def annotate(span: Any, **values: str | int | float | None) -> None:
    """Set tags (strings) and metrics (numbers) on a span, if there is one; never raises."""
    if span is None:
        return
    try:
        for key, value in values.items():
            if value is None:
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                span.set_metric(key, value)
            else:
                span.set_tag(key, str(value))
    except Exception:
        log.debug("span not annotated", exc_info=True)


def _extract(carrier: str | Mapping[str, str] | None) -> Any:
    if not carrier:
        return None
    try:
        from ddtrace.propagation.http import HTTPPropagator

        headers = json.loads(carrier) if isinstance(carrier, str) else dict(carrier)
        context = HTTPPropagator.extract(headers)
        return context if context.trace_id else None
    except Exception:  # a mangled attribute starts a new trace, it never fails the message
        log.debug("trace context not extracted", exc_info=True)
        return None


def add_trace_correlation(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: inside a span, add the dd.* keys that link a log line to its trace.

    `dd.service` is the span's service (the stage), not the process-wide DD_SERVICE, so one process
    running every stage still files each line under the right service.
    """
    if "ddtrace" not in sys.modules:
        return event_dict
    try:
        from ddtrace.trace import tracer

        span = tracer.current_span()
        if span is None:
            return event_dict
        correlation = tracer.get_log_correlation_context(active=span)
        correlation["dd.service"] = span.service or correlation["dd.service"]
        for key in ("env", "version"):
            if not correlation.get(f"dd.{key}"):
                root = tracer.current_root_span() or span
                correlation[f"dd.{key}"] = str(span.get_tag(key) or root.get_tag(key) or "")
        event_dict.update(correlation)
    except Exception:
        pass
    return event_dict
