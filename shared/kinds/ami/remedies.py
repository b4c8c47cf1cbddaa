"""Deregister an unused AMI and delete its snapshots (no undo), or deregister it alone, keeping its
snapshots (undo: register it again from them with its recorded mapping and attributes).

Deleting goes in that order, because AWS refuses to delete a snapshot a registered image uses. Both
steps are idempotent (an image already deregistered, a snapshot already deleted count as done), so a
redelivered approval finishes the job once: when the image is gone, `leftovers` deletes the snapshots
the approved facts name. A snapshot that another image also uses is kept and said so.
"""

from __future__ import annotations

from typing import Any

from shared.aws import is_error
from shared.events import CostLine
from shared.kinds.ami.kind import Ami, mappings_of, snapshot_ids
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
from shared.kinds.pricing import Rates, line

_SNAPSHOT_GONE = ("InvalidSnapshot.NotFound",)


@Ami.remedy("deregister-and-delete-snapshots")
class DeregisterAndDeleteSnapshots(Remedy):
    action = "deregister_and_delete_snapshots"
    summary = "deregister the image, then delete its snapshots"
    permissions = ("ec2:DescribeImages", "ec2:DeregisterImage", "ec2:DeleteSnapshot")
    undo = None  # only a Recycle Bin retention rule for AMIs and snapshots in the region could help

    async def apply(self, clients: Clients, job: Job) -> Done | Refused:
        ec2 = await clients("ec2")
        await _deregister(ec2, job)
        return Done(self.action, record=await _delete_snapshots(ec2, job))

    async def rehearse(self, clients: Clients, job: Job) -> Done:
        ec2 = await clients("ec2")
        await expect_dry_run_ok(ec2.deregister_image(ImageId=job.resource_id, DryRun=True))
        for snapshot_id in snapshot_ids(job.facts):
            await expect_dry_run_ok(ec2.delete_snapshot(SnapshotId=snapshot_id, DryRun=True))
        return Done(self.action)

    async def leftovers(self, clients: Clients, job: Job) -> Done:
        """Deregistered by an earlier attempt: delete the snapshots it did not get to."""
        record = await _delete_snapshots(await clients("ec2"), job)
        return Done(self.action, already_gone=True, record=record)


@Ami.remedy("deregister")
class Deregister(Remedy):
    action = "deregister_image"
    summary = "deregister the image and keep its snapshots (they keep billing until deleted)"
    permissions = ("ec2:DescribeImages", "ec2:DeregisterImage", "ec2:RegisterImage")  # and undo
    undo = (
        "register it again from its kept snapshots, with the same block devices and attributes (a new AMI id)"
    )
    keeps_snapshot = True

    def residual(self, observation: Observation, rates: Rates) -> CostLine:
        """The snapshots stay: nothing is saved until they are deleted (the old snapshot check's)."""
        gib = int(observation.facts.get("size_gib") or 0)
        return line("kept snapshots (upper bound)", gib, "GB-month", rates["ebs.snapshot.gb_month"])

    async def apply(self, clients: Clients, job: Job) -> Done | Refused:
        await _deregister(await clients("ec2"), job)
        return Done(
            self.action, keeps_snapshot=True, record={"kept_snapshot_ids": ",".join(snapshot_ids(job.facts))}
        )

    async def rehearse(self, clients: Clients, job: Job) -> Done:
        await expect_dry_run_ok((await clients("ec2")).deregister_image(ImageId=job.resource_id, DryRun=True))
        return Done(self.action, keeps_snapshot=True)

    async def restore(self, clients: Clients, job: UndoJob) -> Restored | NotYet | Refused:
        """RegisterImage from the recorded mapping; found by name first, so a repeated undo registers
        one image (AWS refuses a second image of the same name: InvalidAMIName.Duplicate)."""
        ec2 = await clients("ec2")
        facts = job.facts
        name = str(facts.get("name") or job.resource_id)
        existing = await ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [name]}])
        if existing.get("Images"):
            return Restored("register_image", str(existing["Images"][0]["ImageId"]))
        await job.guard()
        try:
            answer = await ec2.register_image(**_registration(job))
        except Exception as exc:
            if is_error(exc, *_SNAPSHOT_GONE):
                return Refused(f"a kept snapshot of the image no longer exists: {exc}")
            raise
        return Restored("register_image", str(answer["ImageId"]), record={"registered_from": job.resource_id})


async def _deregister(ec2: Any, job: Job) -> None:
    await job.guard()
    try:
        await ec2.deregister_image(ImageId=job.resource_id)
    except Exception as exc:
        if not is_error(exc, *Ami.gone_codes):
            raise


async def _delete_snapshots(ec2: Any, job: Job) -> dict[str, Any]:
    deleted, kept = [], []
    for snapshot_id in snapshot_ids(job.facts):
        await job.guard()
        try:
            await ec2.delete_snapshot(SnapshotId=snapshot_id)
        except Exception as exc:
            if is_error(exc, "InvalidSnapshot.InUse"):
                kept.append(snapshot_id)  # another registered image uses it too
                continue
            if not is_error(exc, *_SNAPSHOT_GONE):
                raise
        deleted.append(snapshot_id)
    return {"deleted_snapshot_ids": ",".join(deleted) or None, "kept_snapshot_ids": ",".join(kept) or None}


def _registration(job: UndoJob) -> dict[str, Any]:
    facts = job.facts
    arguments: dict[str, Any] = {
        "Name": str(facts.get("name") or job.resource_id),
        "BlockDeviceMappings": mappings_of(facts),
        "TagSpecifications": [
            {
                "ResourceType": "image",
                "Tags": [{"Key": k, "Value": v} for k, v in job.tags.items() if not k.startswith("aws:")],
            }
        ],
    }
    optional = {
        "Description": facts.get("description"),
        "Architecture": facts.get("architecture"),
        "VirtualizationType": facts.get("virtualization_type"),
        "RootDeviceName": facts.get("root_device_name"),
        "EnaSupport": facts.get("ena_support"),
        "SriovNetSupport": facts.get("sriov_net_support"),
        "BootMode": facts.get("boot_mode"),
    }
    arguments.update({key: value for key, value in optional.items() if value is not None})
    if not arguments["TagSpecifications"][0]["Tags"]:
        del arguments["TagSpecifications"]
    return arguments
