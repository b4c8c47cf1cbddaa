"""Unused AMIs: what counts as use without AWS; the listing on a seeded estate with near misses (used
by an instance, a launch template, a launch configuration), both remedies in dry run and for real,
the re-check and the undo of deregistering alone on moto."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.estate import moto_backdater, seed_estate
from services.executor.handler import ExecutorDeps, handle_approval
from services.scanner.handler import ScannerDeps, ScanPolicy, handle_scan
from services.scanner.rules import build_finding
from shared.aws import AwsClients, RegionClients
from shared.events import DecisionKey, Envelope, Finding, ScanRequested
from shared.kinds import check_named, kind_named
from shared.kinds.ami.remedies import Deregister, DeregisterAndDeleteSnapshots
from shared.kinds.base import Done, Job, Observation, Restored, UndoJob
from shared.kinds.pricing import load_prices
from shared.ledger import Ledger, State
from tests.executor.helpers import ACCOUNT, ALICE, REGION, approve, state_of

NOW = datetime.now(UTC)
RATES = load_prices().rates("us-east-1")
KIND, CHECK = "ami", "unused"
FACTS = {"state": "available", "public": False, "name": "web-1", "snapshot_count": 1, "size_gib": 8}


@pytest.mark.parametrize(
    ("extra", "used"),
    [
        ({}, False),
        ({"used_by_instances": "i-1"}, True),
        ({"used_by_launch_templates": "workers"}, True),
        ({"used_by_launch_configurations": "batch"}, True),
        ({"public": True}, True),
        ({"state": "pending"}, True),
    ],
)
def test_an_image_anything_can_launch_is_never_waste(extra: dict[str, Any], used: bool) -> None:
    verdict = check_named(KIND, CHECK).verdict(Observation("ami-1", FACTS | extra), None)
    assert (verdict is None) is used


def test_priced_on_its_snapshots_and_its_mapping_read_back_for_registration() -> None:
    raw = {
        "ImageId": "ami-1",
        "State": "available",
        "CreationDate": "2025-01-02T03:04:05.000Z",
        "BlockDeviceMappings": [
            {
                "DeviceName": "/dev/xvda",
                "Ebs": {"SnapshotId": "snap-1", "VolumeSize": 30, "VolumeType": "gp3"},
            },
            {
                "DeviceName": "/dev/sdf",
                "Ebs": {"SnapshotId": "snap-2", "VolumeSize": 500, "DeleteOnTermination": False},
            },
            {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
        ],
    }
    observation = kind_named(KIND).observe(raw)
    assert observation.created_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert observation.facts["size_gib"] == 530 and observation.facts["snapshot_count"] == 2
    assert kind_named(KIND).price(observation, RATES).lines[0].monthly_usd == Decimal("26.50")
    # Deregistering alone keeps all of it billed: it saves nothing until the snapshots go.
    assert Deregister().residual(observation, RATES).monthly_usd == Decimal("26.50")
    from shared.kinds.ami.kind import mappings_of

    assert mappings_of(observation.facts)[0] == {  # sorted by device
        "DeviceName": "/dev/sdf",
        "Ebs": {"SnapshotId": "snap-2", "VolumeSize": 500, "VolumeType": "gp2", "DeleteOnTermination": False},
    }


async def test_the_scan_finds_exactly_the_unused_images(runtime: Any) -> None:
    manifest = await seed_estate(runtime.aws, (REGION,), backdate=moto_backdater(), now=NOW, kinds=(KIND,))
    deps = ScannerDeps(
        aws=runtime.aws,
        ledger=runtime.ledger,
        prices=load_prices(),
        policy=ScanPolicy(regions=(REGION,), kinds=(KIND,)),
        clock=lambda: NOW,
    )
    found = await handle_scan(Envelope.wrap(ScanRequested()), deps)
    reported = {event.finding.key.resource_id for event in found}
    expected = {s.resource_id for s in manifest if s.expectation == "idle"}
    assert reported == expected and len(expected) == 3
    spared = {s.expectation for s in manifest if s.resource_id not in reported}
    assert spared == {"busy", "opted-out", "too-young"}  # instance's, template's, configuration's
    # moto gives every image one 15 GiB snapshot.
    assert {event.finding.cost.monthly_usd for event in found} == {Decimal("0.75")}


async def unused_image(ec2: Any, name: str = "old-release") -> str:
    server = await ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro")
    instance_id = server["Instances"][0]["InstanceId"]
    made = await ec2.create_image(InstanceId=instance_id, Name=name)
    await ec2.terminate_instances(InstanceIds=[instance_id])
    moto_backdater()(REGION, "amis", made["ImageId"], "creation_date", NOW - timedelta(days=200))
    return str(made["ImageId"])


async def finding_for(aws: AwsClients, image_id: str) -> Finding:
    kind, check = kind_named(KIND), check_named(KIND, CHECK)
    raw = await kind.describe(RegionClients(aws, REGION), image_id)
    assert raw is not None
    observation = kind.observe(raw)
    reason = check.verdict(observation, None)
    assert reason is not None, observation.facts
    key = DecisionKey(account_id=ACCOUNT, region=REGION, kind=KIND, check=CHECK, resource_id=image_id)
    return build_finding(check, observation, reason, key, load_prices(), now=NOW, scan_id="scan-test")


async def snapshot_exists(ec2: Any, snapshot_id: str) -> bool:
    answer = await ec2.describe_snapshots(Filters=[{"Name": "snapshot-id", "Values": [snapshot_id]}])
    return bool(answer["Snapshots"])


async def test_approved_image_is_deregistered_and_its_snapshots_deleted(
    ec2: Any, aws: AwsClients, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    image_id = await unused_image(ec2)
    finding = await finding_for(aws, image_id)
    [snapshot_id] = [e.split("=")[1].split(":")[0] for e in str(finding.facts["block_devices"]).split(",")]
    await handle_approval(await approve(ledger, finding), make_deps())
    done = await state_of(ledger, finding.key)
    assert done.state is State.EXECUTED and done.get("action") == "deregister_and_delete_snapshots"
    assert Decimal(str(done.get("realised_monthly_saving_usd"))) == Decimal("0.75")
    assert (await ec2.describe_images(Owners=["self"]))["Images"] == []
    assert not await snapshot_exists(ec2, snapshot_id) and done.get("deleted_snapshot_ids") == snapshot_id


async def test_dry_run_deregisters_nothing(
    ec2: Any, aws: AwsClients, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    image_id = await unused_image(ec2)
    finding = await finding_for(aws, image_id)
    await handle_approval(await approve(ledger, finding), make_deps(dry_run=True))
    done = await state_of(ledger, finding.key)
    assert done.state is State.EXECUTED and done.get("dry_run") is True
    assert [i["ImageId"] for i in (await ec2.describe_images(ImageIds=[image_id]))["Images"]] == [image_id]


async def test_an_image_put_in_a_launch_template_after_approval_is_skipped_untouched(
    ec2: Any, aws: AwsClients, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    image_id = await unused_image(ec2)
    finding = await finding_for(aws, image_id)
    event = await approve(ledger, finding)
    await ec2.create_launch_template(LaunchTemplateName="late", LaunchTemplateData={"ImageId": image_id})
    await handle_approval(event, make_deps())
    skipped = await state_of(ledger, finding.key)
    assert skipped.state is State.SKIPPED and "launch templates late" in str(skipped.get("skip_reason"))
    assert (await ec2.describe_images(ImageIds=[image_id]))["Images"]


async def test_a_crash_after_deregistering_finishes_the_snapshots_on_redelivery(
    ec2: Any, aws: AwsClients
) -> None:
    image_id = await unused_image(ec2)
    finding = await finding_for(aws, image_id)
    await ec2.deregister_image(ImageId=image_id)  # the earlier attempt got this far
    snapshot_id = str(finding.facts["block_devices"]).split("=")[1].split(":")[0]

    async def guard() -> None:
        return None

    job = Job(
        decision_id="d-1",
        resource_id=image_id,
        approver=ALICE,
        facts=finding.facts,
        tags=finding.tags,
        snapshot_wait_seconds=5,
        guard=guard,
    )
    clients = RegionClients(aws, REGION)
    done = await DeregisterAndDeleteSnapshots().leftovers(clients, job)
    assert done.already_gone and not await snapshot_exists(ec2, snapshot_id)
    again = await DeregisterAndDeleteSnapshots().apply(clients, job)  # and once more: still done
    assert isinstance(again, Done)


async def test_deregistering_alone_keeps_the_snapshots_and_registers_again_on_undo(
    ec2: Any, aws: AwsClients
) -> None:
    image_id = await unused_image(ec2, name="golden-2024")
    finding = await finding_for(aws, image_id)

    async def guard() -> None:
        return None

    clients = RegionClients(aws, REGION)
    job = Job(
        decision_id="d-2",
        resource_id=image_id,
        approver=ALICE,
        facts=finding.facts,
        tags=finding.tags,
        snapshot_wait_seconds=5,
        guard=guard,
    )
    done = await Deregister().apply(clients, job)
    assert isinstance(done, Done) and done.keeps_snapshot
    assert await snapshot_exists(ec2, str(done.record["kept_snapshot_ids"]))
    undo = UndoJob(
        decision_id="d-2",
        resource_id=image_id,
        approver=ALICE,
        facts=finding.facts,
        tags=finding.tags,
        record=done.record,
        snapshot_id=None,
        guard=guard,
    )
    restored = await Deregister().restore(clients, undo)
    assert isinstance(restored, Restored) and restored.resource_id != image_id
    [image] = (await ec2.describe_images(ImageIds=[restored.resource_id]))["Images"]
    assert image["Name"] == "golden-2024"
    twice = await Deregister().restore(clients, undo)  # a repeated undo registers no second image
    assert isinstance(twice, Restored) and twice.resource_id == restored.resource_id
