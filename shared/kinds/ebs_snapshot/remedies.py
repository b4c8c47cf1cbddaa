"""Archive an old snapshot (undo: restore it to the standard tier) or delete it (no undo)."""

from __future__ import annotations

from shared.aws import is_error
from shared.events import CostLine
from shared.kinds.base import (
    Clients,
    Done,
    Job,
    NotYet,
    Observation,
    Refused,
    Remedy,
    Restored,
    UndoJob,
    expect_dry_run_ok,
)
from shared.kinds.ebs_snapshot.kind import ARCHIVE_PRICE, EbsSnapshot, billed_gb
from shared.kinds.ebs_volume.undo import TIER_RETRY, ask_standard_tier
from shared.kinds.pricing import Rates, line


@EbsSnapshot.remedy("archive")
class Archive(Remedy):
    action = "archive_snapshot"
    summary = (
        "move the snapshot to the archive tier (full size at $0.0125/GB-month in us-east-1, 90-day minimum)"
    )
    permissions = (
        "ec2:DescribeSnapshots",
        "ec2:ModifySnapshotTier",
        "ec2:RestoreSnapshotTier",
        "ec2:DescribeSnapshotTierStatus",
    )  # fmt: skip  (the last two: the undo)
    undo = "restore it to the standard tier (RestoreSnapshotTier; takes up to 72 hours)"

    def residual(self, observation: Observation, rates: Rates) -> CostLine:
        """Archive bills the full size; a region whose archive price the table lacks claims no saving,
        and one whose archive price is an estimate says so."""
        gb, _ = billed_gb(observation)
        if ARCHIVE_PRICE in rates:
            estimated = " at an estimated rate" if rates.is_estimate(ARCHIVE_PRICE) else ""
            return line(f"archived snapshot (full size{estimated})", gb, "GB-month", rates[ARCHIVE_PRICE])
        return line("archived snapshot (no archive price for this region: no saving claimed)", gb, "GB-month",
                    rates["ebs.snapshot.gb_month"])  # fmt: skip

    async def apply(self, clients: Clients, job: Job) -> Done | Refused:
        ec2 = await clients("ec2")
        await job.guard()
        try:
            await ec2.modify_snapshot_tier(SnapshotId=job.resource_id, StorageTier="archive")
        except Exception as exc:
            if is_error(exc, *EbsSnapshot.gone_codes):
                return Done(self.action, keeps_snapshot=True, already_gone=True)
            if is_error(exc, "IncorrectState", "InvalidSnapshot.InUse"):
                return Refused(f"AWS refused to archive it: {exc}")
            raise
        return Done(self.action, keeps_snapshot=True, record={"archived_snapshot_id": job.resource_id})

    async def rehearse(self, clients: Clients, job: Job) -> Done:
        ec2 = await clients("ec2")
        await expect_dry_run_ok(
            ec2.modify_snapshot_tier(SnapshotId=job.resource_id, StorageTier="archive", DryRun=True)
        )
        return Done(self.action, keeps_snapshot=True)

    async def restore(self, clients: Clients, job: UndoJob) -> Restored | NotYet | Refused:
        """Back to the standard tier for good: asked once, then waited for (AWS takes up to 72 hours)."""
        snapshot_id = str(job.record.get("archived_snapshot_id") or job.resource_id)
        ec2 = await clients("ec2")
        for attempt in range(2):  # look, ask, look again (moto, and small snapshots, finish at once)
            try:
                answer = await ec2.describe_snapshots(SnapshotIds=[snapshot_id])
            except Exception as exc:
                if is_error(exc, *EbsSnapshot.gone_codes):
                    return Refused(f"snapshot {snapshot_id} no longer exists: nothing to bring back")
                raise
            if answer["Snapshots"][0].get("StorageTier") != "archive":
                return Restored("restore_snapshot_tier", snapshot_id, {"storage_tier": "standard"})
            if attempt == 0:
                await ask_standard_tier(ec2, snapshot_id, job.guard)
        return NotYet(
            f"snapshot {snapshot_id} is being restored to the standard tier (up to 72 hours)", TIER_RETRY
        )


@EbsSnapshot.remedy("delete")
class Delete(Remedy):
    action = "delete_snapshot"
    summary = "delete the snapshot"
    permissions = ("ec2:DescribeSnapshots", "ec2:DeleteSnapshot")
    undo = None  # only a Recycle Bin retention rule for snapshots in the region could bring it back

    async def apply(self, clients: Clients, job: Job) -> Done | Refused:
        ec2 = await clients("ec2")
        await job.guard()
        try:
            await ec2.delete_snapshot(SnapshotId=job.resource_id)
        except Exception as exc:
            if is_error(exc, *EbsSnapshot.gone_codes):
                return Done(self.action, already_gone=True)
            if is_error(exc, "InvalidSnapshot.InUse"):
                return Refused("snapshot is in use by an AMI after all (InvalidSnapshot.InUse)")
            raise
        return Done(self.action)

    async def rehearse(self, clients: Clients, job: Job) -> Done:
        await expect_dry_run_ok(
            (await clients("ec2")).delete_snapshot(SnapshotId=job.resource_id, DryRun=True)
        )
        return Done(self.action)
