"""Approvals whose ApprovalGranted was lost are published again, by a sweep in the executor's process.

A click moves a decision AWAITING_APPROVAL → APPROVED, then publishes ApprovalGranted
(services/notifier/decide.py). Should that publish fail (SQS down, the process killed between the
two), the decision stays APPROVED with no event, and nobody clicks a card that already says
"Approved". So the executor sweeps: it lists the APPROVED decisions through the by-state index, reading
only their key, id, kind and times; reads the full item of those approved more than
CLOUDTHRIFT_APPROVAL_RECOVER_SECONDS ago; and publishes their approval again to the execute queue,
built by shared/grants.py exactly as the click built it.

A duplicate is harmless: the event id is deterministic (uuid5 of the decision id) and the executor's
APPROVED → EXECUTING claim is a conditional write, so whichever copy comes second finds the decision
claimed or done and acts on nothing (at most it edits the card again). Two sweeps, two executor tasks,
or a sweep and a click sending the same approval cost a message each, never a second execution. The
threshold is far above normal execute latency, so a merely backlogged executor rarely sees one.

A failed sweep (AWS down) is logged and the next one tries again: the sweep never stops the worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from shared.events import ApprovalGranted, DecisionKey, utcnow
from shared.grants import RECOVER_AFTER, GrantPublisher, grant_for, is_lost, publish_grants
from shared.ledger import Decision, Ledger, State
from shared.telemetry.metrics import Metrics, NullMetrics, record_republished
from shared.telemetry.tracing import Tracing

log = structlog.get_logger("cloudthrift.executor.sweep")

# What the index query reads of each APPROVED decision (plus pk and state): enough to tell a lost one.
_CANDIDATE_FIELDS = ("decision_id", "kind", "approved_at", "updated_at")


@dataclass(frozen=True)
class SweepDeps:
    ledger: Ledger
    publisher: GrantPublisher
    execute_url: str
    recover_after: timedelta = RECOVER_AFTER
    # Kinds this executor acts on (None: all). Another kind's approval would only be dead-lettered
    # again (UnsupportedResource) at every sweep; it is logged instead, and sent once an executor knows it.
    kinds: Collection[str] | None = None
    metrics: Metrics = field(default_factory=NullMetrics)
    # The executor stage's tracer: a re-published approval continues the trace stored with its decision.
    tracing: Tracing | None = None
    clock: Callable[[], datetime] = utcnow


async def sweep(deps: SweepDeps) -> list[ApprovalGranted]:
    """One pass: publish again every approval still APPROVED `recover_after` after it was given."""
    now = deps.clock()
    stale: list[DecisionKey] = []
    async for candidate in deps.ledger.by_state(State.APPROVED, attributes=_CANDIDATE_FIELDS):
        if not is_lost(candidate, now, deps.recover_after):
            continue
        if deps.kinds is not None and candidate.get("kind") not in deps.kinds:
            log.warning(
                "decision.grant_not_republished",
                reason=f"no executor action for kind {candidate.get('kind')!r}",
                decision_id=candidate.get("decision_id"),
                pk=candidate.pk,
            )
            continue
        stale.append(candidate.key)
    if not stale:
        return []
    # The index lags the table, and the executor may have claimed one since: the consistent read decides.
    current = await deps.ledger.get_many(stale)
    grants: list[ApprovalGranted] = []
    decisions: dict[str, Decision] = {}
    for decision in current.values():
        if not is_lost(decision, now, deps.recover_after):
            continue
        try:
            grant = grant_for(decision)
        except ValueError as exc:  # an item no click wrote (no approver or time): nothing to send
            log.error("decision.grant_not_republished", reason=str(exc), decision_id=decision.decision_id)
            continue
        grants.append(grant)
        decisions[decision.decision_id] = decision

    def announce(grant: ApprovalGranted) -> None:
        log.warning(
            "decision.grant_republished",
            by="sweep",
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


async def run_sweeps(deps: SweepDeps, every: float) -> None:
    """Sweep at once (an executor started from zero tasks catches up first), then every `every` seconds,
    until cancelled. A failed sweep is logged; the next one retries it."""
    while True:
        try:
            await sweep(deps)
        except Exception as exc:
            log.warning("decision.sweep_failed", error=f"{type(exc).__name__}: {exc}", exc_info=True)
        await asyncio.sleep(every)
