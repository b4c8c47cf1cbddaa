"""A fresh claim does not search for an earlier attempt's artefact; a resumed one does, and reuses it.

The search (DescribeSnapshots / DescribeImages filtered by the decision tag) is what a resumed attempt
needs to make one snapshot, not two; on a fresh claim no earlier attempt can exist (a decision is
claimed fresh once), and on moto the tag filter scans every snapshot's tags: the executor's largest
cost under load. Counted at a proxy in front of moto (tests/fakes/aws_proxy.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from services.executor.handler import ExecutorDeps, handle_approval
from shared.aws import AwsClients
from shared.config import Settings
from shared.kinds.ebs_volume.remedies import DECISION_TAG
from shared.ledger import Ledger, State
from tests.executor.helpers import (
    Crash,
    Wrapped,
    approve,
    idle_volume,
    observe,
    snapshots_of,
    state_of,
    volume_exists,
)
from tests.fakes.aws_proxy import AwsProxy
from tests.kinds.test_ec2_instance import finding_for, stopped_instance

SNAPSHOT_SEARCH = f"ec2:DescribeSnapshots tag:{DECISION_TAG}"
IMAGE_SEARCH = f"ec2:DescribeImages tag:{DECISION_TAG}"
CLAIM_TTL = 30  # seconds, as make_deps sets it


@pytest.fixture
async def proxy(moto_endpoint: str) -> AsyncIterator[AwsProxy]:
    proxy = AwsProxy(moto_endpoint)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], proxy: AwsProxy) -> Settings:
    return make_settings(aws_endpoint_url=proxy.endpoint)


async def test_a_fresh_claim_snapshots_without_searching_for_an_earlier_snapshot(
    ec2: Any, ledger: Ledger, proxy: AwsProxy, make_deps: Callable[..., ExecutorDeps]
) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)
    proxy.calls.clear()

    await handle_approval(event, make_deps())

    assert (await state_of(ledger, finding.key)).state is State.EXECUTED
    assert not await volume_exists(ec2, volume_id) and len(await snapshots_of(ec2, volume_id)) == 1
    assert proxy.calls["ec2:CreateSnapshot"] == 1
    assert proxy.filters[SNAPSHOT_SEARCH] == 0, proxy.filters


async def test_a_resumed_attempt_searches_and_reuses_the_earlier_snapshot(
    ec2: Any, ledger: Ledger, proxy: AwsProxy, make_deps: Callable[..., ExecutorDeps], clock: Any
) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)
    with pytest.raises(Crash):  # the snapshot was made, then the attempt died
        await handle_approval(event, make_deps(wrap=lambda c: Wrapped(c, "create_snapshot", "after")))
    [earlier] = await snapshots_of(ec2, volume_id)
    clock.advance(CLAIM_TTL + 1)
    proxy.calls.clear()
    proxy.filters.clear()

    await handle_approval(event, make_deps())

    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED and decision.get("snapshot_id") == earlier["SnapshotId"]
    assert proxy.filters[SNAPSHOT_SEARCH] >= 1 and proxy.calls["ec2:CreateSnapshot"] == 0
    assert [s["SnapshotId"] for s in await snapshots_of(ec2, volume_id)] == [earlier["SnapshotId"]]


async def test_a_fresh_claim_images_an_instance_without_searching_for_an_earlier_image(
    ec2: Any, aws: AwsClients, ledger: Ledger, proxy: AwsProxy, make_deps: Callable[..., ExecutorDeps]
) -> None:
    instance_id = await stopped_instance(ec2)
    finding = await finding_for(aws, instance_id)
    event = await approve(ledger, finding)
    proxy.calls.clear()

    await handle_approval(event, make_deps())

    assert (await state_of(ledger, finding.key)).state is State.EXECUTED
    assert proxy.calls["ec2:CreateImage"] == 1
    assert proxy.filters[IMAGE_SEARCH] == 0, proxy.filters
