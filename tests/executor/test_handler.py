"""The executor against moto over HTTP: happy paths, re-checks, and what must change nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.executor.handler import handle_approval
from shared.errors import UnsupportedResource
from shared.events import Envelope
from shared.kinds.ebs_volume.remedies import APPROVER_TAG, DECISION_TAG, VOLUME_TAG
from shared.ledger import State
from tests.executor.helpers import (
    ALICE,
    address_exists,
    approve,
    idle_address,
    idle_volume,
    instance,
    observe,
    snapshots_of,
    state_of,
    volume_exists,
)


async def test_volume_is_snapshotted_with_its_tags_then_deleted(
    ledger, ec2, make_deps, reporter, metrics
) -> None:
    volume_id = await idle_volume(ec2, size=100, tags={"team": "ci"})
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)

    assert await handle_approval(event, make_deps()) == []

    assert not await volume_exists(ec2, volume_id)
    [snapshot] = await snapshots_of(ec2, volume_id)
    tags = {t["Key"]: t["Value"] for t in snapshot["Tags"]}
    assert tags[DECISION_TAG] == event.payload.decision_id
    assert tags[VOLUME_TAG] == volume_id
    assert "alice" in tags[APPROVER_TAG]
    assert tags["team"] == "ci"  # the volume's own tags travel with the backup
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED
    assert decision.get("snapshot_id") == snapshot["SnapshotId"]
    assert decision.get("action") == "snapshot_then_delete"
    assert decision.get("dry_run") is False
    # Net saving: the volume's cost minus the snapshot kept.
    assert Decimal(decision.get("realised_monthly_saving_usd")) == finding.cost.net_monthly_saving_usd
    assert finding.cost.net_monthly_saving_usd < finding.cost.monthly_usd
    assert decision.get("approver_name") == "alice"
    assert decision.time("executed_at") is not None and decision.time("approved_at") is not None
    assert [o.state for o in reporter.outcomes] == [State.EXECUTED]
    # Datadog: one execution, and the monthly cost avoided.
    real = {"kind": "ebs-volume", "region": "us-east-1", "dry_run": "false"}
    assert metrics.values("cloudthrift.executions", outcome="executed", **real) == [1]
    assert metrics.values("cloudthrift.cost_avoided.monthly_usd", **real) == [
        float(finding.cost.net_monthly_saving_usd)
    ]


async def test_address_is_released_and_the_ledger_keeps_its_ip(ledger, ec2, make_deps) -> None:
    allocation_id, public_ip = await idle_address(ec2)
    finding = await observe(ec2, "elastic-ip", allocation_id)
    event = await approve(ledger, finding)

    await handle_approval(event, make_deps())

    assert not await address_exists(ec2, allocation_id)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED
    assert decision.get("action") == "release"
    assert (decision.get("public_ip"), decision.get("allocation_id")) == (public_ip, allocation_id)
    assert Decimal(decision.get("realised_monthly_saving_usd")) == finding.cost.monthly_usd > 0


async def test_without_snapshots_the_saving_is_the_full_cost(ledger, ec2, make_deps) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)

    await handle_approval(event, make_deps(snapshot_before_delete=False))

    assert not await volume_exists(ec2, volume_id)
    assert await snapshots_of(ec2, volume_id) == []
    decision = await state_of(ledger, finding.key)
    assert decision.get("action") == "delete" and decision.get("snapshot_id") is None
    assert Decimal(decision.get("realised_monthly_saving_usd")) == finding.cost.monthly_usd


async def test_a_volume_attached_again_after_approval_is_skipped_and_intact(
    ledger, ec2, make_deps, reporter, metrics
) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)
    await ec2.attach_volume(VolumeId=volume_id, InstanceId=await instance(ec2), Device="/dev/sdf")

    await handle_approval(event, make_deps())

    assert await volume_exists(ec2, volume_id)
    assert await snapshots_of(ec2, volume_id) == []
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.SKIPPED
    assert "in use again" in decision.get("skip_reason")
    assert [o.state for o in reporter.outcomes] == [State.SKIPPED]
    assert metrics.values("cloudthrift.executions", outcome="skipped") == [1]
    assert metrics.values("cloudthrift.cost_avoided.monthly_usd") == []


async def test_an_address_associated_again_is_skipped(ledger, ec2, make_deps) -> None:
    allocation_id, _ = await idle_address(ec2)
    finding = await observe(ec2, "elastic-ip", allocation_id)
    event = await approve(ledger, finding)
    # moto would release it anyway (AWS refuses): only our re-check protects it.
    await ec2.associate_address(AllocationId=allocation_id, InstanceId=await instance(ec2))

    await handle_approval(event, make_deps())

    assert await address_exists(ec2, allocation_id)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.SKIPPED
    assert "associated again" in decision.get("skip_reason")


async def test_an_optout_tag_added_after_approval_is_respected(ledger, ec2, make_deps) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)
    await ec2.create_tags(Resources=[volume_id], Tags=[{"Key": "cloudthrift:keep", "Value": ""}])

    await handle_approval(event, make_deps())

    assert await volume_exists(ec2, volume_id)
    assert await snapshots_of(ec2, volume_id) == []
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.SKIPPED
    assert "opt-out tag 'cloudthrift:keep'" in decision.get("skip_reason")


async def test_a_resource_changed_since_approval_is_not_touched(ledger, ec2, make_deps) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)
    await ec2.create_tags(Resources=[volume_id], Tags=[{"Key": "owner", "Value": "data-team"}])

    await handle_approval(event, make_deps())

    assert await volume_exists(ec2, volume_id)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.SKIPPED
    assert "changed since approval (tag:owner)" in decision.get("skip_reason")


async def test_an_approval_that_does_not_match_the_ledger_is_not_acted_on(ledger, ec2, make_deps) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)
    forged = Envelope.wrap(event.payload.model_copy(update={"fingerprint": "0" * 32}))

    await handle_approval(forged, make_deps())

    assert await volume_exists(ec2, volume_id)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.SKIPPED
    assert "does not match" in decision.get("skip_reason")


async def test_a_volume_deleted_outside_cloudthrift_is_skipped(ledger, ec2, make_deps) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)
    await ec2.delete_volume(VolumeId=volume_id)

    await handle_approval(event, make_deps())

    decision = await state_of(ledger, finding.key)
    assert decision.state is State.SKIPPED
    assert "no longer exists" in decision.get("skip_reason")
    assert await snapshots_of(ec2, volume_id) == []


@pytest.mark.parametrize("stop_at", [State.ANALYZED, State.AWAITING_APPROVAL])
async def test_a_message_for_a_decision_never_approved_changes_nothing(
    ledger, ec2, make_deps, reporter, stop_at: State
) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding, stop_at=stop_at)
    before = await state_of(ledger, finding.key)

    assert await handle_approval(event, make_deps()) == []

    after = await state_of(ledger, finding.key)
    assert after.state is stop_at and after.version == before.version
    assert await volume_exists(ec2, volume_id)
    assert await snapshots_of(ec2, volume_id) == []
    assert reporter.outcomes == []


async def test_a_message_for_an_unknown_or_older_decision_changes_nothing(ledger, ec2, make_deps) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)
    stale = Envelope.wrap(event.payload.model_copy(update={"decision_id": "an-older-cycle"}))
    other = await observe(ec2, "ebs-volume", await idle_volume(ec2))
    unknown = Envelope.wrap(
        event.payload.model_copy(
            update={"key": other.key, "finding": other, "fingerprint": other.fingerprint}
        )
    )

    assert await handle_approval(stale, make_deps()) == []
    assert await handle_approval(unknown, make_deps()) == []

    assert (await state_of(ledger, finding.key)).state is State.APPROVED
    assert await volume_exists(ec2, volume_id) and await volume_exists(ec2, other.key.resource_id)


async def test_a_kind_without_an_action_is_dead_lettered(ledger, ec2, make_deps) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)
    odd: Any = finding.model_copy(update={"key": finding.key.model_copy(update={"kind": "dynamodb-table"})})
    message = Envelope.wrap(event.payload.model_copy(update={"finding": odd}))

    with pytest.raises(UnsupportedResource):
        await handle_approval(message, make_deps())
    assert (await state_of(ledger, finding.key)).state is State.APPROVED


async def test_dry_run_records_what_would_be_done_and_changes_nothing(
    ledger, ec2, make_deps, reporter, metrics
) -> None:
    volume_id = await idle_volume(ec2)
    allocation_id, _ = await idle_address(ec2)
    volume = await observe(ec2, "ebs-volume", volume_id)
    address = await observe(ec2, "elastic-ip", allocation_id)
    events = [await approve(ledger, volume), await approve(ledger, address)]
    before = (await ec2.describe_volumes())["Volumes"], (await ec2.describe_addresses())["Addresses"]

    for event in events:
        await handle_approval(event, make_deps(dry_run=True))

    after = (await ec2.describe_volumes())["Volumes"], (await ec2.describe_addresses())["Addresses"]
    assert after == before
    assert await snapshots_of(ec2, volume_id) == []
    for finding in (volume, address):
        decision = await state_of(ledger, finding.key)
        assert decision.state is State.EXECUTED and decision.get("dry_run") is True
        assert decision.get("realised_monthly_saving_usd") is None
        assert Decimal(decision.get("would_save_monthly_usd")) == finding.cost.net_monthly_saving_usd
    assert all("Dry run" in o.headline for o in reporter.outcomes)
    assert metrics.values("cloudthrift.executions", outcome="executed", dry_run="true") == [1, 1]
    assert ALICE.name in reporter.outcomes[0].headline
