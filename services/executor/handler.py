"""ApprovalGranted in, a clean-up out: claim, re-check, snapshot, delete or release, record, tell.

The order is the safety argument (docs/ARCHITECTURE.md, "Safety rules for the executor"):

1. Only the ledger decides: a decision that is not APPROVED (or an earlier attempt of the same cycle
   that crashed, failed, or released its claim) is never acted on, whatever the message says.
2. Claim it with a conditional write; losing the race is a result, the winner does the work.
   A finding scanned in another account is re-read and acted on through the role it was scanned
   through (the ledger's copy of the finding names it), and only in the account of the decision.
3. Re-read the resource right before acting and compare it with what the human approved (opt-out tag,
   still waste by the same check, same fingerprint); anything else is SKIPPED and nothing is touched.
4. Run the check's remedy (or, in a dry run, its rehearsal: DryRun=True, and what would be done).
5. Record EXECUTED / SKIPPED / FAILED conditionally on our own claim, then edit the card.

Errors: a permission error is FAILED at once and dead-lettered (a replay resumes it once fixed);
throttling and outages release the claim and raise `TransientError`, so the queue retries with
backoff and the next delivery resumes where this one stopped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NoReturn

import structlog

from services.executor.claim import Claim, ClaimLost, take_claim
from services.executor.kept import kept_cost
from services.executor.outcome import OutcomeReporter, tell
from services.executor.rules import (
    admit,
    classify_error,
    cleanup_role,
    error_code,
    recheck,
    role_refusal,
    saving,
)
from shared.aws import ClientFactory, RegionClients
from shared.config import default
from shared.errors import PermanentError, TransientError, UnsupportedResource
from shared.events import ApprovalGranted, Envelope, Payload, RestoreRequested, utcnow
from shared.kinds import Check, Kind, discover, remedies_of
from shared.kinds.base import Done, Job, Observation, Refused, Remedy, Usage
from shared.kinds.pricing import PriceTable, load_prices
from shared.kinds.usage import read_usage, usage_window
from shared.ledger import Attr, Decision, Ledger, State
from shared.registry import Registry
from shared.telemetry.metrics import Metrics, NullMetrics, record_execution

log = structlog.get_logger("cloudthrift.executor")


@dataclass(frozen=True)
class ExecutionPolicy:
    dry_run: bool = default("cloudthrift_dry_run")
    snapshot_before_delete: bool = default("cloudthrift_snapshot_before_delete")
    safety_snapshot_tier: str = default("cloudthrift_safety_snapshot_tier")
    optout_tag: str = default("cloudthrift_optout_tag")
    # The claim has its own lifetime, renewed well before it ends, apart from the queue's visibility.
    claim_ttl: timedelta = timedelta(seconds=default("cloudthrift_claim_ttl_seconds"))
    snapshot_wait_seconds: int = default("cloudthrift_snapshot_wait_seconds")
    # In another account the executor acts only through this role (the member clean-up role), never
    # through the read-only scan role the finding was seen with: terraform/modules/member-roles.
    cleanup_role_name: str = default("cloudthrift_cleanup_role_name")
    # "kind/check" -> days (CLOUDTHRIFT_USAGE_WINDOW_DAYS): the re-check reads the window the scan read.
    usage_window_days: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecutorDeps:
    aws: ClientFactory
    ledger: Ledger
    reporter: OutcomeReporter
    policy: ExecutionPolicy = ExecutionPolicy()
    clock: Callable[[], datetime] = utcnow
    registry: Registry[Kind] = field(default_factory=discover)
    # Datadog: outcomes and the monthly cost avoided (the ROI dashboard reads these).
    metrics: Metrics = field(default_factory=NullMetrics)
    # Sends an undo that must wait back to this queue with a delay (restore.py); None: the queue's
    # own retry resumes it.
    requeue: Callable[[RestoreRequested, int], Awaitable[None]] | None = None
    # To price a kept snapshot on the size AWS reports once it completes.
    prices: PriceTable = field(default_factory=load_prices)


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
        raise UnsupportedResource(f"no kind {kind!r} in this executor (known: {deps.registry.names()})")
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
    try:
        async with claim.kept_alive():
            result = await _execute(approval, decision, claim, deps)
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
    record_execution(
        deps.metrics,
        decision.state.value.lower(),
        kind=decision.kind,
        region=decision.key.region,
        account_id=decision.key.account_id,
        dry_run=deps.policy.dry_run,
        monthly_saving_usd=decision.saving_usd,
    )


class RoleRefused(PermanentError):
    """The finding's role is in another account than the approved decision: nothing is done with it."""


def _plan(decision: Decision, deps: ExecutorDeps) -> tuple[Kind, Check, Remedy]:
    """The ledger's record of what was approved decides what is done: its kind, its check, and the
    remedy the human chose on the card (`remedy`), else the first remedy the check proposes for the
    approved facts that the policy allows (no snapshot kept when snapshots are switched off; an
    archived one first when that is the tier)."""
    finding = decision.finding
    if finding.kind not in deps.registry:
        raise UnsupportedResource(f"no kind {finding.kind!r} in this executor")
    kind = deps.registry.get(finding.kind)()
    if finding.check not in kind.checks:
        raise UnsupportedResource(f"{finding.kind} has no check {finding.check!r} in this executor")
    check = kind.checks.get(finding.check)()
    chosen = decision.get(Attr.REMEDY)
    if chosen:
        if chosen not in check.remedies:
            raise UnsupportedResource(f"{finding.kind}/{finding.check} has no remedy {chosen!r}")
        # A human's explicit choice stands even when snapshots are off by default: they read its price.
        return kind, check, kind.remedies.get(str(chosen))()
    approved = Observation(finding.key.resource_id, finding.facts, finding.tags, finding.created_at)
    allowed = remedies_of(
        check,
        snapshots=deps.policy.snapshot_before_delete,
        tier=deps.policy.safety_snapshot_tier,
        observation=approved,
    )
    if not allowed:
        raise UnsupportedResource(f"no remedy of {finding.kind}/{finding.check} is allowed by the policy")
    return kind, check, allowed[0]


def clients_for(decision: Decision, deps: ExecutorDeps) -> RegionClients:
    """In the decision's account: a resource scanned through a role of the approved account (checked:
    `arn:<partition>:iam::<account>:role/<name>`) is cleaned up through that account's clean-up role,
    named for the ledger's account, never through the scan role itself."""
    scanned_by = decision.finding.role_arn
    if scanned_by is None:
        return RegionClients(deps.aws, decision.key.region, None)
    if (refusal := role_refusal(scanned_by, decision.key)) is not None:
        raise RoleRefused(refusal)
    role_arn = cleanup_role(scanned_by, decision.key, deps.policy.cleanup_role_name)
    return RegionClients(deps.aws, decision.key.region, role_arn)


async def _execute(approval: ApprovalGranted, decision: Decision, claim: Claim, deps: ExecutorDeps) -> Result:
    policy = deps.policy
    approved = decision.finding
    kind, check, remedy = _plan(decision, deps)
    clients = clients_for(decision, deps)
    raw = await kind.describe(clients, approval.key.resource_id)
    job = Job(
        decision_id=decision.decision_id,
        resource_id=approval.key.resource_id,
        approver=_approval_fields(approval, decision)["approver"],
        facts=approved.facts,
        tags=approved.tags,
        snapshot_wait_seconds=policy.snapshot_wait_seconds,
        guard=claim.guard,
        resumed=claim.resumed,
    )
    if raw is None or kind.is_going(raw):
        if claim.resumed and not policy.dry_run:
            # We were executing it: an earlier attempt got as far as the clean-up. Done, once.
            return _executed(await remedy.leftovers(clients, job), approval, decision, deps, remedy)
        where = "no longer exists" if raw is None else "is already being deleted"
        return _skipped(f"resource {where} (removed outside CloudThrift)", approval, decision, deps)
    if claim.resumed and not policy.dry_run:
        # An earlier attempt may have made the change already (gp2 to gp3): finish it, once.
        earlier = await remedy.finished(clients, job)
        if isinstance(earlier, Refused):
            return _skipped(earlier.reason, approval, decision, deps)
        if earlier is not None:
            return _executed(earlier, approval, decision, deps, remedy)
    observation = kind.observe(raw)
    usage = await _usage_now(clients, check, observation, deps) if check.metrics else None
    unreadable = bool(check.metrics) and (usage is None or not usage.known())
    reason = recheck(
        approval,
        decision,
        observation,
        still_waste=not unreadable and check.verdict(observation, usage) is not None,
        optout_tag=policy.optout_tag,
        busy_reason="its usage can no longer be read" if unreadable else check.busy_reason(observation),
    )
    if reason is not None:
        return _skipped(reason, approval, decision, deps)
    job = replace(job, facts=observation.facts, tags=observation.tags, raw=raw)
    # A rehearsal may refuse as the real run would (a load balancer with deletion protection).
    done = await (remedy.rehearse(clients, job) if policy.dry_run else remedy.apply(clients, job))
    if isinstance(done, Refused):
        extra = {Attr.SNAPSHOT_ID: done.snapshot_id} if done.snapshot_id else {}
        return _skipped(done.reason, approval, decision, deps, extra)
    return _executed(done, approval, decision, deps, remedy)


async def _usage_now(
    clients: RegionClients, check: Check, observation: Observation, deps: ExecutorDeps
) -> Usage | None:
    """A usage check judges by the numbers as they are now, not as they were at the scan."""
    window = usage_window(check, deps.policy.usage_window_days)
    read = await read_usage(clients, check.metrics, [observation], window=window, now=deps.clock())
    return read.get(observation.resource_id)


def _approval_fields(approval: ApprovalGranted, decision: Decision) -> dict[str, Any]:
    """Who approved and when, as the ledger recorded the click (the message only if it did not)."""
    approver = decision.approver or approval.approver
    return {
        Attr.APPROVER: approver,
        Attr.APPROVER_NAME: approver.name,
        Attr.APPROVED_AT: decision.time(Attr.APPROVED_AT) or approval.approved_at,
    }


def _executed(
    done: Done, approval: ApprovalGranted, decision: Decision, deps: ExecutorDeps, remedy: Remedy
) -> Result:
    dry_run = deps.policy.dry_run
    kept = kept_cost(decision, done, remedy, deps.prices.rates(decision.key.region))
    amount = saving(decision.finding.cost, done.keeps_snapshot, kept.monthly_usd)
    fields: dict[str, Any] = (
        _approval_fields(approval, decision)
        | kept.fields(remedy)
        | {
            Attr.EXECUTED_AT: deps.clock(),
            Attr.ACTION: done.action,
            Attr.DRY_RUN: dry_run,
            Attr.ALREADY_GONE: done.already_gone,
            # Distinct names so a dry run can never be summed into realised savings by mistake.
            (Attr.WOULD_SAVE_MONTHLY_USD if dry_run else Attr.REALISED_MONTHLY_SAVING_USD): amount,
        }
    )
    if done.snapshot_id:
        fields[Attr.SNAPSHOT_ID] = done.snapshot_id
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
        | {Attr.SKIP_REASON: reason, Attr.SKIPPED_AT: deps.clock()}
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
            Attr.ERROR: described,
            Attr.ERROR_CODE: error_code(exc) or type(exc).__name__,
            Attr.FAILED_AT: deps.clock(),
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
