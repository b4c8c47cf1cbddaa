"""The scan's request pattern at AWS-like latency, seen by a proxy in front of moto that delays each
region's requests: what can overlap does (a region's listings, the ledger work of a region already
listed while a far one is still listing, the ledger's batch reads), because each round trip to a far
region costs up to a quarter of a second on AWS. No timings are asserted: the proxy records which
requests were in flight at once and in which order they started and ended."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiobotocore.session import AioSession

from services.scanner.handler import ScannerDeps, ScanPolicy, handle_scan
from shared.config import Settings
from shared.events import DecisionKey, Envelope, ScanRequested
from shared.kinds.pricing import load_prices
from shared.worker import Runtime
from tests.conftest import runtime_behind_proxy
from tests.fakes.aws_proxy import AwsProxy

HOME, FAR = "us-east-1", "ap-southeast-2"


@pytest.fixture
async def delayed(
    moto_endpoint: str, make_settings: Callable[..., Settings], aws_session: AioSession
) -> AsyncIterator[tuple[Runtime, AwsProxy]]:
    """The far region's requests wait 0.6 s, the home region's (ledger, queues) none."""
    async with runtime_behind_proxy(moto_endpoint, make_settings, aws_session, delays={FAR: 0.6}) as both:
        yield both


async def _seed(runtime: Runtime, region: str, volumes: int, addresses: int) -> None:
    ec2 = await runtime.aws.client("ec2", region)
    for _ in range(volumes):
        await ec2.create_volume(AvailabilityZone=f"{region}a", Size=10, VolumeType="gp2")
    for _ in range(addresses):
        await ec2.allocate_address(Domain="vpc")


async def _scan(runtime: Runtime, regions: tuple[str, ...]) -> int:
    deps = ScannerDeps(
        aws=runtime.aws,
        ledger=runtime.ledger,
        prices=load_prices(),
        policy=ScanPolicy(regions=regions, kinds=("ebs-volume", "elastic-ip"), min_age=timedelta(0)),
        clock=lambda: datetime.now(UTC),
    )
    return len(await handle_scan(Envelope.wrap(ScanRequested()), deps))


@pytest.mark.timeout(120)
async def test_a_regions_listings_go_at_once(delayed: tuple[Runtime, AwsProxy]) -> None:
    runtime, proxy = delayed
    await _seed(runtime, FAR, volumes=3, addresses=2)
    proxy.peak.clear()

    assert await _scan(runtime, (FAR,)) == 5
    # ebs-volume lists once (both its checks share the listing) and elastic-ip once: two chains at once.
    assert proxy.peak[f"{FAR}/ec2"] == 2, proxy.peak


@pytest.mark.timeout(120)
async def test_a_listed_regions_ledger_work_does_not_wait_for_a_far_region(
    delayed: tuple[Runtime, AwsProxy],
) -> None:
    runtime, proxy = delayed
    await _seed(runtime, HOME, volumes=3, addresses=0)
    await _seed(runtime, FAR, volumes=3, addresses=0)
    proxy.delays[FAR] = 1.5  # room for the home region's listing and ledger on a loaded machine
    proxy.timeline.clear()

    assert await _scan(runtime, (HOME, FAR)) == 6
    far_listed = max(
        end for _, end, region, call in proxy.timeline if region == FAR and call.startswith("ec2:")
    )
    home_ledger = [
        start
        for start, _, _, call in proxy.timeline
        if call in ("dynamodb:BatchGetItem", "dynamodb:TransactWriteItems")
    ]
    # The home region's first sightings were read and written while the far region was still listing,
    # and so were the FOUND decisions the scan checks for resources busy again (one Query).
    assert len(home_ledger) == 4
    assert sorted(home_ledger)[:2] < [far_listed] * 2, proxy.timeline
    (found_query,) = [start for start, _, _, call in proxy.timeline if call == "dynamodb:Query"]
    assert found_query < far_listed


@pytest.mark.timeout(120)
async def test_batch_reads_of_many_keys_go_at_once(delayed: tuple[Runtime, AwsProxy]) -> None:
    runtime, proxy = delayed
    proxy.delays[HOME] = 0.3
    proxy.peak.clear()
    keys = [  # four BatchGetItem calls
        DecisionKey(
            account_id="123456789012",
            region=HOME,
            kind="ebs-volume",
            check="unattached",
            resource_id=f"vol-{n}",
        )
        for n in range(350)
    ]

    assert await runtime.ledger.get_many(keys) == {}
    assert proxy.calls["dynamodb:BatchGetItem"] == 4
    assert proxy.peak["dynamodb:BatchGetItem"] == 4, proxy.peak
