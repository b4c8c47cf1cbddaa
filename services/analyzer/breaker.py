"""A circuit breaker in front of Gemini: after repeated failures, stop paying a timeout per finding.

    closed ──(N consecutive failures)──► open ──(cool-down elapsed)──► half-open: one trial call
       ▲                                   ▲                                │
       └──────────── trial succeeds ───────┼──────── trial fails ───────────┘

While open, every finding gets the rule-based analysis at once. Only one trial call is let through
when the cool-down ends, so a still-broken Gemini costs one timeout per cool-down, not one per finding
in flight. The clock is injected so tests move time instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import structlog

log = structlog.get_logger("cloudthrift.analyzer.breaker")

BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    def __init__(
        self, *, failures: int, cooldown_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._cooldown:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """May a call go out now? In half-open, only the first caller gets True until it reports."""
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        if self._opened_at is not None:
            log.info("gemini.breaker_closed")
        self._consecutive = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        self._consecutive += 1
        was_trial = self._trial_in_flight
        self._trial_in_flight = False
        if was_trial or (self._opened_at is None and self._consecutive >= self._threshold):
            self._opened_at = self._clock()
            log.warning(
                "gemini.breaker_open",
                consecutive_failures=self._consecutive,
                cooldown_s=self._cooldown,
                after_trial=was_trial,
            )

    def release(self) -> None:
        """A call that ended without a verdict on Gemini's health (e.g. cancelled): free the trial slot."""
        self._trial_in_flight = False
