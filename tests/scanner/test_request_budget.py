"""The scanner's AWS requests per finding, counted by a proxy in front of moto: batched ledger reads and
conditional writes (100 a call) and batched publishing (10 a call) keep a scan under 0.15 per finding,
first sighting or repeat, without giving up a conditional write."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.scanner.handler import ScannerDeps, ScanPolicy, handle_scan
from shared.events import Envelope, ResourceFound, ScanRequested, parse_event
from shared.kinds.pricing import load_prices
from shared.ledger import State
from shared.worker import Runtime
from tests.fakes.aws_proxy import AwsProxy

VOLUMES = 300
BUDGET = 0.15


async def scan_and_publish(runtime: Runtime, proxy: AwsProxy, now: datetime) -> tuple[int, int]:
    """One scan as the worker runs it (handler, then its outputs published): (findings, requests)."""
    proxy.calls.clear()
    deps = ScannerDeps(
        aws=runtime.aws,
        ledger=runtime.ledger,
        prices=load_prices(),
        policy=ScanPolicy(regions=("us-east-1",), kinds=("ebs-volume",), min_age=timedelta(0)),
        clock=lambda: now,
    )
    found = await handle_scan(Envelope.wrap(ScanRequested()), deps)
    await runtime.publisher.publish(runtime.queues["analyze"].url, found)
    return len(found), proxy.count()


@pytest.mark.timeout(300)  # 300 volumes and two scans on a shared 2-core machine
async def test_a_scan_costs_at_most_015_requests_per_finding(counted: tuple[Runtime, AwsProxy]) -> None:
    runtime, proxy = counted
    ec2 = await runtime.aws.client("ec2", "us-east-1")
    at_once = asyncio.Semaphore(10)

    async def volume() -> None:
        async with at_once:
            await ec2.create_volume(AvailabilityZone="us-east-1a", Size=10, VolumeType="gp3")

    await asyncio.gather(*(volume() for _ in range(VOLUMES)))
    now = datetime.now(UTC)

    found, requests = await scan_and_publish(runtime, proxy, now)
    assert found == VOLUMES
    assert requests <= BUDGET * found, proxy.calls
    assert proxy.calls["dynamodb:TransactWriteItems"] == 3  # every first sighting conditional, 100 a call
    assert proxy.calls["dynamodb:PutItem"] == 0
    decisions = await runtime.ledger.get_many(e.finding.key for e in await _all(runtime))
    assert len(decisions) == VOLUMES
    assert {d.state for d in decisions.values()} == {State.FOUND}
    assert all(d.get("idle_since") == now.isoformat() for d in decisions.values())  # idle-since recorded

    # The repeat: nothing to write, FOUND is announced again, a decided one is not.
    decided = next(iter(decisions))
    await runtime.ledger.transition(decided, State.FOUND, State.ANALYZED)
    found, requests = await scan_and_publish(runtime, proxy, now + timedelta(hours=1))
    assert found == VOLUMES - 1
    assert requests <= BUDGET * found, proxy.calls
    assert proxy.calls["dynamodb:TransactWriteItems"] == 0


async def _all(runtime: Runtime) -> list[ResourceFound]:
    """Every ResourceFound on the analyze queue (what the scan published)."""
    events: list[ResourceFound] = []
    while True:
        answer = await runtime.sqs.receive_message(  # type: ignore[attr-defined]
            QueueUrl=runtime.queues["analyze"].url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        if not answer.get("Messages"):
            return events
        events += [parse_event(m["Body"]).payload for m in answer["Messages"]]
