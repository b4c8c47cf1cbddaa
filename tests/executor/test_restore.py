"""Undo (issue 14): EXECUTED → RESTORING → RESTORED | RESTORE_FAILED, by the executor on moto."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from services.executor.handler import handle_approval
from services.executor.restore import handle_restore
from shared.errors import PermanentError, TransientError
from shared.events import Approver, Envelope, Finding, RestoreRequested
from shared.kinds.ebs_volume.remedies import DECISION_TAG
from shared.ledger import Attr, Ledger, State
from tests.executor.helpers import (
    REGION,
    Crash,
    Wrapped,
    approve,
    client_error,
    idle_address,
    idle_volume,
    observe,
    state_of,
    volume_exists,
)

BOB = Approver(id="2002", name="bob", via="cli")
COMPARED = ("AvailabilityZone", "VolumeType", "Size", "Iops", "Throughput", "Encrypted", "KmsKeyId")


def undo(finding: Finding, decision_id: str, who: Approver = BOB) -> Envelope[RestoreRequested]:
    return Envelope.wrap(
        RestoreRequested(
            decision_id=decision_id, key=finding.key, requested_by=who, requested_at=datetime.now(UTC)
        )
    )


async def executed(ledger: Ledger, ec2: Any, make_deps: Any, kind: str, resource_id: str) -> Finding:
    finding = await observe(ec2, kind, resource_id)
    await handle_approval(await approve(ledger, finding), make_deps())
    assert (await state_of(ledger, finding.key)).state is State.EXECUTED
    return finding


async def volume(ec2: Any, volume_id: str) -> dict[str, Any]:
    return dict((await ec2.describe_volumes(VolumeIds=[volume_id]))["Volumes"][0])


def own_tags(raw: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in raw.get("Tags", [])}


@pytest.mark.parametrize(
    "shape",
    [
        {"VolumeType": "io1", "Size": 50, "Iops": 2500},
        {"VolumeType": "gp3", "Size": 200, "Iops": 6000, "Throughput": 400},
        {"VolumeType": "st1", "Size": 500},
        {"VolumeType": "gp2", "Size": 30, "kms": True},
    ],
    ids=["io1", "gp3", "st1", "gp2-encrypted-kms"],
)
async def test_a_deleted_volume_comes_back_as_it_was(ledger, ec2, aws, make_deps, metrics, shape) -> None:
    shape = dict(shape)
    extra: dict[str, Any] = {}
    if shape.pop("kms", False):
        kms = await aws.client("kms", REGION)
        key = (await kms.create_key(Description="restore test"))["KeyMetadata"]["Arn"]
        extra = {"Encrypted": True, "KmsKeyId": key}
    tags = {"Name": "ci-cache", "team": "platform", "cost-center": "42"}
    created = await ec2.create_volume(
        AvailabilityZone=f"{REGION}b",
        TagSpecifications=[
            {"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
        **shape,
        **extra,
    )
    original = await volume(ec2, created["VolumeId"])
    finding = await executed(ledger, ec2, make_deps, "ebs-volume", original["VolumeId"])
    assert not await volume_exists(ec2, original["VolumeId"])

    await handle_restore(undo(finding, (await state_of(ledger, finding.key)).decision_id), make_deps())

    decision = await state_of(ledger, finding.key)
    assert decision.state is State.RESTORED, decision.get(Attr.RESTORE_ERROR)
    restored = await volume(ec2, decision.get(Attr.RESTORED_RESOURCE_ID))
    assert restored["VolumeId"] != original["VolumeId"]
    for name in COMPARED:
        assert restored.get(name) == original.get(name), name
    if extra:
        assert restored["Encrypted"] and restored["KmsKeyId"] == extra["KmsKeyId"]
    assert restored["SnapshotId"] == decision.get(Attr.SNAPSHOT_ID)
    # Its own tags, not the snapshot's (decision id, approver, "cloudthrift backup of ...").
    assert own_tags(restored) == tags
    assert decision.get(Attr.RESTORE_REQUESTED_BY) == "bob (cli:2002)"
    assert decision.get(Attr.RESTORE_REQUESTED_AT) is not None and decision.get(Attr.RESTORED_AT)
    assert [h["to"] for h in decision.get("history")][-2:] == ["RESTORING", "RESTORED"]
    assert metrics.values("cloudthrift.restores", outcome="restored", kind="ebs-volume") == [1]


async def test_an_undo_is_done_once_and_never_undone(ledger, ec2, make_deps, reporter) -> None:
    finding = await executed(ledger, ec2, make_deps, "ebs-volume", await idle_volume(ec2))
    decision_id = (await state_of(ledger, finding.key)).decision_id
    request = undo(finding, decision_id)
    await handle_restore(request, make_deps())
    first = await state_of(ledger, finding.key)

    # The same message again, and a new request (a second click): nothing is created or written.
    await handle_restore(request, make_deps())
    await handle_restore(
        undo(finding, decision_id, Approver(id="3", name="carol", via="discord")), make_deps()
    )

    after = await state_of(ledger, finding.key)
    assert after.state is State.RESTORED and after.version == first.version
    answer = await ec2.describe_volumes(
        Filters=[{"Name": "snapshot-id", "Values": [first.get("snapshot_id")]}]
    )
    assert len(answer["Volumes"]) == 1
    assert reporter.outcomes[-1].state is State.RESTORED


async def test_a_dry_run_or_an_undecided_decision_is_not_undone(ledger, ec2, make_deps) -> None:
    dry = await observe(ec2, "ebs-volume", await idle_volume(ec2))
    await handle_approval(await approve(ledger, dry), make_deps(dry_run=True))
    pending = await observe(ec2, "ebs-volume", await idle_volume(ec2))
    await approve(ledger, pending, stop_at=State.AWAITING_APPROVAL)

    for finding in (dry, pending):
        before = await state_of(ledger, finding.key)
        await handle_restore(undo(finding, before.decision_id), make_deps())
        after = await state_of(ledger, finding.key)
        assert after.state is before.state and after.version == before.version


async def test_a_dry_run_executor_leaves_an_undo_to_a_live_one(ledger, ec2, make_deps) -> None:
    finding = await executed(ledger, ec2, make_deps, "ebs-volume", await idle_volume(ec2))
    before = await state_of(ledger, finding.key)
    with pytest.raises(PermanentError, match="dry-run"):
        await handle_restore(undo(finding, before.decision_id), make_deps(dry_run=True))
    after = await state_of(ledger, finding.key)
    assert after.state is State.EXECUTED and after.version == before.version


async def test_an_archived_snapshot_is_restored_first_and_the_undo_resumes(
    ledger, ec2, make_deps, clock
) -> None:
    finding = await executed(ledger, ec2, make_deps, "ebs-volume", await idle_volume(ec2))
    decision = await state_of(ledger, finding.key)
    snapshot_id = decision.get(Attr.SNAPSHOT_ID)
    await ec2.modify_snapshot_tier(SnapshotId=snapshot_id, StorageTier="archive")
    requeued: list[tuple[RestoreRequested, int]] = []

    async def requeue(request: RestoreRequested, delay: int) -> None:
        requeued.append((request, delay))

    request = undo(finding, decision.decision_id)
    await handle_restore(request, replace(make_deps(), requeue=requeue))
    waiting = await state_of(ledger, finding.key)
    assert waiting.state is State.RESTORING
    assert "archived" in waiting.get(Attr.RESTORE_WAITING)
    assert [delay for _, delay in requeued] == [900]
    tier = (await ec2.describe_snapshots(SnapshotIds=[snapshot_id]))["Snapshots"][0]["StorageTier"]
    assert tier == "standard"  # RestoreSnapshotTier(PermanentRestore) was asked (moto completes it at once)

    # The re-sent request comes back later: the undo resumes and finishes.
    await handle_restore(Envelope.wrap(requeued[0][0]), replace(make_deps(), requeue=requeue))
    done = await state_of(ledger, finding.key)
    assert done.state is State.RESTORED
    assert await volume_exists(ec2, done.get(Attr.RESTORED_RESOURCE_ID))


async def test_a_waiting_undo_without_a_requeue_is_retried_by_the_queue(ledger, ec2, make_deps) -> None:
    finding = await executed(ledger, ec2, make_deps, "ebs-volume", await idle_volume(ec2))
    decision = await state_of(ledger, finding.key)
    await ec2.modify_snapshot_tier(SnapshotId=decision.get(Attr.SNAPSHOT_ID), StorageTier="archive")
    with pytest.raises(TransientError, match="archived"):
        await handle_restore(undo(finding, decision.decision_id), make_deps())
    assert (await state_of(ledger, finding.key)).state is State.RESTORING


async def test_a_crash_after_create_volume_reuses_that_volume(ledger, ec2, make_deps, clock) -> None:
    finding = await executed(ledger, ec2, make_deps, "ebs-volume", await idle_volume(ec2))
    decision = await state_of(ledger, finding.key)
    request = undo(finding, decision.decision_id)
    with pytest.raises(Crash):
        await handle_restore(request, make_deps(wrap=lambda c: Wrapped(c, "create_volume", when="after")))
    assert (await state_of(ledger, finding.key)).state is State.RESTORING
    clock.advance(31)  # the dead attempt's claim expires
    await handle_restore(request, make_deps())
    done = await state_of(ledger, finding.key)
    assert done.state is State.RESTORED
    answer = await ec2.describe_volumes(
        Filters=[{"Name": "snapshot-id", "Values": [decision.get("snapshot_id")]}]
    )
    assert [v["VolumeId"] for v in answer["Volumes"]] == [done.get(Attr.RESTORED_RESOURCE_ID)]


async def test_a_released_address_comes_back_with_the_same_ip_and_tags(ledger, ec2, make_deps) -> None:
    allocation_id, ip = await idle_address(ec2)
    await ec2.create_tags(
        Resources=[allocation_id], Tags=[{"Key": "Name", "Value": "vpn"}, {"Key": "env", "Value": "dev"}]
    )
    finding = await executed(ledger, ec2, make_deps, "elastic-ip", allocation_id)
    assert not (await ec2.describe_addresses(Filters=[{"Name": "public-ip", "Values": [ip]}]))["Addresses"]

    await handle_restore(undo(finding, (await state_of(ledger, finding.key)).decision_id), make_deps())

    decision = await state_of(ledger, finding.key)
    assert decision.state is State.RESTORED, decision.get(Attr.RESTORE_ERROR)
    [address] = (await ec2.describe_addresses(Filters=[{"Name": "public-ip", "Values": [ip]}]))["Addresses"]
    assert address["AllocationId"] == decision.get(Attr.RESTORED_RESOURCE_ID)
    assert address["Domain"] == "vpc"
    assert {t["Key"]: t["Value"] for t in address.get("Tags", [])} == {"Name": "vpn", "env": "dev"}


async def test_an_address_aws_gave_away_fails_the_undo_plainly(ledger, ec2, make_deps, reporter) -> None:
    # moto hands back any address asked for: AWS's refusal is injected as AWS answers it.
    allocation_id, ip = await idle_address(ec2)
    finding = await executed(ledger, ec2, make_deps, "elastic-ip", allocation_id)
    refuse = client_error("InvalidAddress.NotFound", "AllocateAddress")
    deps = make_deps(wrap=lambda c: Wrapped(c, "allocate_address", raise_=refuse))

    await handle_restore(undo(finding, (await state_of(ledger, finding.key)).decision_id), deps)

    decision = await state_of(ledger, finding.key)
    assert decision.state is State.RESTORE_FAILED
    assert ip in decision.get(Attr.RESTORE_ERROR) and "InvalidAddress.NotFound" in decision.get(
        Attr.RESTORE_ERROR
    )
    assert "failed" in reporter.outcomes[-1].headline
    # Asked again later (AWS may have freed it): a failed undo can be retried.
    await handle_restore(undo(finding, decision.decision_id), make_deps())
    assert (await state_of(ledger, finding.key)).state is State.RESTORED


async def test_the_snapshot_keeps_the_decision_tag_but_the_volume_does_not(ledger, ec2, make_deps) -> None:
    finding = await executed(ledger, ec2, make_deps, "ebs-volume", await idle_volume(ec2, tags={"team": "x"}))
    await handle_restore(undo(finding, (await state_of(ledger, finding.key)).decision_id), make_deps())
    restored = await volume(ec2, (await state_of(ledger, finding.key)).get(Attr.RESTORED_RESOURCE_ID))
    assert DECISION_TAG not in own_tags(restored)
    assert own_tags(restored) == {"Name": "jenkins-workspace-2023", "team": "x"}
