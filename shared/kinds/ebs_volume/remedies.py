"""Deleting an EBS volume: after a snapshot tagged with the decision (the default), or outright.

The safety snapshot is found by its decision-id tag before one is created, so a redelivered or replayed
approval reuses the snapshot an earlier, crashed attempt made instead of making a second one. Creating
a snapshot takes minutes on real AWS (moto completes it at once): the wait is bounded by
`snapshot_wait_seconds`; a snapshot still pending after that is a transient condition the next delivery
resumes (the queue's heartbeat keeps the message invisible, and the claim is renewed alongside it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from shared.aws import is_error
from shared.events import CostLine
from shared.kinds.base import Clients, Done, Job, Observation, Refused, Remedy, expect_dry_run_ok
from shared.kinds.ebs_volume.kind import EbsVolume
from shared.kinds.pricing import Rates, line

DECISION_TAG = "cloudthrift:decision-id"
VOLUME_TAG = "cloudthrift:volume-id"
APPROVER_TAG = "cloudthrift:approver"
_WAIT_DELAY_SECONDS = 15  # botocore's own delay for snapshot_completed
_MAX_TAGS = 50


@EbsVolume.remedy("delete")
class Delete(Remedy):
    action = "delete"
    summary = "delete the volume"
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

    def _done(self, snapshot_id: str | None, *, already_gone: bool = False) -> Done:
        if snapshot_id is None:
            return Done("delete", already_gone=already_gone)
        return Done("snapshot_then_delete", True, snapshot_id, already_gone)


@EbsVolume.remedy("snapshot-then-delete")
class SnapshotThenDelete(Delete):
    action = "snapshot_then_delete"
    summary = "snapshot the volume (tagged with the decision), wait for it, then delete the volume"
    permissions = ("ec2:DescribeVolumes", "ec2:DescribeSnapshots", "ec2:CreateSnapshot", "ec2:CreateTags",
                   "ec2:DeleteVolume")  # fmt: skip
    undo = "create a volume from the kept snapshot"
    keeps_snapshot = True

    def residual(self, observation: Observation, rates: Rates) -> CostLine:
        """Snapshot storage bills on data written: the provisioned size is an upper bound."""
        size = int(observation.facts.get("size_gib") or 0)
        return line("snapshot storage (upper bound)", size, "GB-month", rates["ebs.snapshot.gb_month"])

    async def apply(self, clients: Clients, job: Job) -> Done | Refused:
        ec2 = await clients("ec2")
        return await self._delete(ec2, job, await self._snapshot(ec2, job))

    async def rehearse(self, clients: Clients, job: Job) -> Done:
        ec2 = await clients("ec2")
        await expect_dry_run_ok(ec2.create_snapshot(VolumeId=job.resource_id, DryRun=True))
        await expect_dry_run_ok(ec2.delete_volume(VolumeId=job.resource_id, DryRun=True))
        return Done(self.action, keeps_snapshot=True)

    async def leftovers(self, clients: Clients, job: Job) -> Done:
        existing = await find_snapshot(await clients("ec2"), job.decision_id)
        return self._done(existing["SnapshotId"] if existing else None, already_gone=True)

    async def _snapshot(self, ec2: Any, job: Job) -> str:
        """This decision's snapshot, made once (an earlier attempt's is reused) and waited for."""
        snapshot = await find_snapshot(ec2, job.decision_id)
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
        return snapshot_id


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
