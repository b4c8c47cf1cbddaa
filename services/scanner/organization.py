"""An organization scan: find the member accounts, check each can be reached, and fan out one scan
request per account and region onto the scan queue, so scanner tasks share the work and a slow or broken
account delays no other.

What cannot be reached is skipped with its reason (the role cannot be assumed; the region is not enabled
in that account), in the summary line and as a metric, never failing the rest: c7n-org users meet exactly
this when one member's role is missing. Probing each account costs two requests (AssumeRole through the
refreshable credentials, then DescribeRegions), with at most `account_concurrency` accounts at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import structlog

from shared.aws import ClientFactory
from shared.events import OrganizationScope, ScanRequested
from shared.telemetry import Metrics

log = structlog.get_logger("cloudthrift.scanner")

EnqueueScans = Callable[[Sequence[ScanRequested]], Awaitable[object]]
_OPTED_IN = ["opt-in-not-required", "opted-in"]


@dataclass(frozen=True)
class MemberRoles:
    """How member accounts are reached: the read-only scan role's name in each."""

    scan_role_name: str = "cloudthrift-scan"
    account_concurrency: int = 8

    def scan_role(self, partition: str, account_id: str) -> str:
        return f"arn:{partition}:iam::{account_id}:role/{self.scan_role_name}"


@dataclass
class FanOut:
    """What an organization scan did: the requests it queued and what it skipped, with why."""

    accounts: list[str] = field(default_factory=list)
    requests: list[ScanRequested] = field(default_factory=list)
    skipped_accounts: dict[str, str] = field(default_factory=dict)  # account id -> reason
    skipped_regions: dict[str, str] = field(default_factory=dict)  # "account/region" -> reason


async def member_accounts(organizations: object, scope: OrganizationScope) -> list[str]:
    """The ACTIVE accounts the scope selects, sorted (suspended and closing accounts are never scanned)."""
    active: set[str] = set()
    async for page in organizations.get_paginator("list_accounts").paginate():  # type: ignore[attr-defined]
        active |= {a["Id"] for a in page["Accounts"] if a.get("Status") == "ACTIVE"}
    chosen = set(active)
    if scope.include_accounts or scope.include_ous:
        chosen = set(scope.include_accounts) | await accounts_under(organizations, scope.include_ous)
    chosen -= set(scope.exclude_accounts) | await accounts_under(organizations, scope.exclude_ous)
    return sorted(chosen & active)


async def accounts_under(organizations: object, parents: Iterable[str]) -> set[str]:
    """Every account under these OUs (or the root), at any depth: ListChildren walks down the tree."""
    found: set[str] = set()
    todo = list(parents)
    while todo:
        parent = todo.pop()
        async for page in organizations.get_paginator("list_accounts_for_parent").paginate(  # type: ignore[attr-defined]
            ParentId=parent
        ):
            found |= {account["Id"] for account in page["Accounts"]}
        async for page in organizations.get_paginator("list_children").paginate(  # type: ignore[attr-defined]
            ParentId=parent, ChildType="ORGANIZATIONAL_UNIT"
        ):
            todo += [child["Id"] for child in page["Children"]]
    return found


async def fan_out(
    request: ScanRequested,
    aws: ClientFactory,
    roles: MemberRoles,
    *,
    regions: Sequence[str],
) -> FanOut:
    """One ScanRequested per reachable account and enabled region.

    Args:
        regions: the regions to scan in every account; empty: each account's own enabled regions.
    """
    assert request.organization is not None
    caller = await (await aws.client("sts")).get_caller_identity()
    partition, home_account = caller["Arn"].split(":")[1], str(caller["Account"])
    organizations = await aws.client("organizations")
    result = FanOut(accounts=await member_accounts(organizations, request.organization))
    at_once = asyncio.Semaphore(roles.account_concurrency)

    async def one(account_id: str) -> list[ScanRequested]:
        # CloudThrift's own account is scanned with its own task role: it has no member role to assume.
        role_arn = None if account_id == home_account else roles.scan_role(partition, account_id)
        async with at_once:
            try:
                enabled = await _enabled_regions(aws, role_arn)
            except Exception as exc:  # one unreachable account must not hide the others' waste
                reason = _reason(exc, role_arn)
                log.warning("scan.account_skipped", account_id=account_id, reason=reason)
                result.skipped_accounts[account_id] = reason
                return []
        wanted = list(regions) or sorted(enabled)
        for region in wanted:
            if region not in enabled:
                result.skipped_regions[f"{account_id}/{region}"] = "region not enabled in this account"
        return [
            ScanRequested(
                scan_id=f"{request.scan_id}:{account_id}:{region}",
                regions=(region,),
                kinds=request.kinds,
                account_id=account_id,
                role_arn=role_arn,
                requested_by=request.requested_by,
                parent_scan_id=request.scan_id,
            )
            for region in wanted
            if region in enabled
        ]

    for requests in await asyncio.gather(*(one(account) for account in result.accounts)):
        result.requests += requests
    return result


def report_fan_out(metrics: Metrics, scan_id: str, result: FanOut) -> None:
    """The summary line and the metrics of one organization scan."""
    metrics.gauge("cloudthrift.scan.org.accounts", len(result.accounts))
    metrics.increment("cloudthrift.scan.org.requests", len(result.requests))
    for account_id in sorted(result.skipped_accounts):
        metrics.increment("cloudthrift.scan.skipped", tags={"account_id": account_id, "reason": "role"})
    for where in sorted(result.skipped_regions):
        account_id, region = where.split("/", 1)
        tags = {"account_id": account_id, "region": region, "reason": "region-not-enabled"}
        metrics.increment("cloudthrift.scan.skipped", tags=tags)
    log.info(
        "scan.organization",
        scan_id=scan_id,
        accounts=len(result.accounts),
        fanned_out=len(result.requests),
        skipped_accounts=result.skipped_accounts or None,
        skipped_regions=result.skipped_regions or None,
    )


async def _enabled_regions(aws: ClientFactory, role_arn: str | None) -> set[str]:
    ec2 = await aws.client("ec2", role_arn=role_arn)  # the home region answers for every region
    answer = await ec2.describe_regions(Filters=[{"Name": "opt-in-status", "Values": _OPTED_IN}])
    # Checked here too: an emulator that ignores the filter (moto) must not make opt-in regions "enabled".
    return {
        entry["RegionName"]
        for entry in answer["Regions"]
        if entry.get("OptInStatus", _OPTED_IN[0]) in _OPTED_IN
    }


def _reason(exc: Exception, role_arn: str | None) -> str:
    if role_arn is not None and getattr(exc, "operation_name", None) == "AssumeRole":
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "error")
        return f"role {role_arn} cannot be assumed ({code})"
    return f"{type(exc).__name__}: {exc}"[:300]
