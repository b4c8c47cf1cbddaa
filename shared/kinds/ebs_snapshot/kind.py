"""EBS snapshots as a kind: listing (with the AMIs and volumes they relate to), reading, pricing, seeding."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.events import FactValue
from shared.kinds import register
from shared.kinds.base import Clients, Kind, Observation, Priced, tags_of
from shared.kinds.estate import Estate, Expectation, tag_spec
from shared.kinds.pricing import Rates, line
from shared.kinds.recycle_bin import PERMISSIONS as RBIN_PERMISSIONS
from shared.kinds.recycle_bin import SNAPSHOTS, Rule, facts_for, region_rules

DLM_TAG = "aws:dlm:lifecycle-policy-id"
BACKUP_TAG_PREFIX = "aws:backup:"
BACKUP_DESCRIPTION = "created by the aws backup service"  # compared lower-cased
SAFETY_TAG = "cloudthrift:decision-id"  # CloudThrift's own safety snapshots (ebs_volume/remedies.py)
ARCHIVE_PRICE = "ebs.snapshot.archive_gb_month"  # a table of one's own without it claims no saving
GIB = 1024**3
# Not AWS fields: what the kind learned from other calls, carried with the snapshot's record.
IMAGES, VOLUME_EXISTS = "CloudThrift:ImageIds", "CloudThrift:VolumeExists"
RULES = "CloudThrift:RecycleBinRules"  # the region's Recycle Bin rules for snapshots, None: unknown


@register
class EbsSnapshot(Kind):
    name = "ebs-snapshot"
    summary = "EBS snapshot"
    permissions = ("ec2:DescribeSnapshots", "ec2:DescribeImages", "ec2:DescribeVolumes", *RBIN_PERMISSIONS)
    gone_codes = frozenset({"InvalidSnapshot.NotFound"})
    gemini_facts = frozenset(
        {"size_gib", "full_size_gib", "storage_tier", "volume_exists", "used_by_images", "managed_by",
         "encrypted", "name"}
    )  # fmt: skip
    dimensions = ("ebs.snapshot.gb_month", "ebs.snapshot.archive_gb_month")  # the archive remedy's too

    async def list(
        self, clients: Clients, filters: tuple[Mapping[str, Any], ...]
    ) -> AsyncIterator[Mapping[str, Any]]:
        ec2 = await clients("ec2")
        # OwnerIds=self is the contract; moto answers it with every public snapshot too, so the owner
        # is checked again against the caller's account.
        account = (await (await clients("sts")).get_caller_identity())["Account"]
        images, volumes = await _image_snapshots(ec2), await _volume_ids(ec2)
        rules = await region_rules(clients, SNAPSHOTS)
        paginator = ec2.get_paginator("describe_snapshots")
        pages = paginator.paginate(
            OwnerIds=["self"], Filters=list(filters), PaginationConfig={"PageSize": 1000}
        )
        async for page in pages:
            for snapshot in page.get("Snapshots", []):
                if snapshot.get("OwnerId") == account:
                    yield _with_context(snapshot, images, volumes, rules)

    async def describe(self, clients: Clients, resource_id: str) -> Mapping[str, Any] | None:
        ec2 = await clients("ec2")
        try:
            answer = await ec2.describe_snapshots(SnapshotIds=[resource_id])
        except Exception as exc:
            if self.is_gone(exc):
                return None
            raise
        snapshots = answer.get("Snapshots") or []
        if not snapshots:
            return None
        volume_id = snapshots[0].get("VolumeId")
        found = await ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [str(volume_id)]}])
        volumes = {v["VolumeId"] for v in found.get("Volumes", [])}
        rules = await region_rules(clients, SNAPSHOTS)  # as the listing did: the fingerprint holds it
        return _with_context(snapshots[0], await _image_snapshots(ec2), volumes, rules)

    def is_going(self, raw: Mapping[str, Any]) -> bool:
        return raw.get("State") == "recoverable"  # in the Recycle Bin: deleted already

    def observe(self, raw: Mapping[str, Any]) -> Observation:
        tags = tags_of(raw)
        full = raw.get("FullSnapshotSizeInBytes")
        description = str(raw.get("Description") or "")
        managed = (
            "dlm"
            if DLM_TAG in tags
            else "aws-backup"
            if any(k.startswith(BACKUP_TAG_PREFIX) for k in tags) or BACKUP_DESCRIPTION in description.lower()
            else None
        )
        facts: dict[str, FactValue] = {
            "size_gib": int(raw.get("VolumeSize") or 0),
            "full_size_gib": round(int(full) / GIB, 2) if full else None,
            "storage_tier": raw.get("StorageTier") or "standard",
            "state": raw.get("State"),
            "volume_id": raw.get("VolumeId"),
            "volume_exists": bool(raw.get(VOLUME_EXISTS)),
            "used_by_images": ",".join(raw.get(IMAGES) or []) or None,
            "managed_by": managed,
            "cloudthrift_decision": tags.get(SAFETY_TAG),
            "description": description[:200] or None,
            "encrypted": bool(raw.get("Encrypted", False)),
            "name": tags.get("Name"),
            **facts_for(raw.get(RULES), tags),
        }
        return Observation(raw["SnapshotId"], facts, tags, raw.get("StartTime"))

    def price(self, observation: Observation, rates: Rates) -> Priced:
        gb, note = billed_gb(observation)
        return Priced(
            [line("snapshot storage (upper bound)", gb, "GB-month", rates["ebs.snapshot.gb_month"])], note
        )

    def details(self, facts: Mapping[str, FactValue]) -> str:
        return f"{facts.get('size_gib')} GiB, volume {'kept' if facts.get('volume_exists') else 'deleted'}"

    async def seed(self, estate: Estate) -> None:
        ec2 = await estate.clients("ec2")
        ancient = estate.now - timedelta(days=200)

        async def snapshot(volume_id: str, tags: dict[str, str], expect: Expectation, when: datetime,
                           description: str = "") -> str:  # fmt: skip
            made = await ec2.create_snapshot(
                VolumeId=volume_id, Description=description, TagSpecifications=tag_spec("snapshot", tags)
            )
            estate.backdate("snapshots", made["SnapshotId"], "start_time", when)
            estate.add(self.name, made["SnapshotId"], expect, size=made.get("VolumeSize"), **tags)
            return str(made["SnapshotId"])

        async def gone_volume(size: int) -> str:
            volume = await ec2.create_volume(AvailabilityZone=estate.zone, Size=size, VolumeType="gp3")
            return str(volume["VolumeId"])

        leftovers = [(await gone_volume(size), name) for size, name in ORPHANS]
        for volume_id, name in leftovers:
            await snapshot(volume_id, {"Name": name}, "idle", ancient)
        root = await _root_volume(ec2, estate.instance_id)
        await snapshot(root, {"Name": "web-root-before-upgrade"}, "idle", ancient)  # its volume lives on
        await snapshot(leftovers[0][0], {"Name": "dlm-daily"} | {DLM_TAG: "policy-0abc"}, "busy", ancient)
        backup = "This snapshot is created by the AWS Backup service."
        await snapshot(leftovers[0][0], {"Name": "backup-plan-daily"}, "busy", ancient, backup)
        await snapshot(leftovers[1][0], {"Name": "before-deleting-vol", SAFETY_TAG: "d-1"}, "busy", ancient)
        await snapshot(
            leftovers[1][0], {"Name": "legal-hold", "cloudthrift:keep": "audit 2025"}, "opted-out", ancient
        )
        await snapshot(leftovers[2][0], {"Name": "last-month"}, "too-young", estate.now - timedelta(days=30))
        for volume_id, _ in leftovers:
            await ec2.delete_volume(VolumeId=volume_id)
        # An AMI's snapshot: never reported while the image is registered.
        image = await ec2.create_image(InstanceId=estate.instance_id, Name="golden-web-2025")
        described = await ec2.describe_images(ImageIds=[image["ImageId"]])
        for mapping in described["Images"][0].get("BlockDeviceMappings", []):
            if snapshot_id := mapping.get("Ebs", {}).get("SnapshotId"):
                estate.backdate("snapshots", snapshot_id, "start_time", ancient)
                estate.add(self.name, snapshot_id, "busy", image=image["ImageId"])


# (size GiB, Name tag) of snapshots whose volumes were deleted long ago.
ORPHANS = ((500, "billing-db-pre-migration-2024"), (1000, "old-kafka-broker-3"), (100, "jenkins-weekly"))


def billed_gb(observation: Observation) -> tuple[Decimal, str]:
    full = observation.facts.get("full_size_gib")
    if full is not None:
        return (
            Decimal(str(full)),
            "Priced on the full size AWS reports (FullSnapshotSizeInBytes): an upper bound, "
            "snapshots bill changed blocks.",
        )
    size = int(observation.facts.get("size_gib") or 0)
    return (
        Decimal(size),
        "AWS reports no FullSnapshotSizeInBytes: priced on the volume's size, an upper bound "
        "(snapshots bill changed blocks).",
    )


async def _image_snapshots(ec2: Any) -> dict[str, list[str]]:
    """Snapshot id -> the account's registered AMIs that use it."""
    used: dict[str, list[str]] = {}
    answer = await ec2.describe_images(Owners=["self"])
    for image in answer.get("Images", []):
        for mapping in image.get("BlockDeviceMappings", []):
            if snapshot_id := mapping.get("Ebs", {}).get("SnapshotId"):
                used.setdefault(snapshot_id, []).append(image["ImageId"])
    return used


async def _volume_ids(ec2: Any) -> set[str]:
    ids: set[str] = set()
    async for page in ec2.get_paginator("describe_volumes").paginate(PaginationConfig={"PageSize": 500}):
        ids |= {volume["VolumeId"] for volume in page.get("Volumes", [])}
    return ids


def _with_context(
    snapshot: Mapping[str, Any],
    images: Mapping[str, list[str]],
    volumes: set[str],
    rules: tuple[Rule, ...] | None,
) -> dict[str, Any]:
    return {
        **snapshot,
        RULES: rules,
        IMAGES: images.get(snapshot["SnapshotId"], []),
        VOLUME_EXISTS: snapshot.get("VolumeId") in volumes,
    }


async def _root_volume(ec2: Any, instance_id: str) -> str:
    answer = await ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}])
    return str(answer["Volumes"][0]["VolumeId"])
