"""Unattached EBS volumes: snapshot (tagged with the decision id), wait for it, then delete the volume.

The snapshot is found by its decision-id tag before one is created, so a redelivered or replayed
approval reuses the snapshot an earlier, crashed attempt made instead of making a second one.
Creating a snapshot takes minutes on real AWS (moto completes it at once): the wait is bounded by
`snapshot_wait_seconds`, and a snapshot still pending after that is a transient condition the next
delivery resumes (the queue's heartbeat keeps the message invisible while we wait, and the claim is
renewed alongside it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from services.executor.actions.base import (
    DELETE,
    SNAPSHOT_THEN_DELETE,
    Action,
    Done,
    Job,
    Refused,
    actions,
    expect_dry_run_ok,
)
from services.scanner.resources import Observation
from shared.aws import is_error

DECISION_TAG = "cloudthrift:decision-id"
VOLUME_TAG = "cloudthrift:volume-id"
APPROVER_TAG = "cloudthrift:approver"
_WAIT_DELAY_SECONDS = 15  # botocore's own delay for snapshot_completed
_MAX_TAGS = 50


@actions.register("ebs-volume")
class DeleteVolume(Action):
    kind = "ebs-volume"
    permissions = (
        "ec2:DescribeVolumes",
        "ec2:DescribeSnapshots",
        "ec2:CreateSnapshot",
        "ec2:CreateTags",
        "ec2:DeleteVolume",
    )
    gone_codes = frozenset({"InvalidVolume.NotFound"})

    async def describe(self, client: Any, resource_id: str) -> Mapping[str, Any] | None:
        try:
            answer = await client.describe_volumes(VolumeIds=[resource_id])
        except Exception as exc:
            if self.is_gone(exc):
                return None
            raise
        volumes = answer.get("Volumes") or []
        return volumes[0] if volumes else None

    def is_going(self, raw: Mapping[str, Any]) -> bool:
        return raw.get("State") in ("deleting", "deleted")

    def busy_reason(self, observation: Observation) -> str:
        state = observation.facts.get("state")
        return f"volume is no longer unattached (state {state!r}): it is in use again"

    async def apply(self, client: Any, job: Job) -> Done | Refused:
        snapshot_id = await self._snapshot(client, job) if job.snapshot else None
        await job.guard()
        try:
            await client.delete_volume(VolumeId=job.resource_id)
        except Exception as exc:
            if self.is_gone(exc):
                return Done(self._name(snapshot_id), snapshot_id=snapshot_id, already_gone=True)
            if is_error(exc, "VolumeInUse"):
                # Attached in the moments since the re-check: AWS refused, the snapshot stays.
                return Refused("volume was attached again while executing (VolumeInUse)", snapshot_id)
            raise
        return Done(self._name(snapshot_id), snapshot_id=snapshot_id)

    async def rehearse(self, client: Any, job: Job) -> Done:
        if job.snapshot:
            await expect_dry_run_ok(client.create_snapshot(VolumeId=job.resource_id, DryRun=True))
        await expect_dry_run_ok(client.delete_volume(VolumeId=job.resource_id, DryRun=True))
        return Done(SNAPSHOT_THEN_DELETE if job.snapshot else DELETE)

    async def leftovers(self, client: Any, job: Job) -> Done:
        existing = await find_snapshot(client, job.decision_id)
        snapshot_id = existing["SnapshotId"] if existing else None
        return Done(self._name(snapshot_id), snapshot_id=snapshot_id, already_gone=True)

    @staticmethod
    def _name(snapshot_id: str | None) -> str:
        return SNAPSHOT_THEN_DELETE if snapshot_id else DELETE

    async def _snapshot(self, client: Any, job: Job) -> str:
        """This decision's snapshot, made once (an earlier attempt's is reused) and waited for."""
        snapshot = await find_snapshot(client, job.decision_id)
        if snapshot is None:
            await job.guard()
            snapshot = await client.create_snapshot(
                VolumeId=job.resource_id,
                Description=f"CloudThrift: before deleting {job.resource_id} (decision {job.decision_id})",
                TagSpecifications=[{"ResourceType": "snapshot", "Tags": snapshot_tags(job)}],
            )
        snapshot_id = str(snapshot["SnapshotId"])
        if snapshot.get("State") != "completed":
            # Bounded: past it, a WaiterError makes the delivery retry, and the retry reuses this one.
            delay = max(1, min(_WAIT_DELAY_SECONDS, job.snapshot_wait_seconds))
            attempts = max(1, math.ceil(job.snapshot_wait_seconds / delay))
            await client.get_waiter("snapshot_completed").wait(
                SnapshotIds=[snapshot_id], WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
            )
        return snapshot_id


async def find_snapshot(client: Any, decision_id: str) -> Mapping[str, Any] | None:
    """This decision's snapshot from an earlier attempt (pending or completed), if there is one."""
    answer = await client.describe_snapshots(
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
    name = job.tags.get("Name") or job.resource_id
    ours["Name"] = f"cloudthrift backup of {name}"[:256]
    theirs = {key: value for key, value in job.tags.items() if not key.startswith("aws:") and key not in ours}
    merged = ours | dict(list(theirs.items())[: _MAX_TAGS - len(ours)])
    return [{"Key": key, "Value": value} for key, value in merged.items()]
