"""The executor's claim on a decision: the conditional APPROVED → EXECUTING write that guards AWS.

Whoever wins the claim is the only one allowed to touch the resource. A claim expires (a crashed
executor's work is taken over and resumed), so while an attempt runs it renews its claim alongside the
queue's visibility heartbeat: the claim's lifetime is the message's invisibility, mirrored in the
ledger. Renewals and the final outcome are conditional on our own `claim_id`, so an executor that
was taken over can never renew or end the new owner's claim, and stops before its next AWS call.

The claim has its own lifetime (CLOUDTHRIFT_CLAIM_TTL_SECONDS), renewed every third of it and
independent of the queue's visibility timeout. A claim that merely expired (renewals fell behind, the
event loop was busy) is renewed at the next guard, conditionally on nobody having taken it since, and
the job goes on: that is exactly as safe as a take-over by another delivery. A claim another executor
took over ends this delivery quietly (`ClaimLost` is `Superseded`): the owner finishes the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from shared.errors import Superseded
from shared.ledger import Attr, Decision, Ledger, State, TransitionResult

log = structlog.get_logger("cloudthrift.executor")
ACTOR = "executor"


class ClaimLost(Superseded):
    """Another attempt took this decision over; stop touching AWS and leave the work to it."""


@dataclass
class Claim:
    ledger: Ledger
    pk: str
    decision_id: str
    claim_id: str
    ttl: timedelta
    clock: Callable[[], datetime]
    resumed: bool
    expires_at: datetime
    lost: bool = False
    # The state the claim holds: EXECUTING for a clean-up, RESTORING for an undo (restore.py).
    state: State = State.EXECUTING

    async def guard(self) -> None:
        """Called right before every destructive AWS call: an expired claim is taken again if still ours."""
        if not self.lost and self.clock() >= self.expires_at:
            log.info("executor.claim_expired_renewing", pk=self.pk, claim_id=self.claim_id)
            await self.renew()
        if self.lost:
            raise ClaimLost(f"claim {self.claim_id} on {self.pk} was taken over; the new owner finishes")

    async def renew(self) -> bool:
        """Extend our claim, conditionally on it still being ours; False (and lost) if it is not.

        Bookkeeping, not a state change: no history entry (a long snapshot would add one every few
        seconds), but `updated_at` moves, so the sweep's index query skips a claim that is alive.
        """
        now = self.clock()
        applied = await self.ledger.update_if(
            self.pk,
            update="SET claim_expires_at = :expires, updated_at = :now",
            condition="#state = :executing AND decision_id = :decision_id AND claim_id = :claim_id",
            names={"#state": "state"},
            values={
                ":expires": now + self.ttl,
                ":now": now,
                ":executing": self.state.value,
                ":decision_id": self.decision_id,
                ":claim_id": self.claim_id,
            },
        )
        if applied:
            self.expires_at = now + self.ttl
        else:
            self.lost = True
        return applied

    @contextlib.asynccontextmanager
    async def kept_alive(self) -> AsyncIterator[Claim]:
        """Renew the claim every third of its lifetime while the body runs."""
        task = asyncio.create_task(self._keep_alive(), name=f"claim:{self.pk}")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep_alive(self) -> None:
        every = max(self.ttl.total_seconds() / 3, 0.05)
        while not self.lost:
            await asyncio.sleep(every)
            try:
                if not await self.renew():
                    log.warning("executor.claim_taken_over", pk=self.pk, claim_id=self.claim_id)
            except Exception as exc:  # DynamoDB briefly unreachable: try again; guard() checks expiry
                log.warning("executor.claim_renew_failed", pk=self.pk, error=str(exc))

    async def release(self, why: str) -> None:
        """Let the next delivery take over at once (used before a retry); best effort."""
        now = self.clock()
        try:
            await self.ledger.transition(
                self.pk,
                self.state,
                self.state,
                fields={Attr.CLAIM_EXPIRES_AT: now},
                actor=ACTOR,
                note=f"claim released: {why}"[:300],
                now=now,
                expected_decision_id=self.decision_id,
                expected_claim_id=self.claim_id,
            )
        except Exception as exc:  # the claim still expires on its own
            log.warning("executor.claim_release_failed", pk=self.pk, error=str(exc))

    async def finish(self, state: State, fields: Mapping[str, Any], note: str) -> TransitionResult:
        now = self.clock()
        return await self.ledger.transition(
            self.pk,
            self.state,
            state,
            fields=fields,
            actor=ACTOR,
            note=note[:300],
            now=now,
            expected_decision_id=self.decision_id,
            expected_claim_id=self.claim_id,
        )


async def take_claim(
    ledger: Ledger,
    decision: Decision,
    *,
    resume: bool,
    ttl: timedelta,
    clock: Callable[[], datetime],
) -> Claim | None:
    """Claim a decision (APPROVED → EXECUTING), or take over a failed or expired attempt; None if beaten."""
    now = clock()
    claim_id = str(uuid.uuid4())
    fields = {Attr.CLAIM_ID: claim_id, Attr.CLAIM_EXPIRES_AT: now + ttl, Attr.CLAIMED_AT: now}
    if resume:
        # FAILED (a DLQ replay), or EXECUTING whose claim expired (a crashed or released attempt).
        result = await ledger.transition(
            decision.pk,
            State.FAILED,
            State.EXECUTING,
            fields=fields,
            actor=ACTOR,
            note="resumed an earlier attempt",
            now=now,
            claim_expired_before=now,
            expected_decision_id=decision.decision_id,
        )
    else:
        result = await ledger.transition(
            decision.pk,
            State.APPROVED,
            State.EXECUTING,
            fields=fields,
            actor=ACTOR,
            note="claimed",
            now=now,
            expected_decision_id=decision.decision_id,
        )
    if not result.applied:
        current = result.current.state.value if result.current else "missing"
        log.info("executor.claim_lost_race", pk=decision.pk, current_state=current)
        return None
    return Claim(
        ledger=ledger,
        pk=decision.pk,
        decision_id=decision.decision_id,
        claim_id=claim_id,
        ttl=ttl,
        clock=clock,
        resumed=resume,
        expires_at=now + ttl,
    )
