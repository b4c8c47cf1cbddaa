"""The circuit breaker opens after N failures, waits a cool-down, then lets one trial through."""

from __future__ import annotations

from services.analyzer.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_only():
    breaker = CircuitBreaker(failures=3, cooldown_seconds=60, clock=Clock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # resets the count
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.allow() and breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()


def test_half_open_lets_exactly_one_trial_and_success_closes():
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown_seconds=60, clock=clock)
    breaker.record_failure()
    clock.now += 59
    assert not breaker.allow()
    clock.now += 1
    assert breaker.state == "half-open"
    assert breaker.allow()
    assert not breaker.allow()  # a second caller waits for the trial's verdict
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def test_failed_trial_reopens_for_a_full_cooldown():
    clock = Clock()
    breaker = CircuitBreaker(failures=2, cooldown_seconds=30, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 30
    assert breaker.allow()
    breaker.record_failure()  # one failure is enough in half-open
    assert breaker.state == "open"
    clock.now += 29
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_released_trial_frees_the_slot():
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown_seconds=10, clock=clock)
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.release()  # the trial was cancelled: no verdict
    assert breaker.allow()
