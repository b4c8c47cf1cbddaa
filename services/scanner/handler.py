"""ScanRequested in, ResourceFound out: list every kind in every region, keep what is idle, price it.

The rules (what counts as idle, old enough, opted out) are pure functions of what the API returned;
the handler around them does the listing concurrently per region and consults the ledger so that a
finding already waiting on a human, rejected, or snoozed is not announced again.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol

import structlog

from services.scanner.metrics import report_scan
from services.scanner.pricing import PriceTable, money
from services.scanner.resources import Detector, Observation, detectors
from shared.errors import TransientError, UnsupportedResource
from shared.events import CostEstimate, DecisionKey, Envelope, Finding, ResourceFound, ScanRequested, utcnow
from shared.ledger import Decision, Ledger, State, decision_id_for
from shared.registry import Registry
from shared.telemetry import Metrics, NullMetrics

log = structlog.get_logger("cloudthrift.scanner")

Verdict = Literal["idle", "busy", "opted-out", "too-young"]
# States in which a new sighting must not produce a new announcement.
# FOUND is re-announced (its ResourceFound may have been lost with a failed scan attempt); from ANALYZED
# on, a later stage owns the decision and its own retries carry it further.
_QUIET = {
    State.ANALYZED,
    State.AWAITING_APPROVAL,
    State.REJECTED,
    State.APPROVED,
    State.EXECUTING,
    State.FAILED,
}


class ClientFactory(Protocol):
    async def client(self, service: str, region: str | None = None, *, credentials: Any = None) -> Any: ...
    async def assume_role(self, role_arn: str, session_name: str = ...) -> dict[str, str]: ...
    async def account_id(self, credentials: Any = None) -> str: ...


@dataclass(frozen=True)
class ScanPolicy:
    min_age: timedelta = timedelta(days=7)
    min_idle: timedelta = timedelta(0)
    optout_tag: str = "cloudthrift:keep"
    regions: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    region_concurrency: int = 8


@dataclass(frozen=True)
class ScannerDeps:
    aws: ClientFactory
    ledger: Ledger
    prices: PriceTable
    policy: ScanPolicy = ScanPolicy()
    clock: Callable[[], datetime] = utcnow
    registry: Registry[Detector] = detectors
    metrics: Metrics = field(default_factory=NullMetrics)


@dataclass
class ScanSummary:
    found: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, region) → idle count
    skipped: Counter[str] = field(default_factory=Counter)  # verdict → count
    waste_usd: Decimal = Decimal(0)
    waste_by: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, region) → monthly $
    failed_regions: dict[str, str] = field(default_factory=dict)
    published: int = 0
    quiet: int = 0


# --- pure rules ------------------------------------------------------------------------------


def classify(observation: Observation, policy: ScanPolicy, now: datetime) -> Verdict:
    if observation.idle_reason is None:
        return "busy"
    if policy.optout_tag in observation.tags:
        return "opted-out"
    if observation.created_at is not None and now - observation.created_at < policy.min_age:
        return "too-young"
    return "idle"


def build_finding(
    detector: Detector,
    observation: Observation,
    key: DecisionKey,
    prices: PriceTable,
    *,
    now: datetime,
    scan_id: str,
    role_arn: str | None = None,
) -> Finding:
    region_prices, source = prices.for_region(key.region)
    pricing = detector.price(observation, region_prices, prices.hours_per_month)
    monthly = money(sum((item.monthly_usd for item in pricing.lines), Decimal(0)))
    notes = [pricing.note] if pricing.note else []
    if pricing.snapshot_monthly_usd:
        notes.append(prices.notes["snapshot"])
    return Finding(
        kind=detector.kind,
        key=key,
        facts=observation.facts,
        tags=observation.tags,
        created_at=observation.created_at,
        idle_since=now,
        idle_reason=observation.idle_reason or "idle",
        cost=CostEstimate(
            monthly_usd=monthly,
            lines=tuple(pricing.lines),
            snapshot_monthly_usd=pricing.snapshot_monthly_usd,
            net_monthly_saving_usd=money(monthly - pricing.snapshot_monthly_usd),
            price_source=source,
            price_date=prices.as_of,
            note=" ".join(notes) or None,
        ),
        scan_id=scan_id,
        role_arn=role_arn,
    )


# --- the handler -----------------------------------------------------------------------------


async def handle_scan(event: Envelope[ScanRequested], deps: ScannerDeps) -> list[ResourceFound]:
    request = event.payload
    started = time.monotonic()
    now = deps.clock()
    structlog.contextvars.bind_contextvars(scan_id=request.scan_id)
    kinds = request.kinds or deps.policy.kinds or tuple(deps.registry.names())
    unknown = [kind for kind in kinds if kind not in deps.registry]
    if unknown:
        raise UnsupportedResource(f"unknown resource kind(s) {unknown} (known: {deps.registry.names()})")
    chosen = [deps.registry.get(kind)() for kind in kinds]

    credentials = await deps.aws.assume_role(request.role_arn) if request.role_arn else None
    account_id = request.account_id or await deps.aws.account_id(credentials)
    regions = request.regions or deps.policy.regions or await _enabled_regions(deps.aws, credentials)

    summary = ScanSummary()
    gate = asyncio.Semaphore(deps.policy.region_concurrency)

    async def scan_region(region: str) -> list[Finding]:
        async with gate:
            try:
                return await _scan_region(
                    deps, chosen, region, account_id, credentials, request, now, summary
                )
            except Exception as exc:  # one broken region must not hide the others' waste
                log.error("scan.region_failed", region=region, error=f"{type(exc).__name__}: {exc}")
                summary.failed_regions[region] = f"{type(exc).__name__}: {exc}"[:300]
                return []

    per_region = await asyncio.gather(*(scan_region(region) for region in regions))
    if regions and len(summary.failed_regions) == len(regions):
        raise TransientError(f"every region failed to scan: {summary.failed_regions}")
    findings = [finding for region_findings in per_region for finding in region_findings]
    to_publish = await _gate(findings, deps, now, summary)
    scanned = {(region, kind) for region in regions if region not in summary.failed_regions for kind in kinds}
    await _forget_busy(deps.ledger, account_id, scanned, {f.key.pk for f in findings})

    summary.published = len(to_publish)
    report_scan(
        deps.metrics,
        account_id=account_id,
        scanned=scanned,
        found=summary.found,
        waste=summary.waste_by,
        failed_regions=summary.failed_regions,
        announced=to_publish,
        duration_s=time.monotonic() - started,
    )
    log.info(
        "scan.summary",
        account_id=account_id,
        regions=len(regions),
        idle_by_kind_region={
            f"{kind}/{region}": count for (kind, region), count in sorted(summary.found.items())
        },
        skipped=dict(summary.skipped),
        monthly_waste_usd=str(money(summary.waste_usd).quantize(Decimal("0.01"))),
        published=summary.published,
        already_decided=summary.quiet,
        failed_regions=summary.failed_regions or None,
        duration_s=round(time.monotonic() - started, 3),
    )
    return [ResourceFound(finding=finding) for finding in to_publish]


async def _enabled_regions(aws: ClientFactory, credentials: Any) -> tuple[str, ...]:
    ec2 = await aws.client("ec2", credentials=credentials)
    answer = await ec2.describe_regions(
        Filters=[{"Name": "opt-in-status", "Values": ["opt-in-not-required", "opted-in"]}]
    )
    return tuple(sorted(region["RegionName"] for region in answer["Regions"]))


async def _scan_region(
    deps: ScannerDeps,
    chosen: Sequence[Detector],
    region: str,
    account_id: str,
    credentials: Any,
    request: ScanRequested,
    now: datetime,
    summary: ScanSummary,
) -> list[Finding]:
    findings: list[Finding] = []
    for detector in chosen:
        client = await deps.aws.client(detector.service, region, credentials=credentials)
        async for raw in detector.candidates(client):
            observation = detector.observe(raw)
            verdict = classify(observation, deps.policy, now)
            if verdict != "idle":
                summary.skipped[verdict] += 1
                continue
            key = DecisionKey(account_id=account_id, region=region, resource_id=observation.resource_id)
            finding = build_finding(
                detector,
                observation,
                key,
                deps.prices,
                now=now,
                scan_id=request.scan_id,
                role_arn=request.role_arn,  # the executor acts through the role the resource was seen by
            )
            findings.append(finding)
            summary.found[(detector.kind, region)] += 1
            summary.waste_usd += finding.cost.monthly_usd
            summary.waste_by[(detector.kind, region)] += finding.cost.monthly_usd
    return findings


async def _gate(
    findings: list[Finding], deps: ScannerDeps, now: datetime, summary: ScanSummary
) -> list[Finding]:
    """Record first sightings, and keep only the findings that should be announced now."""
    known = await deps.ledger.get_many(finding.key for finding in findings)
    new = [finding for finding in findings if finding.key.pk not in known]
    for result in await deps.ledger.create_many(new, now=now):
        if result.current is not None:
            known[result.current.pk] = result.current
    announce: list[Finding] = []
    for finding in findings:
        decision = known.get(finding.key.pk)
        if decision is None:
            continue
        if decision.state in (State.SNOOZED, State.SKIPPED, State.EXECUTED):
            decision = await _maybe_new_cycle(deps.ledger, decision, finding, now)
            if decision is None:
                summary.quiet += 1
                continue
        if decision.state in _QUIET:
            summary.quiet += 1
            continue
        idle_since = decision.time("idle_since") or now
        if now - idle_since < deps.policy.min_idle:
            summary.skipped["idle-too-briefly"] += 1
            continue
        announce.append(finding.model_copy(update={"idle_since": idle_since}))
    return announce


async def _maybe_new_cycle(
    ledger: Ledger, decision: Decision, finding: Finding, now: datetime
) -> Decision | None:
    """Start a new decision for a resource that is idle again after a snooze, a skip or a dry run."""
    if decision.state is State.SNOOZED:
        until = decision.time("snoozed_until")
        if until is not None and until > now:
            return None
    if decision.state is State.EXECUTED and not decision.get("dry_run", False):
        log.warning("scan.executed_resource_still_idle", pk=decision.pk)
        return None
    cycle = decision.cycle + 1
    result = await ledger.transition(
        decision.pk,
        decision.state,
        State.FOUND,
        fields={
            "cycle": cycle,
            "decision_id": decision_id_for(finding.key, cycle),
            "idle_since": (decision.time("idle_since") if decision.state is State.SNOOZED else now) or now,
            "finding": finding,
            "fingerprint": finding.fingerprint,
            "monthly_cost_usd": finding.cost.monthly_usd,
            "net_monthly_saving_usd": finding.cost.net_monthly_saving_usd,
        },
        actor="scanner",
        note=f"idle again: new cycle {cycle}",
        now=now,
        expected_decision_id=decision.decision_id,
    )
    return result.current if result.applied else None


async def _forget_busy(
    ledger: Ledger, account_id: str, scanned: set[tuple[str, str]], idle_pks: set[str]
) -> None:
    """A FOUND resource not seen idle in a complete scan of its region is busy again: reset its clock."""
    # Only the fields read below: every FOUND finding's JSON would otherwise cross the wire each scan.
    fields = ("account_id", "region", "kind", "idle_since")
    async for decision in ledger.by_state(State.FOUND, attributes=fields):
        if decision.get("account_id") != account_id or decision.pk in idle_pks:
            continue
        if (decision.get("region"), decision.get("kind")) not in scanned:
            continue
        if await ledger.forget(decision.pk, expected=State.FOUND, idle_since=decision.get("idle_since")):
            log.info("scan.idle_clock_reset", pk=decision.pk)
