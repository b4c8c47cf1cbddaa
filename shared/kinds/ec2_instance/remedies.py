"""Image a long-stopped instance, then terminate it and release its Elastic IPs; undo: launch it again.

The image (CreateImage, no reboot: it is stopped anyway) holds every volume, so a volume that would
survive termination (DeleteOnTermination false) is switched to be deleted with the instance: it is in
the image, and keeping it would keep billing what the clean-up is meant to save. The image is found by
its decision tag before one is made, so a redelivered approval reuses the image an earlier attempt
asked for; the wait for it is bounded by `snapshot_wait_seconds` (past it the delivery is retried).

Termination protection is never overridden: an instance whose protection is on (now, or in the
approved facts) is refused, in a dry run too.
"""

from __future__ import annotations

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
from shared.kinds.ec2_instance.kind import Ec2Instance, addresses_of, volumes_of
from shared.kinds.pricing import Rates, line

DECISION_TAG = "cloudthrift:decision-id"
RESTORED_TAG = "cloudthrift:restored-from-decision"
INSTANCE_TAG = "cloudthrift:instance-id"
_WAIT_DELAY_SECONDS = 15  # botocore's own delay for image_available
_PROTECTED = "termination protection is on: CloudThrift never terminates a protected instance"
_IMAGE_GONE = ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable", "InvalidAMIID.Malformed")


@Ec2Instance.remedy("image-then-terminate")
class ImageThenTerminate(Remedy):
    action = "image_then_terminate"
    summary = (
        "create an AMI of the instance with all its volumes (no reboot, tagged with the decision), wait "
        "for it, then terminate the instance and release its Elastic IPs"
    )
    permissions = (
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceAttribute",
        "ec2:DescribeImages",
        "ec2:CreateImage",
        "ec2:CreateTags",
        "ec2:ModifyInstanceAttribute",
        "ec2:DisassociateAddress",
        "ec2:TerminateInstances",
        "ec2:ReleaseAddress",
        "ec2:RunInstances",
        "ec2:StopInstances",
        "iam:PassRole",
    )  # RunInstances, StopInstances, PassRole: the undo
    undo = (
        "launch it again from the kept AMI with the same type, subnet, security groups, key pair, IAM "
        "profile and tags, stopped as it was (a new instance id and private IP; released Elastic IPs "
        "are not brought back)"
    )
    keeps_snapshot = True

    def residual(self, observation: Observation, rates: Rates) -> CostLine:
        """The AMI's snapshots of every volume: priced on their sizes, an upper bound."""
        gib = sum(v["size"] for v in volumes_of(observation.facts))
        return line("AMI snapshots (upper bound)", Decimal(gib), "GB-month", rates["ebs.snapshot.gb_month"])

    async def apply(self, clients: Clients, job: Job) -> Done | Refused:
        ec2 = await clients("ec2")
        if job.facts.get("termination_protection") or await _protected(ec2, job.resource_id):
            return Refused(_PROTECTED)
        image_id = await self._image(ec2, job)
        await self._delete_volumes_on_termination(ec2, job)
        released: list[str] = []
        await _disassociate(ec2, job)
        await job.guard()
        try:
            await ec2.terminate_instances(InstanceIds=[job.resource_id])
        except Exception as exc:
            if is_error(exc, "OperationNotPermitted"):
                return Refused(f"{_PROTECTED} (AWS refused: {exc})")
            if not is_error(exc, *Ec2Instance.gone_codes):
                raise
        released = await _release(ec2, job)
        return Done(self.action, keeps_snapshot=True, record=_record(job, image_id, released))

    async def rehearse(self, clients: Clients, job: Job) -> Done | Refused:
        ec2 = await clients("ec2")
        if job.facts.get("termination_protection") or await _protected(ec2, job.resource_id):
            return Refused(_PROTECTED)
        await expect_dry_run_ok(
            ec2.create_image(InstanceId=job.resource_id, Name=_image_name(job), NoReboot=True, DryRun=True)
        )
        await expect_dry_run_ok(ec2.terminate_instances(InstanceIds=[job.resource_id], DryRun=True))
        for allocation_id, _ in addresses_of(job.facts):
            await expect_dry_run_ok(ec2.release_address(AllocationId=allocation_id, DryRun=True))
        return Done(self.action, keeps_snapshot=True)

    async def finished(self, clients: Clients, job: Job) -> Done | Refused | None:
        """An earlier attempt made this decision's image, so it passed the re-check and may have
        disassociated the addresses since (facts that changed because of us): carry on from there."""
        if await find_image(await clients("ec2"), job.decision_id) is None:
            return None
        return await self.apply(clients, job)

    async def leftovers(self, clients: Clients, job: Job) -> Done:
        """Terminated by an earlier attempt: release what it did not, and record its image."""
        ec2 = await clients("ec2")
        image = await find_image(ec2, job.decision_id)
        released = await _release(ec2, job)
        image_id = str(image["ImageId"]) if image else None
        return Done(
            self.action, keeps_snapshot=True, already_gone=True, record=_record(job, image_id, released)
        )

    async def restore(self, clients: Clients, job: UndoJob) -> Restored | NotYet | Refused:
        """Launch from the kept image with the recorded configuration, then stop it as it was. Found by
        its tag first (and launched with a client token), so a repeated undo launches one instance."""
        ec2 = await clients("ec2")
        image_id = str(job.record.get("image_id") or "")
        if not image_id:
            return Refused("no image was recorded for this clean-up: nothing to launch from")
        existing = await _restored(ec2, job.decision_id)
        if existing is None:
            await job.guard()
            try:
                answer = await ec2.run_instances(**_launch(job, image_id))
            except Exception as exc:
                if is_error(exc, *_IMAGE_GONE):
                    return Refused(f"the kept image {image_id} no longer exists: it cannot be launched")
                raise
            existing = answer["Instances"][0]
        instance_id = str(existing["InstanceId"])
        if existing.get("State", {}).get("Name") not in ("stopping", "stopped"):
            await ec2.stop_instances(InstanceIds=[instance_id])
        return Restored(
            "launch_from_image",
            instance_id,
            record={"image_id": image_id, "private_ip": existing.get("PrivateIpAddress")},
        )

    async def _image(self, ec2: Any, job: Job) -> str:
        """This decision's image, made once (an earlier attempt's is reused) and waited for."""
        # Only a resumed attempt can find one: see SnapshotThenDelete._snapshot (ebs_volume/remedies.py).
        image = await find_image(ec2, job.decision_id) if job.resumed else None
        if image is None:
            await job.guard()
            made = await ec2.create_image(
                InstanceId=job.resource_id,
                Name=_image_name(job),
                NoReboot=True,
                Description=f"CloudThrift: before terminating {job.resource_id} (decision {job.decision_id})",
                TagSpecifications=[{"ResourceType": "image", "Tags": _tags(job)}],
            )
            image = {"ImageId": made["ImageId"], "State": "pending"}
        image_id = str(image["ImageId"])
        if image.get("State") != "available":
            delay = max(1, min(_WAIT_DELAY_SECONDS, job.snapshot_wait_seconds))
            attempts = max(1, math.ceil(job.snapshot_wait_seconds / delay))
            await ec2.get_waiter("image_available").wait(
                ImageIds=[image_id], WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
            )
        return image_id

    async def _delete_volumes_on_termination(self, ec2: Any, job: Job) -> None:
        """Volumes that would outlive the instance are in the image: delete them with it."""
        kept = {v["volume_id"] for v in volumes_of(job.facts) if not v["delete_on_termination"]}
        if not kept:
            return
        answer = await ec2.describe_instances(InstanceIds=[job.resource_id])
        instance = answer["Reservations"][0]["Instances"][0]
        mappings = [
            {"DeviceName": m["DeviceName"], "Ebs": {"DeleteOnTermination": True}}
            for m in instance.get("BlockDeviceMappings", [])
            if m.get("Ebs", {}).get("VolumeId") in kept
        ]
        if mappings:
            await job.guard()
            await ec2.modify_instance_attribute(InstanceId=job.resource_id, BlockDeviceMappings=mappings)


async def find_image(ec2: Any, decision_id: str) -> Mapping[str, Any] | None:
    """This decision's image from an earlier attempt (pending or available), if there is one."""
    answer = await ec2.describe_images(
        Owners=["self"], Filters=[{"Name": f"tag:{DECISION_TAG}", "Values": [decision_id]}]
    )
    usable = [i for i in answer.get("Images", []) if i.get("State") in ("pending", "available")]
    usable.sort(key=lambda i: (i.get("State") != "available", str(i.get("CreationDate")), i["ImageId"]))
    return usable[0] if usable else None


async def _protected(ec2: Any, instance_id: str) -> bool:
    try:
        answer = await ec2.describe_instance_attribute(
            InstanceId=instance_id, Attribute="disableApiTermination"
        )
    except Exception as exc:
        if is_error(exc, *Ec2Instance.gone_codes):
            return False
        raise
    return bool(answer.get("DisableApiTermination", {}).get("Value"))


async def _disassociate(ec2: Any, job: Job) -> None:
    """Addresses are disassociated before termination, so releasing them never races AWS doing it."""
    allocations = [allocation for allocation, _ in addresses_of(job.facts)]
    if not allocations:
        return
    answer = await ec2.describe_addresses(Filters=[{"Name": "allocation-id", "Values": allocations}])
    for address in answer.get("Addresses", []):
        if address.get("AssociationId") and address.get("InstanceId") == job.resource_id:
            await job.guard()
            await ec2.disassociate_address(AssociationId=address["AssociationId"])


async def _release(ec2: Any, job: Job) -> list[str]:
    """Release the instance's recorded addresses; one already released counts as done."""
    released: list[str] = []
    for allocation_id, public_ip in addresses_of(job.facts):
        await job.guard()
        try:
            await ec2.release_address(AllocationId=allocation_id)
        except Exception as exc:
            if not is_error(exc, "InvalidAllocationID.NotFound", "InvalidAddress.NotFound"):
                raise
        released.append(public_ip)
    return released


async def _restored(ec2: Any, decision_id: str) -> Mapping[str, Any] | None:
    answer = await ec2.describe_instances(
        Filters=[
            {"Name": f"tag:{RESTORED_TAG}", "Values": [decision_id]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
        ]
    )
    instances = [i for r in answer.get("Reservations", []) for i in r.get("Instances", [])]
    return instances[0] if instances else None


def _launch(job: UndoJob, image_id: str) -> dict[str, Any]:
    facts = job.facts
    tags = {k: v for k, v in job.tags.items() if not k.startswith("aws:")} | {RESTORED_TAG: job.decision_id}
    arguments: dict[str, Any] = {
        "ImageId": image_id,
        "MinCount": 1,
        "MaxCount": 1,
        "InstanceType": str(facts.get("instance_type")),
        "ClientToken": f"cloudthrift-{job.decision_id}"[:64],
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
    }
    if facts.get("subnet_id"):
        arguments["SubnetId"] = str(facts["subnet_id"])
    if facts.get("security_groups"):
        arguments["SecurityGroupIds"] = str(facts["security_groups"]).split(",")
    if facts.get("key_name"):
        arguments["KeyName"] = str(facts["key_name"])
    if facts.get("iam_profile"):
        arguments["IamInstanceProfile"] = {"Arn": str(facts["iam_profile"])}
    return arguments


def _image_name(job: Job) -> str:
    return f"cloudthrift-{job.resource_id}-{job.decision_id}"[:128]


def _tags(job: Job) -> list[dict[str, str]]:
    ours = {
        DECISION_TAG: job.decision_id,
        INSTANCE_TAG: job.resource_id,
        "Name": f"cloudthrift image of {job.tags.get('Name') or job.resource_id}"[:256],
    }
    return [{"Key": k, "Value": v} for k, v in ours.items()]


def _record(job: Job, image_id: str | None, released: list[str]) -> dict[str, Any]:
    return {
        "image_id": image_id,
        "terminated_instance_id": job.resource_id,
        "released_addresses": ",".join(released) or None,
    }
