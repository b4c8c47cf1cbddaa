"""The executor's sweep: every stuck decision is re-driven, without anyone replaying, and never twice at once.

Two states can be stuck with nothing left to move them:

- APPROVED with no live message: the click's publish failed (SQS down, the process killed between the
  transition and the send). Counted as lost once approved more than CLOUDTHRIFT_APPROVAL_RECOVER_SECONDS
  ago (shared/grants.py `is_lost`, the same notion the click uses).
- EXECUTING with a claim that expired `stalled_after` ago (the visibility timeout) and that nobody took
  again: a dead delivery's own message comes back within that time and resumes it, so one still
  expired lost its message (acknowledged as a duplicate, or dead-lettered).

Each pass lists both states through the by-state index (key, id, kind and times only), re-reads the
candidates consistently, and re-drives each by publishing its approval again (built by shared/grants.py
exactly as the click built it). Three things keep this from multiplying messages:

1. a conditional write on the decision records the re-drive (`redriven_at`, `redrives`): of two
   sweeps that found the same decision, one publishes; and a decision is re-driven at most once per
   recovery window, then after twice as long each time (`redrive_due`);
2. a decision whose work is visibly in progress (a live claim) is never a candidate;
3. while the execute queue holds at least as many messages as there are candidates, the candidates'
   messages may well be among them (a backlog, not a loss): nothing is re-driven until it drains.

A duplicate is harmless anyway: the event id is deterministic and the executor's claim is a conditional
write, so the second copy finds the decision claimed or done and acts on nothing.

A failed sweep (AWS down) is logged and the next one tries again: the sweep never stops the worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from shared.events import ApprovalGranted, DecisionKey, utcnow
from shared.grants import (
    RECOVER_AFTER,
    GrantPublisher,
    grant_for,
    is_lost,
    is_stalled,
    mark_redriven,
    publish_grants,
    redrive_due,
)
from shared.ledger import Decision, Ledger, State
from shared.telemetry.metrics import Metrics, NullMetrics, record_republished
from shared.telemetry.tracing import Tracing

log = structlog.get_logger("cloudthrift.executor.sweep")

# What the index query reads of each APPROVED decision (plus pk and state): enough to tell a lost one.
_CANDIDATE_FIELDS = (
    "decision_id",
    "kind",
    "approved_at",
    "updated_at",
    "claim_expires_at",
    "redriven_at",
    "redrives",
)


@dataclass(frozen=True)
class SweepDeps:
    ledger: Ledger
    publisher: GrantPublisher
    execute_url: str
    recover_after: timedelta = RECOVER_AFTER
    # How long an expired claim waits for its own message to come back (the visibility timeout).
    stalled_after: timedelta = timedelta(seconds=60)
    # Messages on the execute queue (visible, in flight, delayed); None: not known, no backlog check.
    backlog: Callable[[], Awaitable[int]] | None = None
    # Kinds this executor acts on (None: all). Another kind's approval would only be dead-lettered
    # again (UnsupportedResource) at every sweep; it is logged instead, and sent once an executor knows it.
    kinds: Collection[str] | None = None
    metrics: Metrics = field(default_factory=NullMetrics)
    # The executor stage's tracer: a re-published approval continues the trace stored with its decision.
    tracing: Tracing | None = None
    clock: Callable[[], datetime] = utcnow


async def sweep(deps: SweepDeps) -> list[ApprovalGranted]:
    """One pass: re-drive every approval lost or stalled, each at most once per recovery window."""
    now = deps.clock()
    stuck: list[DecisionKey] = []
    # Only decisions unchanged for the threshold can be stuck (an APPROVED item changes only on
    # approval; a live claim's renewals change an EXECUTING one): the index skips the rest.
    for state, unchanged_for in ((State.APPROVED, deps.recover_after), (State.EXECUTING, deps.stalled_after)):
        since = now - unchanged_for
        async for candidate in deps.ledger.by_state(
            state, attributes=_CANDIDATE_FIELDS, changed_before=since
        ):
            if _stuck(candidate, now, deps) and _known_kind(candidate, deps):
                stuck.append(candidate.key)
    if not stuck:
        return []
    if deps.backlog is not None:
        waiting = await deps.backlog()
        if waiting >= len(stuck):
            log.info("decision.redrive_deferred", stuck=len(stuck), queued=waiting, reason="backlog")
            return []
    # The index lags the table, and the executor may have claimed one since: the consistent read decides.
    current = await deps.ledger.get_many(stuck)
    grants: list[ApprovalGranted] = []
    decisions: dict[str, Decision] = {}
    for decision in current.values():
        if not _stuck(decision, now, deps):
            continue
        try:
            grant = grant_for(decision)
        except ValueError as exc:  # an item no click wrote (no approver or time): nothing to send
            log.error("decision.grant_not_republished", reason=str(exc), decision_id=decision.decision_id)
            continue
        if not await mark_redriven(deps.ledger, decision, now):
            continue  # another sweep re-drove it, or it moved on since it was read
        grants.append(grant)
        decisions[decision.decision_id] = decision

    def announce(grant: ApprovalGranted) -> None:
        decision = decisions[grant.decision_id]
        log.warning(
            "decision.grant_republished",
            by="sweep",
            state=decision.state.value,
            redrives=int(decision.get("redrives") or 0) + 1,
            decision_id=grant.decision_id,
            pk=grant.key.pk,
            approver=grant.approver.name,
            approved_at=grant.approved_at.isoformat(),
            lost_for_seconds=round((now - grant.approved_at).total_seconds()),
        )
        record_republished(deps.metrics, by="sweep", kind=grant.finding.kind)

    await publish_grants(
        deps.publisher,
        deps.execute_url,
        grants,
        decisions,
        tracing=deps.tracing,
        span="executor.sweep",
        resource="republish",
        announce=announce,
    )
    return grants


def _stuck(decision: Decision, now: datetime, deps: SweepDeps) -> bool:
    lost = is_lost(decision, now, deps.recover_after) or is_stalled(decision, now, deps.stalled_after)
    return lost and redrive_due(decision, now, deps.recover_after)


def _known_kind(candidate: Decision, deps: SweepDeps) -> bool:
    """Another kind's approval would only be dead-lettered again: logged, sent once an executor knows it."""
    if deps.kinds is None or candidate.get("kind") in deps.kinds:
        return True
    log.warning(
        "decision.grant_not_republished",
        reason=f"no executor action for kind {candidate.get('kind')!r}",
        decision_id=candidate.get("decision_id"),
        pk=candidate.pk,
    )
    return False


async def run_sweeps(deps: SweepDeps, every: float) -> None:
    """Sweep at once (an executor started from zero tasks catches up first), then every `every` seconds,
    until cancelled. A failed sweep is logged; the next one retries it."""
    while True:
        try:
            await sweep(deps)
        except Exception as exc:
            log.warning("decision.sweep_failed", error=f"{type(exc).__name__}: {exc}", exc_info=True)
        await asyncio.sleep(every)
