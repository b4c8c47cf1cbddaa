"""ApprovalGranted in, a clean-up out: claim, re-check, snapshot, delete or release, record, tell.

The order is the safety argument (docs/ARCHITECTURE.md, "Safety rules for the executor"):

1. Only the ledger decides: a decision that is not APPROVED (or an earlier attempt of the same cycle
   that crashed, failed, or released its claim) is never acted on, whatever the message says.
2. Claim it with a conditional write; losing the race is a result, the winner does the work.
   A finding scanned in another account is re-read and acted on through the role it was scanned
   through (credentials.py), and only in the account of the decision.
3. Re-read the resource right before acting and compare it with what the human approved (opt-out tag,
   still idle, same fingerprint); anything else is SKIPPED and nothing is touched.
4. Act (or, in a dry run, prove the permissions with DryRun=True and record what would be done).
5. Record EXECUTED / SKIPPED / FAILED conditionally on our own claim, then edit the card.

Errors: a permission error is FAILED at once and dead-lettered (a replay resumes it once fixed);
throttling and outages release the claim and raise `TransientError`, so the queue retries with
backoff and the next delivery resumes where this one stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn

import structlog

from services.executor.actions import Action, Done, Job, Refused, actions
from services.executor.claim import Claim, ClaimLost, take_claim
from services.executor.credentials import AssumedRoles, ClientFactory, client_for
from services.executor.outcome import OutcomeReporter, tell
from services.executor.rules import admit, classify_error, error_code, recheck, saving
from shared.errors import PermanentError, TransientError, UnsupportedResource
from shared.events import ApprovalGranted, Approver, Envelope, Payload, utcnow
from shared.ledger import Decision, Ledger, State
from shared.registry import Registry
from shared.telemetry.metrics import Metrics, NullMetrics, record_execution

log = structlog.get_logger("cloudthrift.executor")


@dataclass(frozen=True)
class ExecutionPolicy:
    dry_run: bool = True
    snapshot_before_delete: bool = True
    optout_tag: str = "cloudthrift:keep"
    # Mirrors the queue's visibility timeout: the claim lives as long as the message stays invisible.
    claim_ttl: timedelta = timedelta(seconds=60)
    snapshot_wait_seconds: int = 900


@dataclass(frozen=True)
class ExecutorDeps:
    aws: ClientFactory
    ledger: Ledger
    reporter: OutcomeReporter
    policy: ExecutionPolicy = ExecutionPolicy()
    clock: Callable[[], datetime] = utcnow
    registry: Registry[Action] = actions
    # Datadog: outcomes and the monthly cost avoided (the ROI dashboard reads these).
    metrics: Metrics = field(default_factory=NullMetrics)
    # Credentials of the other accounts' roles, reused while valid (see credentials.py).
    roles: AssumedRoles = field(default_factory=AssumedRoles)


@dataclass(frozen=True)
class Result:
    state: State
    fields: dict[str, Any]
    note: str


async def handle_approval(event: Envelope[ApprovalGranted], deps: ExecutorDeps) -> list[Payload]:
    """Execute one approval at most once; returns no events (the executor is the last stage)."""
    approval = event.payload
    structlog.contextvars.bind_contextvars(decision_id=approval.decision_id, pk=approval.key.pk)
    kind = approval.finding.kind
    if kind not in deps.registry:
        raise UnsupportedResource(f"no executor action for kind {kind!r} (known: {deps.registry.names()})")
    decision = await deps.ledger.get(approval.key)
    admission = admit(decision, approval, deps.clock())
    if admission.verdict == "ignore" or decision is None:
        log.warning("executor.ignored", reason=admission.reason)
        return []
    if admission.verdict == "done":
        # A duplicate, or a redelivery after a crash between the outcome and the card: edit it again.
        log.info("executor.already_done", reason=admission.reason)
        await tell(deps.reporter, decision)
        return []
    if admission.verdict == "held":
        # A duplicate while another delivery works on it: that one finishes (or, should it die, its own
        # message comes back, and the sweep re-drives a claim left to expire). Not a retry of ours.
        log.info("executor.held_elsewhere", reason=admission.reason)
        return []
    claim = await take_claim(
        deps.ledger,
        decision,
        resume=admission.verdict == "resume",
        ttl=deps.policy.claim_ttl,
        clock=deps.clock,
    )
    if claim is None:
        return []
    # The ledger's record of what was approved decides what is done (the fingerprints must agree).
    action = deps.registry.get(decision.finding.kind if decision.finding.kind in deps.registry else kind)()
    try:
        async with claim.kept_alive():
            result = await _execute(action, approval, decision, claim, deps)
    except ClaimLost:
        raise
    except Exception as exc:
        await _on_error(exc, claim, approval, decision, deps)  # always raises
        raise
    finished = await claim.finish(result.state, result.fields, result.note)
    if not finished.applied:
        raise ClaimLost(f"claim {claim.claim_id} was taken over before the outcome was recorded")
    log.info("executor.outcome", state=result.state.value, note=result.note)
    _count(deps, finished.current)
    await tell(deps.reporter, finished.current)
    return []


def _count(deps: ExecutorDeps, decision: Decision | None) -> None:
    """One Datadog count per outcome; an executed one adds its monthly saving (real or dry run)."""
    if decision is None:
        return
    saving_field = "would_save_monthly_usd" if decision.get("dry_run") else "realised_monthly_saving_usd"
    record_execution(
        deps.metrics,
        decision.state.value.lower(),
        kind=str(decision.get("kind")),
        region=decision.key.region,
        account_id=decision.key.account_id,
        dry_run=deps.policy.dry_run,
        monthly_saving_usd=Decimal(str(decision.get(saving_field) or 0)),
    )


async def _execute(
    action: Action, approval: ApprovalGranted, decision: Decision, claim: Claim, deps: ExecutorDeps
) -> Result:
    policy = deps.policy
    approved = decision.finding
    client = await client_for(action.service, decision, deps.aws, deps.roles, deps.clock())
    raw = await action.describe(client, approval.key.resource_id)
    job = Job(
        decision_id=decision.decision_id,
        resource_id=approval.key.resource_id,
        approver=_approval_fields(approval, decision)["approver"],
        facts=approved.facts,
        tags=approved.tags,
        snapshot=policy.snapshot_before_delete,
        snapshot_wait_seconds=policy.snapshot_wait_seconds,
        guard=claim.guard,
    )
    if raw is None or action.is_going(raw):
        if claim.resumed and not policy.dry_run:
            # We were executing it: an earlier attempt got as far as the delete. Done, once.
            return _executed(await action.leftovers(client, job), approval, decision, deps)
        where = "no longer exists" if raw is None else "is already being deleted"
        return _skipped(f"resource {where} (removed outside CloudThrift)", approval, decision, deps)
    observation = action.detector.observe(raw)
    reason = recheck(
        approval,
        decision,
        observation,
        optout_tag=policy.optout_tag,
        busy_reason=action.busy_reason(observation),
    )
    if reason is not None:
        return _skipped(reason, approval, decision, deps)
    job = replace(job, facts=observation.facts, tags=observation.tags)
    if policy.dry_run:
        return _executed(await action.rehearse(client, job), approval, decision, deps)
    done = await action.apply(client, job)
    if isinstance(done, Refused):
        extra = {"snapshot_id": done.snapshot_id} if done.snapshot_id else {}
        return _skipped(done.reason, approval, decision, deps, extra)
    return _executed(done, approval, decision, deps)


def _approval_fields(approval: ApprovalGranted, decision: Decision) -> dict[str, Any]:
    """Who approved and when, as the ledger recorded the click (the message only if it did not)."""
    raw = decision.get("approver")
    approver = Approver.model_validate_json(raw) if isinstance(raw, str) else approval.approver
    return {
        "approver": approver,
        "approver_name": approver.name,
        "approved_at": decision.time("approved_at") or approval.approved_at,
    }


def _executed(done: Done, approval: ApprovalGranted, decision: Decision, deps: ExecutorDeps) -> Result:
    dry_run = deps.policy.dry_run
    amount = saving(decision.finding.cost, done.keeps_snapshot)
    fields: dict[str, Any] = _approval_fields(approval, decision) | {
        "executed_at": deps.clock(),
        "action": done.action,
        "dry_run": dry_run,
        "already_gone": done.already_gone,
        # Distinct names so a dry run can never be summed into realised savings by mistake.
        ("would_save_monthly_usd" if dry_run else "realised_monthly_saving_usd"): amount,
    }
    if done.snapshot_id:
        fields["snapshot_id"] = done.snapshot_id
    fields.update({name: value for name, value in done.record.items() if value is not None})
    note = f"{'dry run: would ' if dry_run else ''}{done.action}; saving {amount}/month"
    return Result(State.EXECUTED, fields, note)


def _skipped(
    reason: str,
    approval: ApprovalGranted,
    decision: Decision,
    deps: ExecutorDeps,
    extra: dict[str, Any] | None = None,
) -> Result:
    fields = (
        _approval_fields(approval, decision)
        | {"skip_reason": reason, "skipped_at": deps.clock()}
        | (extra or {})
    )
    return Result(State.SKIPPED, fields, f"skipped: {reason}")


async def _on_error(
    exc: Exception, claim: Claim, approval: ApprovalGranted, decision: Decision, deps: ExecutorDeps
) -> NoReturn:
    """FAILED (then dead-lettered) for permission errors and refusals; a retry for everything else."""
    verdict = classify_error(exc)
    described = f"{type(exc).__name__}: {exc}"[:500]
    if verdict in ("permission", "failed"):
        fields = _approval_fields(approval, decision) | {
            "error": described,
            "error_code": error_code(exc) or type(exc).__name__,
            "failed_at": deps.clock(),
        }
        finished = await claim.finish(State.FAILED, fields, f"failed: {described}")
        if finished.applied:
            _count(deps, finished.current)
            await tell(deps.reporter, finished.current)
        log.error("executor.failed", error=described, error_class=verdict)
        raise PermanentError(f"execution failed ({verdict}): {described}") from exc
    # Throttled (botocore's own retries are spent) or an outage: let the next delivery resume.
    await claim.release(described)
    raise TransientError(f"{verdict}: {described}") from exc
