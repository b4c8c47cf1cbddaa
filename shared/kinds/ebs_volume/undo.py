"""What the undo of a deleted volume needs: the CreateVolume arguments recorded before the delete
(`volume_spec`), the volume made again from the safety snapshot, and an archived snapshot brought back
to the standard tier first (also used by the old-snapshot kind's own undo)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from shared.aws import is_error
from shared.kinds.base import NotYet, UndoJob, tags_of
from shared.kinds.ebs_volume.kind import EbsVolume

SPEC = "volume_spec"  # the EXECUTED record's CreateVolume arguments, as JSON
# An archived snapshot takes up to 72 hours to come back: asked again every 15 minutes (SQS's ceiling).
TIER_RETRY = timedelta(minutes=15)
_MAX_TAGS = 50


async def volume_spec(ec2: Any, volume_id: str) -> dict[str, Any] | None:
    """The CreateVolume arguments that make the same volume again, or None when it is already gone."""
    try:
        answer = await ec2.describe_volumes(VolumeIds=[volume_id])
    except Exception as exc:
        if is_error(exc, *EbsVolume.gone_codes):
            return None
        raise
    volumes = answer.get("Volumes") or []
    return spec_from(volumes[0]) if volumes else None


def spec_from(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The CreateVolume arguments that make this volume (as DescribeVolumes answered) again."""
    spec: dict[str, Any] = {
        "AvailabilityZone": raw["AvailabilityZone"],
        "VolumeType": raw.get("VolumeType"),
        "Size": raw.get("Size"),
        "Encrypted": bool(raw.get("Encrypted")),
        "Tags": own_tags(tags_of(raw)),
    }
    # IOPS are set only where the type takes them (gp2 reports its baseline, which CreateVolume refuses).
    if raw.get("VolumeType") in ("io1", "io2", "gp3") and raw.get("Iops"):
        spec["Iops"] = raw["Iops"]
    if raw.get("VolumeType") == "gp3" and raw.get("Throughput"):
        spec["Throughput"] = raw["Throughput"]
    if raw.get("KmsKeyId"):
        spec["KmsKeyId"] = raw["KmsKeyId"]
    if raw.get("MultiAttachEnabled"):
        spec["MultiAttachEnabled"] = True
    return spec


def own_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """The volume's own tags: AWS's reserved `aws:` ones cannot be set, CloudThrift's are not its own."""
    return [
        {"Key": key, "Value": value}
        for key, value in tags.items()
        if not key.startswith(("aws:", "cloudthrift:"))
    ][:_MAX_TAGS]


def spec_of(job: UndoJob, snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The recorded spec; for a decision executed before it was recorded (or whose volume was already
    gone), the approved facts and tags, and the snapshot's own encryption and key."""
    raw = job.record.get(SPEC)
    if raw:
        return dict(json.loads(str(raw)))
    facts = job.facts
    spec: dict[str, Any] = {
        "AvailabilityZone": facts.get("availability_zone"),
        "VolumeType": facts.get("volume_type"),
        "Size": facts.get("size_gib"),
        "Encrypted": bool(snapshot.get("Encrypted")),
        "Tags": own_tags(job.tags),
    }
    if facts.get("volume_type") in ("io1", "io2", "gp3") and facts.get("iops"):
        spec["Iops"] = facts["iops"]
    if facts.get("volume_type") == "gp3" and facts.get("throughput_mibps"):
        spec["Throughput"] = facts["throughput_mibps"]
    if snapshot.get("KmsKeyId"):
        spec["KmsKeyId"] = snapshot["KmsKeyId"]
    return spec


async def restored_volume(ec2: Any, snapshot_id: str, zone: str) -> str | None:
    """A volume an earlier attempt created from this snapshot in that zone (crash after CreateVolume)."""
    answer = await ec2.describe_volumes(
        Filters=[
            {"Name": "snapshot-id", "Values": [snapshot_id]},
            {"Name": "availability-zone", "Values": [zone]},
        ]
    )
    alive = [v for v in answer.get("Volumes", []) if v.get("State") not in ("deleting", "deleted", "error")]
    alive.sort(key=lambda v: (str(v.get("CreateTime")), v["VolumeId"]))
    return str(alive[0]["VolumeId"]) if alive else None


async def unarchive(ec2: Any, job: UndoJob, snapshot: Mapping[str, Any]) -> NotYet:
    """Ask once for a permanent restore to the standard tier, then wait for it (up to 72 hours)."""
    await ask_standard_tier(ec2, str(snapshot["SnapshotId"]), job.guard)
    return NotYet(
        f"the safety snapshot {snapshot['SnapshotId']} is archived: it is being restored to the standard "
        "tier (up to 72 hours) before the volume is created",
        TIER_RETRY,
    )


async def ask_standard_tier(ec2: Any, snapshot_id: str, guard: Callable[[], Awaitable[None]]) -> None:
    """RestoreSnapshotTier(PermanentRestore) unless a restore of it is already under way."""
    status = await ec2.describe_snapshot_tier_status(
        Filters=[{"Name": "snapshot-id", "Values": [snapshot_id]}]
    )
    states = [str(s.get("LastTieringOperationStatus") or "") for s in status.get("SnapshotTierStatuses", [])]
    if not any(state.endswith("restore-in-progress") for state in states):
        await guard()
        await ec2.restore_snapshot_tier(SnapshotId=snapshot_id, PermanentRestore=True)
