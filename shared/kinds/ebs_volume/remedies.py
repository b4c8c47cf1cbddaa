"""Deleting an EBS volume: after a snapshot tagged with the decision (the default), after one kept in
the archive tier, or outright (which cannot be undone).

A snapshot bills the blocks written, not the volume's size: once it completes, AWS's
`FullSnapshotSizeInBytes` is recorded (`snapshot_size_gib`) and the executor prices the kept snapshot
on it. Where AWS does not report it, the provisioned size stays, recorded as an upper bound.

Undo (`SnapshotThenDelete.restore`): a volume created from the safety snapshot in the same Availability
Zone with the same type, size, IOPS, throughput, encryption and KMS key and the volume's own tags (not
ours), all read from the volume right before it was deleted (`volume_spec` in the EXECUTED record). An
archived snapshot is first restored to the standard tier (RestoreSnapshotTier, up to 72 hours): the
undo answers `NotYet` until it is, and the executor resumes it later. The restored volume has a new id.

The safety snapshot is found by its decision-id tag before one is created, so a redelivered or replayed
approval reuses the snapshot an earlier, crashed attempt made instead of making a second one. Creating
a snapshot takes minutes on real AWS (moto completes it at once): the wait is bounded by
`snapshot_wait_seconds`; a snapshot still pending after that is a transient condition the next delivery
resumes (the queue's heartbeat keeps the message invisible, and the claim is renewed alongside it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

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
from shared.kinds.ebs_volume.kind import EbsVolume
from shared.kinds.ebs_volume.undo import (
    SPEC,
    restored_volume,
    spec_from,
    spec_of,
    unarchive,
    volume_spec,
)
from shared.kinds.pricing import Rates, line

DECISION_TAG = "cloudthrift:decision-id"
VOLUME_TAG = "cloudthrift:volume-id"
APPROVER_TAG = "cloudthrift:approver"
_WAIT_DELAY_SECONDS = 15  # botocore's own delay for snapshot_completed
_MAX_TAGS = 50
_GIB = Decimal(1024**3)
ARCHIVE_PRICE = "ebs.snapshot.archive_gb_month"
ARCHIVE_MINIMUM_MONTHS = 3  # AWS bills an archived snapshot for at least 90 days
ARCHIVE_RESTORE = "restoring an archived snapshot to standard takes up to 72 hours ($0.03/GB restored)"
REPORTED = "reported by AWS (FullSnapshotSizeInBytes)"
UPPER_BOUND = "upper bound: the volume's provisioned size (AWS did not report the snapshot's size)"


@EbsVolume.remedy("delete")
class Delete(Remedy):
    action = "delete"
    summary = "delete the volume without a snapshot: this cannot be undone, the data is gone for good"
    permissions = ("ec2:DescribeVolumes", "ec2:DeleteVolume")

    async def apply(self, clients: Clients, job: Job) -> Done | Refused:
        return await self._delete(await clients("ec2"), job, None)

    async def rehearse(self, clients: Clients, job: Job) -> Done:
        await expect_dry_run_ok((await clients("ec2")).delete_volume(VolumeId=job.resource_id, DryRun=True))
        return Done(self.action, keeps_snapshot=self.keeps_snapshot)

    async def _delete(self, ec2: Any, job: Job, snapshot_id: str | None) -> Done | Refused:
        await job.guard()
        try:
            await ec2.delete_volume(VolumeId=job.resource_id)
        except Exception as exc:
            if is_error(exc, *EbsVolume.gone_codes):
                return self._done(snapshot_id, already_gone=True)
            if is_error(exc, "VolumeInUse"):
                # Attached in the moments since the re-check: AWS refused, the snapshot stays.
                return Refused("volume was attached again while executing (VolumeInUse)", snapshot_id)
            raise
        return self._done(snapshot_id)

    def _done(
        self, snapshot_id: str | None, *, already_gone: bool = False, record: dict[str, Any] | None = None
    ) -> Done:
        if snapshot_id is None:
            return Done("delete", already_gone=already_gone)
        return Done(self.action, True, snapshot_id, already_gone, record or {})


@EbsVolume.remedy("snapshot-then-delete")
class SnapshotThenDelete(Delete):
    action = "snapshot_then_delete"
    summary = "snapshot the volume (tagged with the decision), wait for it, then delete the volume"
    # The clean-up, then its undo (a volume from the snapshot, restored from the archive tier first).
    permissions = ("ec2:DescribeVolumes", "ec2:DescribeSnapshots", "ec2:CreateSnapshot", "ec2:CreateTags",
                   "ec2:DeleteVolume", "ec2:CreateVolume", "ec2:DescribeSnapshotTierStatus",
                   "ec2:RestoreSnapshotTier", "kms:CreateGrant", "kms:Decrypt")  # fmt: skip
    undo = "create a volume from the kept snapshot"
    keeps_snapshot = True

    def residual(self, observation: Observation, rates: Rates) -> CostLine:
        """Snapshot storage bills on data written: the provisioned size is an upper bound, unless the
        observation carries the size AWS reported (`snapshot_size_gib`)."""
        size, label = snapshot_size(observation)
        return line(f"snapshot storage ({label})", size, "GB-month", rates["ebs.snapshot.gb_month"])

    async def apply(self, clients: Clients, job: Job) -> Done | Refused:
        ec2 = await clients("ec2")
        # What an undo needs, as the re-check read it right before this (read again only without it).
        spec = spec_from(job.raw) if job.raw is not None else await volume_spec(ec2, job.resource_id)
        snapshot = await self._snapshot(ec2, job)
        record = await self._settle(ec2, snapshot)
        if spec is not None:
            record[SPEC] = json.dumps(spec, sort_keys=True)
        done = await self._delete(ec2, job, str(snapshot["SnapshotId"]))
        if isinstance(done, Done) and done.snapshot_id:
            return Done(done.action, True, done.snapshot_id, done.already_gone, record)
        return done

    async def _settle(self, ec2: Any, snapshot: Mapping[str, Any]) -> dict[str, Any]:
        """What the completed snapshot really is: its size as AWS reports it, or the upper bound."""
        return size_record(snapshot)

    async def restore(self, clients: Clients, job: UndoJob) -> Restored | NotYet | Refused:
        """A new volume from the safety snapshot, as the deleted one was (same AZ, type, size, IOPS,
        throughput, encryption, KMS key, tags); reused when an earlier attempt already made it."""
        if not job.snapshot_id:
            return Refused("no safety snapshot was recorded for this decision: nothing to restore from")
        ec2 = await clients("ec2")
        answer = await ec2.describe_snapshots(SnapshotIds=[job.snapshot_id])
        snapshots = answer.get("Snapshots") or []
        if not snapshots:
            return Refused(f"the safety snapshot {job.snapshot_id} no longer exists")
        snapshot = snapshots[0]
        if snapshot.get("StorageTier") == "archive":
            return await unarchive(ec2, job, snapshot)
        spec = spec_of(job, snapshot)
        existing = await restored_volume(ec2, job.snapshot_id, str(spec["AvailabilityZone"]))
        if existing is not None:
            return Restored("create_volume_from_snapshot", existing, {"snapshot_id": job.snapshot_id})
        await job.guard()
        created = await ec2.create_volume(
            SnapshotId=job.snapshot_id,
            # Idempotent on AWS for a retried call (a client token per decision and snapshot).
            ClientToken=f"ct-{job.decision_id}"[:64],
            **{k: v for k, v in spec.items() if k != "Tags"},
            **(
                {"TagSpecifications": [{"ResourceType": "volume", "Tags": spec["Tags"]}]}
                if spec["Tags"]
                else {}
            ),
        )
        return Restored(
            "create_volume_from_snapshot",
            str(created["VolumeId"]),
            {"snapshot_id": job.snapshot_id, "original_volume_id": job.resource_id},
        )

    async def rehearse(self, clients: Clients, job: Job) -> Done:
        ec2 = await clients("ec2")
        await expect_dry_run_ok(ec2.create_snapshot(VolumeId=job.resource_id, DryRun=True))
        await expect_dry_run_ok(ec2.delete_volume(VolumeId=job.resource_id, DryRun=True))
        return Done(self.action, keeps_snapshot=True)

    async def leftovers(self, clients: Clients, job: Job) -> Done:
        ec2 = await clients("ec2")
        existing = await find_snapshot(ec2, job.decision_id)
        if existing is None:
            return self._done(None, already_gone=True)
        record = await self._settle(ec2, existing) if existing.get("State") == "completed" else {}
        return self._done(existing["SnapshotId"], already_gone=True, record=record)

    async def _snapshot(self, ec2: Any, job: Job) -> Mapping[str, Any]:
        """This decision's snapshot, made once (an earlier attempt's is reused) and waited for."""
        # Only a resumed attempt can have an earlier one to find. A decision id is new each cycle, the
        # fresh claim (APPROVED -> EXECUTING) happens once per decision and no state leads back to
        # APPROVED, so every attempt after the first is a takeover (`Job.resumed`); the first cannot
        # find what no attempt made. Skipping the search saves a DescribeSnapshots by tag per clean-up
        # (on moto, a scan of every snapshot's tags).
        snapshot = await find_snapshot(ec2, job.decision_id) if job.resumed else None
        if snapshot is None:
            await job.guard()
            snapshot = await ec2.create_snapshot(
                VolumeId=job.resource_id,
                Description=f"CloudThrift: before deleting {job.resource_id} (decision {job.decision_id})",
                TagSpecifications=[{"ResourceType": "snapshot", "Tags": snapshot_tags(job)}],
            )
        snapshot_id = str(snapshot["SnapshotId"])
        if snapshot.get("State") != "completed":
            # Bounded: past it, a WaiterError makes the delivery retry, and the retry reuses this one.
            delay = max(1, min(_WAIT_DELAY_SECONDS, job.snapshot_wait_seconds))
            attempts = max(1, math.ceil(job.snapshot_wait_seconds / delay))
            await ec2.get_waiter("snapshot_completed").wait(
                SnapshotIds=[snapshot_id], WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
            )
        # Read once completed: FullSnapshotSizeInBytes is only meaningful then.
        answer = await ec2.describe_snapshots(SnapshotIds=[snapshot_id])
        return (answer.get("Snapshots") or [snapshot])[0]


@EbsVolume.remedy("archive-snapshot-then-delete")
class ArchiveSnapshotThenDelete(SnapshotThenDelete):
    """The snapshot moves to the archive tier once complete: a quarter of the standard price on its
    full size, billed for at least 90 days, restored in up to 72 hours. The cheaper insurance for a
    large cold volume whose standard snapshot would cost more than the volume saves."""

    action = "archive_snapshot_then_delete"
    summary = (
        "snapshot the volume, move the snapshot to the archive tier ($0.0125/GB-month, billed for at "
        "least 90 days), then delete the volume"
    )
    permissions = (*SnapshotThenDelete.permissions, "ec2:ModifySnapshotTier")
    undo = f"create a volume from the kept snapshot ({ARCHIVE_RESTORE} first)"
    archives = True

    def residual(self, observation: Observation, rates: Rates) -> CostLine:
        size, label = snapshot_size(observation)
        return line(f"archived snapshot storage ({label})", size, "GB-month", rates[ARCHIVE_PRICE])

    def note(self, observation: Observation, rates: Rates) -> str:
        monthly = self.residual(observation, rates).monthly_usd
        return (
            f"billed for at least 90 days (${monthly * ARCHIVE_MINIMUM_MONTHS:,.2f} minimum); "
            f"{ARCHIVE_RESTORE}"
        )

    async def _settle(self, ec2: Any, snapshot: Mapping[str, Any]) -> dict[str, Any]:
        """Archive the completed snapshot, once: a retry finds it archived (or on its way) already."""
        tier = snapshot.get("StorageTier")
        if tier != "archive":
            try:
                await ec2.modify_snapshot_tier(SnapshotId=snapshot["SnapshotId"], StorageTier="archive")
            except Exception as exc:
                # Already being archived by an earlier attempt: what we asked for is under way.
                if not is_error(exc, "IncorrectState"):
                    raise
        # The ledger says what an undo will take: restored to standard first, up to 72 hours.
        return size_record(snapshot) | {"snapshot_tier": "archive", "snapshot_restore_hours": 72}


def snapshot_size(observation: Observation) -> tuple[Decimal, str]:
    """The GB a kept snapshot bills: as AWS reported it once complete, else the provisioned size."""
    reported = observation.facts.get("snapshot_size_gib")
    if reported is not None:
        return Decimal(str(reported)), "size reported by AWS"
    return Decimal(int(observation.facts.get("size_gib") or 0)), "upper bound"


def size_record(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """`snapshot_size_gib` when AWS reports FullSnapshotSizeInBytes (real AWS does for a completed
    snapshot; an emulator may not), and which of the two the price rests on."""
    full = snapshot.get("FullSnapshotSizeInBytes")
    if full is None:
        return {"snapshot_size_basis": UPPER_BOUND}
    gib = (Decimal(int(full)) / _GIB).quantize(Decimal("0.001"))
    return {"snapshot_size_gib": gib, "snapshot_size_basis": REPORTED}


async def find_snapshot(ec2: Any, decision_id: str) -> Mapping[str, Any] | None:
    """This decision's snapshot from an earlier attempt (pending or completed), if there is one."""
    answer = await ec2.describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": f"tag:{DECISION_TAG}", "Values": [decision_id]}]
    )
    usable = [s for s in answer.get("Snapshots", []) if s.get("State") in ("pending", "completed")]
    # Completed first, then the oldest: two racing attempts converge on the same one.
    usable.sort(key=lambda s: (s.get("State") != "completed", str(s.get("StartTime")), s["SnapshotId"]))
    return usable[0] if usable else None


def snapshot_tags(job: Job) -> list[dict[str, str]]:
    """Ours (decision, volume, approver), then the volume's own tags so a restore knows what it was."""
    ours = {
        DECISION_TAG: job.decision_id,
        VOLUME_TAG: job.resource_id,
        APPROVER_TAG: f"{job.approver.name} ({job.approver.via}:{job.approver.id})"[:256],
    }
    ours["Name"] = f"cloudthrift backup of {job.tags.get('Name') or job.resource_id}"[:256]
    theirs = {key: value for key, value in job.tags.items() if not key.startswith("aws:") and key not in ours}
    merged = ours | dict(list(theirs.items())[: _MAX_TAGS - len(ours)])
    return [{"Key": key, "Value": value} for key, value in merged.items()]
