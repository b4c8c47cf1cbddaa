"""Old EBS snapshots: the exclusions and prices without AWS; the listing (a seeded estate with near
misses), the remedies in dry run and for real, the re-check and the archive's undo on moto."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.estate import moto_backdater, seed_estate
from services.executor.handler import ExecutorDeps, handle_approval
from services.executor.restore import handle_restore
from services.scanner.handler import ScannerDeps, ScanPolicy, handle_scan
from services.scanner.rules import build_finding
from shared.aws import AwsClients, RegionClients
from shared.events import DecisionKey, Envelope, Finding, ScanRequested
from shared.kinds import check_named, kind_named
from shared.kinds.base import Done, Observation
from shared.kinds.ebs_snapshot.remedies import Archive, Delete
from shared.kinds.pricing import load_prices
from shared.ledger import Ledger, State
from tests.executor.helpers import ACCOUNT, REGION, approve, restore_request, state_of

NOW = datetime.now(UTC)
RATES = load_prices().rates("us-east-1")
FACTS = {"state": "completed", "storage_tier": "standard", "size_gib": 100, "volume_id": "vol-1"}


@pytest.mark.parametrize(
    ("extra", "held"),
    [
        ({}, False),
        ({"used_by_images": "ami-1"}, True),
        ({"managed_by": "dlm"}, True),
        ({"managed_by": "aws-backup"}, True),
        ({"cloudthrift_decision": "d-1"}, True),
        ({"storage_tier": "archive"}, True),
        ({"state": "pending"}, True),
    ],
)
def test_snapshots_someone_manages_are_never_waste(extra: dict[str, Any], held: bool) -> None:
    check = check_named("ebs-snapshot", "old")
    verdict = check.verdict(Observation("snap-1", FACTS | extra), None)
    assert (verdict is None) is held


def test_backup_and_dlm_are_read_from_tags_and_description() -> None:
    kind = kind_named("ebs-snapshot")
    raw = {"SnapshotId": "snap-1", "State": "completed", "VolumeSize": 8}
    dlm = kind.observe(raw | {"Tags": [{"Key": "aws:dlm:lifecycle-policy-id", "Value": "p"}]})
    backup = kind.observe(raw | {"Description": "This snapshot is created by the AWS Backup service."})
    assert dlm.facts["managed_by"] == "dlm" and backup.facts["managed_by"] == "aws-backup"


def test_priced_on_the_full_size_when_aws_reports_it_else_on_the_volume_size() -> None:
    kind = kind_named("ebs-snapshot")
    full = kind.observe({"SnapshotId": "s", "VolumeSize": 500, "FullSnapshotSizeInBytes": 120 * 1024**3})
    priced = kind.price(full, RATES)
    assert priced.lines[0].monthly_usd == Decimal("6.00") and "FullSnapshotSizeInBytes" in str(priced.note)
    fallback = kind.price(kind.observe({"SnapshotId": "s", "VolumeSize": 500}), RATES)
    assert fallback.lines[0].monthly_usd == Decimal("25.00") and "upper bound" in str(fallback.note)
    # Archiving bills the full size at $0.0125 in us-east-1, from the price list.
    assert Archive().residual(full, RATES).monthly_usd == Decimal("1.50")
    # Every shipped region has an archive row now (issue 14); a table without one claims no saving.
    elsewhere = load_prices().rates("eu-west-1")
    assert Archive().residual(full, elsewhere).monthly_usd == Decimal("1.50")
    unpriced = replace(
        elsewhere, values={k: v for k, v in elsewhere.values.items() if k != "ebs.snapshot.archive_gb_month"}
    )
    assert Archive().residual(full, unpriced).monthly_usd == kind.price(full, unpriced).lines[0].monthly_usd
    assert "estimated" not in Archive().residual(full, RATES).item


@pytest.mark.parametrize("region", sorted(load_prices().regions))
def test_archiving_saves_in_every_shipped_region_and_an_estimated_rate_says_so(region: str) -> None:
    kind, rates = kind_named("ebs-snapshot"), load_prices().rates(region)
    full = kind.observe({"SnapshotId": "s", "VolumeSize": 500, "FullSnapshotSizeInBytes": 120 * 1024**3})
    archived = Archive().residual(full, rates)
    assert archived.monthly_usd < kind.price(full, rates).lines[0].monthly_usd
    assert ("estimated" in archived.item) is rates.is_estimate("ebs.snapshot.archive_gb_month")
    # Where the table has no archive price (a table of one's own), no saving is claimed.
    bare = load_prices().model_copy(
        update={
            "regions": {
                region: {
                    k: v
                    for k, v in load_prices().regions[region].items()
                    if k != "ebs.snapshot.archive_gb_month"
                }
            }
        }
    )
    without = bare.rates(region)
    assert Archive().residual(full, without).monthly_usd == kind.price(full, without).lines[0].monthly_usd


def test_old_means_ninety_days_unless_the_operator_says_otherwise() -> None:
    check = check_named("ebs-snapshot", "old")
    assert ScanPolicy().min_age_for(check) == timedelta(days=90)
    assert ScanPolicy(check_min_age_days={"ebs-snapshot/old": 180}).min_age_for(check) == timedelta(days=180)


async def test_the_scan_finds_exactly_the_old_unmanaged_snapshots(runtime: Any) -> None:
    manifest = await seed_estate(
        runtime.aws, (REGION,), backdate=moto_backdater(), now=NOW, kinds=("ebs-snapshot",)
    )
    deps = ScannerDeps(
        aws=runtime.aws,
        ledger=runtime.ledger,
        prices=load_prices(),
        policy=ScanPolicy(regions=(REGION,), kinds=("ebs-snapshot",)),
        clock=lambda: NOW,
    )
    found = await handle_scan(Envelope.wrap(ScanRequested()), deps)
    reported = {event.finding.key.resource_id for event in found}
    expected = {s.resource_id for s in manifest if s.expectation == "idle"}
    assert reported == expected and len(expected) == 4
    spared = {s.expectation for s in manifest if s.resource_id not in reported}
    assert spared == {"busy", "opted-out", "too-young"}  # AMI's, DLM's, Backup's, ours, kept, recent
    by_name = {event.finding.facts["name"]: event.finding for event in found}
    assert by_name["billing-db-pre-migration-2024"].cost.monthly_usd == Decimal("25.00")
    assert by_name["billing-db-pre-migration-2024"].cost.net_monthly_saving_usd == Decimal("18.75")
    assert by_name["web-root-before-upgrade"].facts["volume_exists"] is True


async def old_snapshot(ec2: Any, *, size: int = 100, tags: dict[str, str] | None = None) -> str:
    volume = await ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=size, VolumeType="gp3")
    spec = [{"ResourceType": "snapshot", "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}]
    made = await ec2.create_snapshot(VolumeId=volume["VolumeId"], TagSpecifications=spec if tags else [])
    moto_backdater()(REGION, "snapshots", made["SnapshotId"], "start_time", NOW - timedelta(days=200))
    await ec2.delete_volume(VolumeId=volume["VolumeId"])
    return str(made["SnapshotId"])


async def finding_for(aws: AwsClients, snapshot_id: str) -> Finding:
    kind, check = kind_named("ebs-snapshot"), check_named("ebs-snapshot", "old")
    raw = await kind.describe(RegionClients(aws, REGION), snapshot_id)
    assert raw is not None
    observation = kind.observe(raw)
    reason = check.verdict(observation, None)
    assert reason is not None
    key = DecisionKey(
        account_id=ACCOUNT, region=REGION, kind="ebs-snapshot", check="old", resource_id=snapshot_id
    )
    return build_finding(check, observation, reason, key, load_prices(), now=NOW, scan_id="scan-test")


async def tier_of(ec2: Any, snapshot_id: str) -> str:
    return str((await ec2.describe_snapshots(SnapshotIds=[snapshot_id]))["Snapshots"][0]["StorageTier"])


async def test_approved_old_snapshot_is_archived_and_saves_net_of_the_archive(
    ec2: Any, aws: AwsClients, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    snapshot_id = await old_snapshot(ec2, size=400)
    finding = await finding_for(aws, snapshot_id)
    await handle_approval(await approve(ledger, finding), make_deps())
    done = await state_of(ledger, finding.key)
    assert done.state is State.EXECUTED and done.get("action") == "archive_snapshot"
    assert Decimal(str(done.get("realised_monthly_saving_usd"))) == Decimal("15.0000")  # 20 - 5 archived
    assert await tier_of(ec2, snapshot_id) == "archive"
    # The undo: back to the standard tier (moto finishes RestoreSnapshotTier at once; AWS takes hours,
    # and the undo answers NotYet meanwhile).
    await handle_restore(restore_request(finding.key, done.decision_id), make_deps())
    restored = await state_of(ledger, finding.key)
    assert restored.state is State.RESTORED and restored.get("restored_resource_id") == snapshot_id
    assert await tier_of(ec2, snapshot_id) == "standard"


async def test_dry_run_leaves_the_snapshot_in_the_standard_tier(
    ec2: Any, aws: AwsClients, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    snapshot_id = await old_snapshot(ec2)
    finding = await finding_for(aws, snapshot_id)
    await handle_approval(await approve(ledger, finding), make_deps(dry_run=True))
    done = await state_of(ledger, finding.key)
    assert done.state is State.EXECUTED and done.get("dry_run") is True
    assert await tier_of(ec2, snapshot_id) == "standard"


async def test_a_snapshot_taken_over_by_dlm_after_approval_is_skipped_untouched(
    ec2: Any, aws: AwsClients, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    # moto's RegisterImage ignores the mappings it is given, so "registered into an AMI after
    # approval" is staged as its sibling: a lifecycle policy adopting the snapshot.
    snapshot_id = await old_snapshot(ec2)
    finding = await finding_for(aws, snapshot_id)
    event = await approve(ledger, finding)
    await ec2.create_tags(
        Resources=[snapshot_id], Tags=[{"Key": "aws:dlm:lifecycle-policy-id", "Value": "p"}]
    )
    await handle_approval(event, make_deps())
    skipped = await state_of(ledger, finding.key)
    assert skipped.state is State.SKIPPED and "managed by dlm" in str(skipped.get("skip_reason"))
    assert await tier_of(ec2, snapshot_id) == "standard"


async def test_the_delete_remedy_deletes_and_a_gone_snapshot_counts_as_done(
    ec2: Any, aws: AwsClients
) -> None:
    from tests.kinds.test_ebs_gp2 import job_for

    snapshot_id = await old_snapshot(ec2)
    job = job_for(snapshot_id, RegionClients(aws, REGION))
    assert (await Delete().rehearse(job.clients, job.job)).action == "delete_snapshot"
    assert (await Delete().apply(job.clients, job.job)) == Done("delete_snapshot")
    again = await Delete().apply(job.clients, job.job)
    assert isinstance(again, Done) and again.already_gone


async def test_a_snapshot_whose_volume_lives_on_is_proposed_for_deletion_and_deleted(
    ec2: Any, aws: AwsClients, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    volume = await ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=200, VolumeType="gp3")
    made = await ec2.create_snapshot(VolumeId=volume["VolumeId"])
    snapshot_id = str(made["SnapshotId"])
    moto_backdater()(REGION, "snapshots", snapshot_id, "start_time", NOW - timedelta(days=200))
    finding = await finding_for(aws, snapshot_id)
    # Its data lives on in the volume: archiving would bill the full size for 90 days for nothing.
    assert finding.facts["volume_exists"] is True
    assert finding.cost.net_monthly_saving_usd == finding.cost.monthly_usd == Decimal("10.00")
    await handle_approval(await approve(ledger, finding), make_deps())
    done = await state_of(ledger, finding.key)
    assert done.state is State.EXECUTED and done.get("action") == "delete_snapshot"
    assert not (await ec2.describe_snapshots(Filters=[{"Name": "snapshot-id", "Values": [snapshot_id]}]))[
        "Snapshots"
    ]
