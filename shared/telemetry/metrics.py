"""Metrics: one Protocol, a DogStatsD implementation, and the stages' one-line recorders."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

log = logging.getLogger("cloudthrift.telemetry")

Tags = Mapping[str, object] | None


class Metrics(Protocol):
    """What handlers and the runtime emit through; the value is a number, tags a name→value map."""

    def increment(self, name: str, value: float | Decimal = 1, tags: Tags = None) -> None: ...
    def gauge(self, name: str, value: float | Decimal, tags: Tags = None) -> None: ...
    def distribution(self, name: str, value: float | Decimal, tags: Tags = None) -> None: ...
    def tagged(self, **tags: object) -> Metrics: ...
    def flush(self, timeout: float = 1.0) -> None: ...


def _tag_list(*maps: Tags) -> list[str]:
    return [f"{k}:{v}" for tags in maps if tags for k, v in tags.items() if v is not None and v != ""]


class NullMetrics:
    """Telemetry off: every call is a no-op."""

    def increment(self, name: str, value: float | Decimal = 1, tags: Tags = None) -> None:
        pass

    def gauge(self, name: str, value: float | Decimal, tags: Tags = None) -> None:
        pass

    def distribution(self, name: str, value: float | Decimal, tags: Tags = None) -> None:
        pass

    def tagged(self, **tags: object) -> NullMetrics:
        return self

    def flush(self, timeout: float = 1.0) -> None:
        pass


@dataclass(frozen=True)
class Sample:
    kind: str  # count | gauge | distribution
    name: str
    value: float
    tags: dict[str, str]


@dataclass
class MemoryMetrics:
    """In-memory metrics for handler tests: `values("cloudthrift.approvals", decision="approved")`."""

    base: dict[str, str] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)

    def _add(self, kind: str, name: str, value: float | Decimal, tags: Tags) -> None:
        merged = self.base | {k: str(v) for k, v in (tags or {}).items() if v is not None}
        self.samples.append(Sample(kind, name, float(value), merged))

    def increment(self, name: str, value: float | Decimal = 1, tags: Tags = None) -> None:
        self._add("count", name, value, tags)

    def gauge(self, name: str, value: float | Decimal, tags: Tags = None) -> None:
        self._add("gauge", name, value, tags)

    def distribution(self, name: str, value: float | Decimal, tags: Tags = None) -> None:
        self._add("distribution", name, value, tags)

    def tagged(self, **tags: object) -> MemoryMetrics:
        """A view sharing this recorder, with more constant tags."""
        return MemoryMetrics(self.base | {k: str(v) for k, v in tags.items()}, self.samples)

    def flush(self, timeout: float = 1.0) -> None:
        pass

    def values(self, name: str, **tags: str) -> list[float]:
        return [
            s.value
            for s in self.samples
            if s.name == name and all(s.tags.get(k) == v for k, v in tags.items())
        ]


class DogStatsdMetrics:
    """DogStatsD over UDP; `client` is a `datadog.dogstatsd.DogStatsd`, shared by every tagged view."""

    def __init__(self, client: Any, tags: Tags = None) -> None:
        self._client = client
        self._tags = _tag_list(tags)

    @classmethod
    def from_environment(cls, *, env: str | None, version: str | None) -> DogStatsdMetrics:
        """A client for the Agent named by the DD_* variables, sending from a background thread.

        The package would also turn DD_ENV/DD_SERVICE/DD_VERSION into constant tags; we set them
        ourselves (the service differs per stage in one process), so its own are replaced.
        """
        from datadog.dogstatsd import DogStatsd

        client = DogStatsd(
            disable_background_sender=False,
            sender_queue_size=10_000,
            sender_queue_timeout=0,  # queue full: drop, never wait
            disable_telemetry=True,
        )
        client.constant_tags = _tag_list({"env": env, "version": version})
        return cls(client)

    def _send(self, method: str, name: str, value: float | Decimal, tags: Tags) -> None:
        try:
            number = value if isinstance(value, int) else float(value)  # 1, not 1.0, on the wire
            getattr(self._client, method)(name, number, tags=self._tags + _tag_list(tags))
        except Exception:  # telemetry must never break a stage
            log.debug("metric %s dropped", name, exc_info=True)

    def increment(self, name: str, value: float | Decimal = 1, tags: Tags = None) -> None:
        self._send("increment", name, value, tags)

    def gauge(self, name: str, value: float | Decimal, tags: Tags = None) -> None:
        self._send("gauge", name, value, tags)

    def distribution(self, name: str, value: float | Decimal, tags: Tags = None) -> None:
        self._send("distribution", name, value, tags)

    def tagged(self, **tags: object) -> DogStatsdMetrics:
        view = DogStatsdMetrics(self._client)
        view._tags = self._tags + _tag_list(tags)
        return view

    def flush(self, timeout: float = 1.0) -> None:
        with contextlib.suppress(Exception):
            self._client.wait_for_pending(timeout=timeout)

    def close(self, timeout: float = 1.0) -> None:
        """Send what is queued, waiting at most `timeout`: an Agent name that does not resolve keeps
        the sender inside getaddrinfo, so the stop runs in a daemon thread we stop waiting for."""

        def stop() -> None:
            with contextlib.suppress(Exception):
                self._client.stop(timeout=timeout)
                self._client.close_socket(quiet=True)

        stopper = threading.Thread(target=stop, name="dogstatsd-close", daemon=True)
        stopper.start()
        stopper.join(timeout)


# --- one-liners for the stages -----------------------------------------------------------------


def record_approval(metrics: Metrics, decision: str, *, via: str, kind: str) -> None:
    """A human's answer on a card or the CLI: decision is approved, rejected or snoozed."""
    metrics.increment("cloudthrift.approvals", tags={"decision": decision, "via": via, "kind": kind})


def record_republished(metrics: Metrics, *, by: str, kind: str) -> None:
    """An approval whose ApprovalGranted was lost, sent again: by the executor's sweep or a later click."""
    metrics.increment("cloudthrift.approvals.republished", tags={"by": by, "kind": kind})


def record_execution(
    metrics: Metrics,
    outcome: str,
    *,
    kind: str,
    region: str,
    account_id: str,
    dry_run: bool,
    monthly_saving_usd: Decimal | float = 0,
) -> None:
    """One executor outcome (executed, skipped, failed); an executed one adds its monthly saving."""
    tags = {"kind": kind, "region": region, "account_id": account_id, "dry_run": str(dry_run).lower()}
    metrics.increment("cloudthrift.executions", tags=tags | {"outcome": outcome})
    if outcome == "executed":
        metrics.increment("cloudthrift.cost_avoided.monthly_usd", monthly_saving_usd, tags=tags)


def record_restore(metrics: Metrics, outcome: str, *, kind: str, region: str, account_id: str) -> None:
    """One undo outcome (issue 14): restored, restore_failed, or waiting (resumed later)."""
    tags = {"kind": kind, "region": region, "account_id": account_id, "outcome": outcome}
    metrics.increment("cloudthrift.restores", tags=tags)


def record_gemini_usage(
    metrics: Metrics,
    *,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cost_usd: Decimal | float,
    outcome: str = "ok",
) -> None:
    """One model call: tokens each way and what it cost (from the price table in PROTOCOLS B5)."""
    metrics.increment("cloudthrift.gemini.calls", tags={"model": model, "outcome": outcome})
    metrics.increment("cloudthrift.gemini.tokens", input_tokens, tags={"model": model, "direction": "input"})
    metrics.increment(
        "cloudthrift.gemini.tokens", output_tokens, tags={"model": model, "direction": "output"}
    )
    metrics.increment("cloudthrift.gemini.cost_usd", cost_usd, tags={"model": model})
