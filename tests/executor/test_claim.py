"""The claim against the real ledger: renewed while working, taken over once expired, never stomped."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from services.executor.claim import ClaimLost, take_claim
from shared.errors import Superseded, TransientError
from shared.events import utcnow
from shared.ledger import State
from tests.executor.helpers import Clock, approve, sample_finding, state_of


async def test_a_taken_over_claim_can_neither_renew_nor_finish(ledger) -> None:
    finding = sample_finding()
    await approve(ledger, finding)
    clock = Clock()
    first = await take_claim(
        ledger, await state_of(ledger, finding.key), resume=False, ttl=timedelta(seconds=30), clock=clock
    )
    assert first is not None
    # A second fresh claim loses the race: the decision is no longer APPROVED.
    assert (
        await take_claim(
            ledger, await state_of(ledger, finding.key), resume=False, ttl=timedelta(seconds=30), clock=clock
        )
        is None
    )

    clock.advance(31)  # the first attempt stalled past its claim
    second = await take_claim(
        ledger, await state_of(ledger, finding.key), resume=True, ttl=timedelta(seconds=30), clock=clock
    )
    assert second is not None and second.resumed

    assert await first.renew() is False
    with pytest.raises(ClaimLost):
        await first.guard()
    assert (await first.finish(State.EXECUTED, {"dry_run": True}, "late")).applied is False
    assert (await second.finish(State.SKIPPED, {"skip_reason": "test"}, "owner")).applied is True
    assert (await state_of(ledger, finding.key)).state is State.SKIPPED


async def test_a_claim_is_renewed_while_the_work_runs(ledger) -> None:
    finding = sample_finding()
    await approve(ledger, finding)
    claim = await take_claim(
        ledger, await state_of(ledger, finding.key), resume=False, ttl=timedelta(seconds=1.5), clock=utcnow
    )
    assert claim is not None
    first_expiry = claim.expires_at

    async with claim.kept_alive():
        await asyncio.sleep(2.0)  # longer than the claim's lifetime
        stored = await state_of(ledger, finding.key)  # renewed in the background, not by the guard
        await claim.guard()  # still ours

    assert stored.time("claim_expires_at") > first_expiry
    assert stored.time("updated_at") > claim.expires_at - timedelta(seconds=1.5) - timedelta(seconds=1)
    # Renewals are bookkeeping: the history records the claim, not every heartbeat.
    assert [h["to"] for h in stored.get("history")][-1] == "EXECUTING"
    assert not any(h.get("note") == "claim renewed" for h in stored.get("history"))


async def test_a_claim_that_merely_expired_is_taken_again_at_the_guard(ledger) -> None:
    # Renewals fell behind (a busy loop, DynamoDB slow) and nobody took the decision over: the guard
    # renews it, conditionally on it still being ours, and the work goes on rather than failing.
    finding = sample_finding()
    await approve(ledger, finding)
    clock = Clock()
    claim = await take_claim(
        ledger, await state_of(ledger, finding.key), resume=False, ttl=timedelta(seconds=30), clock=clock
    )
    assert claim is not None
    clock.advance(45)

    await claim.guard()

    assert not claim.lost and claim.expires_at > clock()
    stored = await state_of(ledger, finding.key)
    assert stored.get("claim_id") == claim.claim_id and stored.time("claim_expires_at") > clock()
    assert (await claim.finish(State.EXECUTED, {"dry_run": True}, "done")).applied is True


async def test_a_taken_over_claim_is_superseded_not_retried(ledger) -> None:
    # Ending quietly is what keeps a take-over out of the dead-letter budget (shared/queue.py).
    assert issubclass(ClaimLost, Superseded) and not issubclass(ClaimLost, TransientError)
