"""RestoreRequested in, an undo out: claim (EXECUTED → RESTORING), restore, record, tell.

The same safety argument as the clean-up (handler.py), applied to its undo:

1. Only the ledger decides (and only a live executor: one in dry-run mode dead-letters the request, so a
   replay on a live one does it): an EXECUTED real (not dry-run) decision whose remedy declares an undo, or
   one whose undo failed and is asked again, is claimed by a conditional write recording who asked and
   when (the realised saving stops counting at `restore_requested_at`). RESTORED is final: an undo is
   never undone. Anything else is refused, logged, and nothing is written.
2. A RESTORING decision whose claim expired (a crashed executor, or an undo waiting) is taken over and
   resumed; a live claim is left to its owner.
3. The remedy's `restore` runs with the claim's guard. `Restored` → RESTORED; `Refused` (AWS no longer
   allows it) → RESTORE_FAILED with the reason; `NotYet` (an archived snapshot restoring, a
   modification window) → the claim is released and the same request re-sent with a delay
   (SQS DelaySeconds, at most 900 s): the next delivery resumes it. Should that message be lost, the
   original is not acknowledged before the re-send, and a crash leaves the claim to expire.

Errors: permission errors and unexpected ones are RESTORE_FAILED and dead-lettered (a replay resumes
them); throttling and outages release the claim and are retried by the queue.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import structlog

from services.executor.claim import ACTOR, Claim, ClaimLost
from services.executor.handler import ExecutorDeps, clients_for
from services.executor.outcome import tell
from services.executor.rules import classify_error, error_code
from shared.errors import PermanentError, TransientError
from shared.events import Envelope, Payload, RestoreRequested
from shared.kinds.base import NotYet, Refused, Restored, UndoJob
from shared.ledger import Attr, Decision, State
from shared.publisher import MAX_DELAY_SECONDS
from shared.telemetry.metrics import record_restore
from shared.undo import refusal, remedy_of, requester_name

log = structlog.get_logger("cloudthrift.executor.restore")

Verdict = Literal["claim", "resume", "held", "done", "ignore"]


@dataclass(frozen=True)
class Admission:
    verdict: Verdict
    reason: str


def admit_restore(decision: Decision | None, request: RestoreRequested, now: datetime) -> Admission:
    """May this request lead to an undo? The ledger's state decides, never the message."""
    if decision is None or decision.decision_id != request.decision_id:
        return Admission("ignore", "the ledger holds no such decision (or a later cycle of it)")
    state = decision.state
    if state is State.RESTORED:
        return Admission("done", "already restored: an undo is never undone")
    if state is State.RESTORING:
        expires = decision.time(Attr.CLAIM_EXPIRES_AT)
        if expires is None or expires < now:
            return Admission("resume", "an earlier attempt's claim expired or it is waiting: resuming")
        return Admission("held", f"another attempt holds the undo until {expires.isoformat()}")
    why = refusal(decision)
    if why is not None:
        return Admission("ignore", why)
    return Admission("claim", "undo requested")


async def take_restore_claim(
    deps: ExecutorDeps, decision: Decision, request: RestoreRequested, *, resume: bool
) -> Claim | None:
    """EXECUTED | RESTORE_FAILED → RESTORING (recording who asked and when), or take over an expired
    RESTORING claim; None when another attempt won."""
    now = deps.clock()
    claim_id = str(uuid.uuid4())
    ttl = deps.policy.claim_ttl
    fields: dict[str, Any] = {
        Attr.CLAIM_ID: claim_id,
        Attr.CLAIM_EXPIRES_AT: now + ttl,
        Attr.CLAIMED_AT: now,
    }
    if resume:
        result = await deps.ledger.transition(
            decision.pk,
            State.RESTORING,
            State.RESTORING,
            fields=fields,
            actor=ACTOR,
            note="resumed the undo",
            now=now,
            claim_expired_before=now,
            claimed_state=State.RESTORING,
            expected_decision_id=decision.decision_id,
        )
    else:
        fields |= {
            Attr.RESTORE_REQUESTED_BY: requester_name(request.requested_by),
            Attr.RESTORE_REQUESTED_AT: request.requested_at,
        }
        result = await deps.ledger.transition(
            decision.pk,
            (State.EXECUTED, State.RESTORE_FAILED),
            State.RESTORING,
            fields=fields,
            remove=(Attr.RESTORE_ERROR,),
            actor=f"{request.requested_by.via}:{request.requested_by.name}",
            note="undo claimed",
            now=now,
            expected_decision_id=decision.decision_id,
        )
    if not result.applied:
        current = result.current.state.value if result.current else "missing"
        log.info("restore.claim_lost_race", pk=decision.pk, current_state=current)
        return None
    return Claim(
        ledger=deps.ledger,
        pk=decision.pk,
        decision_id=decision.decision_id,
        claim_id=claim_id,
        ttl=ttl,
        clock=deps.clock,
        resumed=resume,
        expires_at=now + ttl,
        state=State.RESTORING,
    )


async def handle_restore(event: Envelope[RestoreRequested], deps: ExecutorDeps) -> list[Payload]:
    """Undo one executed clean-up at most once; `deps` is the executor's `ExecutorDeps`."""
    request = event.payload
    structlog.contextvars.bind_contextvars(decision_id=request.decision_id, pk=request.key.pk)
    decision = await deps.ledger.get(request.key)
    admission = admit_restore(decision, request, deps.clock())
    if admission.verdict in ("ignore", "held") or decision is None:
        log.warning("restore.ignored", reason=admission.reason, verdict=admission.verdict)
        return []
    if admission.verdict == "done":
        await tell(deps.reporter, decision)  # a duplicate after a crash between outcome and card
        return []
    if deps.policy.dry_run:
        # A rehearsing executor touches nothing, an undo included: dead-lettered with the reason, so a
        # replay on a live executor does it; the ledger is not written.
        raise PermanentError("this executor runs in dry-run mode: the undo is left for a live executor")
    claim = await take_restore_claim(deps, decision, request, resume=admission.verdict == "resume")
    if claim is None:
        return []
    remedy = remedy_of(decision, deps.registry)
    if remedy is None or remedy.undo is None:  # refused at the door; a newer version may differ
        await _finish(deps, claim, State.RESTORE_FAILED, {Attr.RESTORE_ERROR: "no undo for this remedy"})
        return []
    try:
        async with claim.kept_alive():
            result = await remedy.restore(clients_for(decision, deps), _job(decision, claim, request))
    except ClaimLost:
        raise
    except Exception as exc:
        await _on_error(exc, claim, deps)  # always raises
        raise
    if isinstance(result, NotYet):
        await _wait(result, claim, request, deps)
        return []
    if isinstance(result, Refused):
        await _finish(deps, claim, State.RESTORE_FAILED, {Attr.RESTORE_ERROR: result.reason[:500]})
        return []
    await _finish(deps, claim, State.RESTORED, _restored_fields(result, deps))
    return []


def _job(decision: Decision, claim: Claim, request: RestoreRequested) -> UndoJob:
    finding = decision.finding
    return UndoJob(
        decision_id=decision.decision_id,
        resource_id=decision.key.resource_id,
        approver=request.requested_by,
        facts=finding.facts,
        tags=finding.tags,
        record=dict(decision.attrs),
        snapshot_id=decision.get(Attr.SNAPSHOT_ID),
        guard=claim.guard,
    )


def _restored_fields(result: Restored, deps: ExecutorDeps) -> dict[str, Any]:
    return {
        Attr.RESTORED_AT: deps.clock(),
        Attr.RESTORED_RESOURCE_ID: result.resource_id,
        Attr.RESTORE_ACTION: result.action,
        Attr.RESTORE_RECORD: json.dumps(result.record, default=str, sort_keys=True),
    }


async def _finish(deps: ExecutorDeps, claim: Claim, state: State, fields: dict[str, Any]) -> None:
    note = {State.RESTORED: "restored", State.RESTORE_FAILED: "undo failed"}.get(state, state.value)
    finished = await claim.finish(state, fields, f"{note}: {fields.get(Attr.RESTORE_ERROR, '')}".strip(": "))
    if not finished.applied:
        raise ClaimLost(f"claim {claim.claim_id} was taken over before the undo was recorded")
    log.info("restore.outcome", state=state.value, error=fields.get(Attr.RESTORE_ERROR))
    _count(deps, finished.current, state.value.lower())
    await tell(deps.reporter, finished.current)


async def _wait(result: NotYet, claim: Claim, request: RestoreRequested, deps: ExecutorDeps) -> None:
    """Stay RESTORING, claim released, and ask again later. The re-send happens before this message is
    acknowledged: a crash in between leaves two messages, and the claim lets one act."""
    now = deps.clock()
    await deps.ledger.transition(
        claim.pk,
        State.RESTORING,
        State.RESTORING,
        fields={Attr.CLAIM_EXPIRES_AT: now, Attr.RESTORE_WAITING: result.reason[:500]},
        actor=ACTOR,
        note=f"waiting: {result.reason}"[:300],
        now=now,
        expected_decision_id=claim.decision_id,
        expected_claim_id=claim.claim_id,
    )
    delay = max(1, min(MAX_DELAY_SECONDS, int(result.retry_after.total_seconds())))
    log.info("restore.waiting", reason=result.reason, retry_in_s=delay)
    current = await deps.ledger.get(claim.pk)
    _count(deps, current, "waiting")
    if deps.requeue is None:
        raise TransientError(f"undo not finished yet: {result.reason}")
    await deps.requeue(request, delay)


def _count(deps: ExecutorDeps, decision: Decision | None, outcome: str) -> None:
    if decision is None:
        return
    record_restore(
        deps.metrics,
        outcome,
        kind=decision.kind,
        region=decision.key.region,
        account_id=decision.key.account_id,
    )


async def _on_error(exc: Exception, claim: Claim, deps: ExecutorDeps) -> None:
    """RESTORE_FAILED (then dead-lettered) for permission errors and refusals; a retry otherwise."""
    verdict = classify_error(exc)
    described = f"{type(exc).__name__}: {exc}"[:500]
    if verdict in ("permission", "failed"):
        fields = {Attr.RESTORE_ERROR: described, Attr.ERROR_CODE: error_code(exc) or type(exc).__name__}
        finished = await claim.finish(State.RESTORE_FAILED, fields, f"undo failed: {described}")
        if finished.applied:
            _count(deps, finished.current, "restore_failed")
            await tell(deps.reporter, finished.current)
        log.error("restore.failed", error=described, error_class=verdict)
        raise PermanentError(f"undo failed ({verdict}): {described}") from exc
    await claim.release(described)
    raise TransientError(f"{verdict}: {described}") from exc
