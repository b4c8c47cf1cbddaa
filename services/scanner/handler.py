"""ScanRequested in, ResourceFound out: list every kind in every region, keep what is idle, price it.

The rules (what counts as idle, old enough, opted out) are pure functions of what the API returned;
the handler around them does the listing concurrently per region and consults the ledger so that a
finding already waiting on a human, rejected, or snoozed is not announced again.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from services.scanner.metrics import report_scan
from services.scanner.organization import EnqueueScans, MemberRoles, fan_out, report_fan_out
from services.scanner.rules import ScanPolicy, build_finding, classify, listings
from services.scanner.sightings import Gated, forget_busy, found_before, gate
from shared.aws import ClientFactory, RegionClients
from shared.errors import PermanentError, TransientError, UnsupportedResource
from shared.events import DecisionKey, Envelope, Finding, ResourceFound, ScanRequested, utcnow
from shared.kinds import Check, Kind, discover
from shared.kinds.base import Observation, Usage
from shared.kinds.pricing import PriceTable, money
from shared.kinds.usage import read_usage
from shared.ledger import Ledger
from shared.registry import Registry
from shared.telemetry import Metrics, NullMetrics

log = structlog.get_logger("cloudthrift.scanner")

# One listing of one kind in one region: the kind, the checks it serves, what it listed, their usage.
Listed = tuple[Kind, list[Check], list[Observation], dict[str, dict[str, Usage]]]


@dataclass(frozen=True)
class ScannerDeps:
    aws: ClientFactory
    ledger: Ledger
    prices: PriceTable
    policy: ScanPolicy = field(default_factory=ScanPolicy)
    clock: Callable[[], datetime] = utcnow
    registry: Registry[Kind] = field(default_factory=discover)
    metrics: Metrics = field(default_factory=NullMetrics)
    roles: MemberRoles = field(default_factory=MemberRoles)
    # Where an organization scan puts its per-account requests (the scan queue); None: it cannot.
    enqueue_scans: EnqueueScans | None = None


@dataclass
class ScanSummary:
    found: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, region) → idle count
    skipped: Counter[str] = field(default_factory=Counter)  # verdict → count
    waste_usd: Decimal = Decimal(0)
    waste_by: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, region) → monthly $
    failed_regions: dict[str, str] = field(default_factory=dict)
    published: int = 0
    quiet: int = 0


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
    if request.organization is not None:
        await _fan_out(request, deps)
        return []
    if request.role_arn is not None and request.role_arn.rsplit("/", 1)[-1] != deps.roles.scan_role_name:
        # The scanner reads through the read-only scan role only: a clean-up role is the executor's.
        raise PermanentError(
            f"the scanner assumes only {deps.roles.scan_role_name} roles, not {request.role_arn}"
        )

    account_id = request.account_id or await deps.aws.account_id(request.role_arn)
    regions = request.regions or deps.policy.regions or await _enabled_regions(deps.aws, request.role_arn)

    summary = ScanSummary()
    regions_at_once = asyncio.Semaphore(deps.policy.region_concurrency)

    async def scan_region(region: str) -> tuple[list[Finding], Gated]:
        async with regions_at_once:
            try:
                found = await _scan_region(deps, chosen, region, account_id, request, now, summary)
            except Exception as exc:  # one broken region must not hide the others' waste
                log.error("scan.region_failed", region=region, error=f"{type(exc).__name__}: {exc}")
                summary.failed_regions[region] = f"{type(exc).__name__}: {exc}"[:300]
                return [], Gated()
        # This region's ledger reads and first sightings go while farther regions are still listing
        # (a round trip to the farthest costs 20 times one to the home region), outside the region
        # bound. A ledger failure fails the scan, as before: it is not the region's.
        return found, await gate(
            found, deps.ledger, now, deps.policy.min_idle, lambda f: _own_min_age(deps, f)
        )

    earlier = asyncio.create_task(found_before(deps.ledger, account_id))  # while the regions list
    try:
        per_region = await asyncio.gather(*(scan_region(region) for region in regions))
        if regions and len(summary.failed_regions) == len(regions):
            raise TransientError(f"every region failed to scan: {summary.failed_regions}")
    except BaseException:
        earlier.cancel()
        raise
    findings = [finding for region_findings, _ in per_region for finding in region_findings]
    to_publish = [finding for _, gated in per_region for finding in gated.announce]
    summary.quiet = sum(gated.quiet for _, gated in per_region)
    if briefly := sum(gated.idle_too_briefly for _, gated in per_region):
        summary.skipped["idle-too-briefly"] += briefly
    scanned = {(region, kind) for region in regions if region not in summary.failed_regions for kind in kinds}
    checked = {
        (region, kind.name, check)
        for region, _ in scanned
        for kind in chosen
        for check in kind.checks.names()
    }
    await forget_busy(deps.ledger, await earlier, account_id, checked, {f.key.pk for f in findings})

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


def _own_min_age(deps: ScannerDeps, finding: Finding) -> timedelta:
    """The check's own minimum age (not the global one), counted from the first sighting when the
    resource's age is unknown."""
    check = deps.registry.get(finding.kind)().checks.get(finding.check)()
    own = deps.policy.check_min_age_days.get(f"{finding.kind}/{finding.check}")
    return check.min_age if own is None else timedelta(days=own)


async def _fan_out(request: ScanRequested, deps: ScannerDeps) -> None:
    """Queue one scan per member account and region; the scanner tasks pick them up in parallel."""
    if deps.enqueue_scans is None:
        raise PermanentError("this scanner has no scan queue to fan an organization scan out onto")
    result = await fan_out(
        request,
        deps.aws,
        deps.roles,
        regions=request.regions or deps.policy.regions,
    )
    await deps.enqueue_scans(result.requests)
    report_fan_out(deps.metrics, request.scan_id, result)


async def _enabled_regions(aws: ClientFactory, role_arn: str | None) -> tuple[str, ...]:
    ec2 = await aws.client("ec2", role_arn=role_arn)
    answer = await ec2.describe_regions(
        Filters=[{"Name": "opt-in-status", "Values": ["opt-in-not-required", "opted-in"]}]
    )
    return tuple(sorted(region["RegionName"] for region in answer["Regions"]))


async def _scan_region(
    deps: ScannerDeps,
    chosen: Sequence[Kind],
    region: str,
    account_id: str,
    request: ScanRequested,
    now: datetime,
    summary: ScanSummary,
) -> list[Finding]:
    clients = RegionClients(deps.aws, region, request.role_arn)

    async def listed(kind: Kind, filters: tuple[Mapping[str, Any], ...], checks: list[Check]) -> Listed:
        observations = [kind.observe(raw) async for raw in kind.list(clients, filters)]
        return kind, checks, observations, await _usage(clients, checks, observations, deps.policy, now)

    # Every kind's listings at once: each is a chain of round trips to this region, none needs another.
    every = await asyncio.gather(
        *(listed(kind, filters, checks) for kind in chosen for filters, checks in listings(kind))
    )
    findings: list[Finding] = []
    for kind, checks, observations, usage in every:
        for observation in observations:
            spared: list[str] = []  # why each check left it alone: counted once per resource
            for check in checks:
                seen = usage.get(check.name, {}).get(observation.resource_id)
                verdict, reason = classify(check, observation, seen, deps.policy, now)
                if verdict != "idle" or reason is None:
                    spared.append(verdict)
                    continue
                key = DecisionKey(
                    account_id=account_id,
                    region=region,
                    kind=kind.name,
                    check=check.name,
                    resource_id=observation.resource_id,
                )
                finding = build_finding(
                    check,
                    observation,
                    reason,
                    key,
                    deps.prices,
                    now=now,
                    scan_id=request.scan_id,
                    role_arn=request.role_arn,  # the executor acts through the role the scan used
                    tier=deps.policy.safety_snapshot_tier,
                )
                if check.saves_only and finding.cost.net_monthly_saving_usd <= 0:
                    spared.append("no-saving")  # e.g. gp3 would cost more than gp2
                    continue
                findings.append(finding)
                summary.found[(kind.name, region)] += 1
                summary.waste_usd += finding.cost.monthly_usd
                summary.waste_by[(kind.name, region)] += finding.cost.monthly_usd
            if len(spared) == len(checks):
                summary.skipped[min(spared, key=_SPARED_FIRST.index)] += 1
    return findings


# Which reason a resource no check reports is counted under, when its checks disagree: one that holds
# for every check (kept, too young) before one particular to a check (a load balancer both busy by
# traffic and with targets is one busy load balancer, not two).
_SPARED_FIRST = ("opted-out", "too-young", "usage-unknown", "no-saving", "busy")


async def _usage(
    clients: RegionClients,
    checks: Sequence[Check],
    observations: Sequence[Observation],
    policy: ScanPolicy,
    now: datetime,
) -> dict[str, dict[str, Usage]]:
    """Each usage check's numbers for the resources it could call idle, in bulk (check -> id -> usage)."""
    usage: dict[str, dict[str, Usage]] = {}
    for check in checks:
        if not check.metrics:
            continue
        candidates = [
            o
            for o in observations
            if policy.optout_tag not in o.tags
            and (o.created_at is None or now - o.created_at >= policy.window_for(check))
        ]
        window = policy.window_for(check)
        usage[check.name] = await read_usage(clients, check.metrics, candidates, window=window, now=now)
    return usage
