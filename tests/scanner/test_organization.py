"""Organization scans on moto's Organizations, through a proxy that answers AssumeRole as STS would for a
role that does not trust us (moto lets anyone assume anything: tests/fakes/aws_proxy.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from aiobotocore.session import AioSession
from structlog.testing import capture_logs

from services.scanner.handler import ScannerDeps, handle_scan
from services.scanner.main import scanner_deps
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.errors import PermanentError
from shared.events import Envelope, OrganizationScope, ScanRequested, parse_event
from shared.telemetry.metrics import MemoryMetrics
from shared.worker import Runtime, open_runtime
from tests.fakes.aws_proxy import AwsProxy

HOME = "123456789012"


@dataclass(frozen=True)
class Org:
    root: str
    prod: str  # OU holding accounts a and b, and the OU eu
    eu: str  # OU under prod, holding account c
    a: str
    b: str
    c: str
    d: str  # directly under the root
    closed: str  # suspended: never scanned


@pytest.fixture
async def proxy(moto_endpoint: str) -> AsyncIterator[AwsProxy]:
    proxy = AwsProxy(moto_endpoint)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def org_runtime(
    proxy: AwsProxy, make_settings: Callable[..., Settings], aws_session: AioSession
) -> AsyncIterator[Runtime]:
    settings = make_settings(aws_endpoint_url=proxy.endpoint, cloudthrift_regions=["us-east-1", "eu-west-1"])
    async with AwsClients(settings, session=aws_session) as aws:
        await bootstrap(settings, aws)
    async with open_runtime(settings, session=aws_session) as opened:
        yield opened


@pytest.fixture
async def org(org_runtime: Runtime) -> Org:
    organizations = await org_runtime.aws.client("organizations")
    await organizations.create_organization(FeatureSet="ALL")
    root = (await organizations.list_roots())["Roots"][0]["Id"]

    async def account(name: str) -> str:
        created = await organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        return created["CreateAccountStatus"]["AccountId"]

    async def ou(parent: str, name: str) -> str:
        made = await organizations.create_organizational_unit(ParentId=parent, Name=name)
        return made["OrganizationalUnit"]["Id"]

    prod = await ou(root, "prod")
    eu = await ou(prod, "eu")
    a, b, c, d, closed = [await account(name) for name in ("a", "b", "c", "d", "closed")]
    for member, parent in ((a, prod), (b, prod), (c, eu), (closed, prod)):
        await organizations.move_account(AccountId=member, SourceParentId=root, DestinationParentId=parent)
    await organizations.close_account(AccountId=closed)
    return Org(root, prod, eu, a, b, c, d, closed)


def role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/cloudthrift-scan"


async def queued_scans(runtime: Runtime) -> list[ScanRequested]:
    """Everything on the scan queue now, as the scanner tasks would receive it."""
    messages: list[dict[str, Any]] = []
    while True:
        answer = await runtime.sqs.receive_message(  # type: ignore[attr-defined]
            QueueUrl=runtime.queues["scan"].url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        if not answer.get("Messages"):
            return [parse_event(m["Body"]).payload for m in messages]
        messages += answer["Messages"]


async def org_scan(runtime: Runtime, scope: OrganizationScope, **request: Any) -> MemoryMetrics:
    metrics = MemoryMetrics()
    deps = replace(scanner_deps(runtime), metrics=metrics)
    event = Envelope.wrap(ScanRequested(organization=scope, scan_id="org-1", **request))
    assert await handle_scan(event, deps) == []  # it scans nothing itself: it fans out
    return metrics


async def test_fans_out_one_request_per_selected_active_account_and_region(
    org_runtime: Runtime, org: Org, proxy: AwsProxy
) -> None:
    await org_scan(org_runtime, OrganizationScope(include_ous=(org.prod,), exclude_accounts=(org.b,)))

    queued = await queued_scans(org_runtime)
    # prod is a, b (excluded), c (in prod/eu, found by walking down) and the closed account (suspended).
    assert sorted((r.account_id, r.regions) for r in queued) == sorted(
        (account, (region,)) for account in (org.a, org.c) for region in ("us-east-1", "eu-west-1")
    )
    for request in queued:
        assert request.role_arn == role(request.account_id or "")
        assert request.parent_scan_id == "org-1" and request.organization is None
        assert request.scan_id == f"org-1:{request.account_id}:{request.regions[0]}"
    assert proxy.calls["organizations:ListAccounts"] >= 1


async def test_the_whole_organization_minus_an_ou_and_the_home_account_uses_its_own_role(
    org_runtime: Runtime, org: Org
) -> None:
    await org_scan(org_runtime, OrganizationScope(exclude_ous=(org.eu,)), regions=("us-east-1",))

    queued = {r.account_id: r for r in await queued_scans(org_runtime)}
    assert set(queued) == {HOME, org.a, org.b, org.d}
    assert queued[HOME].role_arn is None  # CloudThrift's own account: no member role to assume
    assert queued[org.d].role_arn == role(org.d)


async def test_an_unreachable_account_and_a_disabled_region_are_skipped_with_their_reason(
    org_runtime: Runtime, org: Org, proxy: AwsProxy
) -> None:
    proxy.denied_roles.add(role(org.b))
    scope = OrganizationScope(include_accounts=(org.a, org.b, org.d))
    with capture_logs() as logs:
        # ap-east-1 is an opt-in region, not enabled in moto's accounts.
        metrics = await org_scan(org_runtime, scope, regions=("us-east-1", "ap-east-1"))

    queued = await queued_scans(org_runtime)
    assert sorted((r.account_id, r.regions) for r in queued) == [
        (account, ("us-east-1",)) for account in sorted((org.a, org.d))
    ]
    [summary] = [entry for entry in logs if entry["event"] == "scan.organization"]
    assert summary["skipped_accounts"] == {org.b: f"role {role(org.b)} cannot be assumed (AccessDenied)"}
    assert summary["skipped_regions"] == {
        f"{org.a}/ap-east-1": "region not enabled in this account",
        f"{org.d}/ap-east-1": "region not enabled in this account",
    }
    assert metrics.values("cloudthrift.scan.skipped", account_id=org.b, reason="role") == [1]
    assert metrics.values("cloudthrift.scan.skipped", reason="region-not-enabled", region="ap-east-1") == [
        1,
        1,
    ]
    assert metrics.values("cloudthrift.scan.org.accounts") == [3]


async def test_a_fanned_out_request_scans_its_member_account_through_the_scan_role(
    org_runtime: Runtime, org: Org
) -> None:
    member_ec2 = await org_runtime.aws.client("ec2", "us-east-1", role_arn=role(org.d))
    volume = (await member_ec2.create_volume(AvailabilityZone="us-east-1a", Size=10, VolumeType="gp3"))[
        "VolumeId"
    ]
    await org_scan(org_runtime, OrganizationScope(include_accounts=(org.d,)), kinds=("ebs-volume",))
    found = []
    deps: ScannerDeps = replace(
        scanner_deps(org_runtime), policy=replace(scanner_deps(org_runtime).policy, min_age=timedelta(0))
    )
    for request in await queued_scans(org_runtime):
        found += await handle_scan(Envelope.wrap(request), deps)
    [event] = found
    assert event.finding.key.pk == f"{org.d}#us-east-1#ebs-volume#unattached#{volume}"
    assert event.finding.role_arn == role(org.d)
    assert event.finding.scan_id == f"org-1:{org.d}:us-east-1"


async def test_an_organization_scan_needs_a_scan_queue_and_names_no_account(org_runtime: Runtime) -> None:
    deps = replace(scanner_deps(org_runtime), enqueue_scans=None)
    with pytest.raises(PermanentError, match="no scan queue"):
        await handle_scan(Envelope.wrap(ScanRequested(organization=OrganizationScope())), deps)
    with pytest.raises(ValueError, match="organization scan names no account"):
        ScanRequested(organization=OrganizationScope(), account_id=HOME)


async def test_the_scanner_assumes_only_the_scan_role(org_runtime: Runtime) -> None:
    request = ScanRequested(role_arn="arn:aws:iam::111111111111:role/cloudthrift-cleanup")
    with pytest.raises(PermanentError, match="only cloudthrift-scan roles"):
        await handle_scan(Envelope.wrap(request), scanner_deps(org_runtime))
