"""AMIs as a kind: listing (with what launches them), reading, pricing and seeding."""

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
from shared.kinds.recycle_bin import IMAGES, Rule, facts_for, region_rules
from shared.kinds.recycle_bin import PERMISSIONS as RBIN_PERMISSIONS

# Not AWS fields: what the kind learned from other calls, carried with the image's record.
USERS = "CloudThrift:Users"  # {"instances": [...], "launch_templates": [...], "launch_configurations": [...]}
RULES = "CloudThrift:RecycleBinRules"  # the region's Recycle Bin rules for AMIs, None: unknown
USER_KINDS = ("instances", "launch_templates", "launch_configurations")
_LIVE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]


def mapping_entry(mapping: Mapping[str, Any]) -> str | None:
    """One EBS mapping as a fact: `/dev/xvda=snap-1:8:gp3:delete`; instance-store ones are left out."""
    ebs = mapping.get("Ebs")
    if not ebs or not ebs.get("SnapshotId"):
        return None
    fate = "delete" if ebs.get("DeleteOnTermination", True) else "keep"
    volume = f"{ebs.get('VolumeSize') or 0}:{ebs.get('VolumeType') or 'gp2'}:{fate}"
    return f"{mapping['DeviceName']}={ebs['SnapshotId']}:{volume}"


def mappings_of(facts: Mapping[str, FactValue]) -> list[dict[str, Any]]:
    """The `block_devices` fact read back, as RegisterImage's BlockDeviceMappings."""
    out: list[dict[str, Any]] = []
    for entry in str(facts.get("block_devices") or "").split(","):
        if entry:
            device, rest = entry.split("=")
            snapshot, size, vtype, fate = rest.split(":")
            ebs = {
                "SnapshotId": snapshot,
                "VolumeSize": int(size),
                "VolumeType": vtype,
                "DeleteOnTermination": fate == "delete",
            }
            out.append({"DeviceName": device, "Ebs": ebs})
    return out


def snapshot_ids(facts: Mapping[str, FactValue]) -> list[str]:
    return [m["Ebs"]["SnapshotId"] for m in mappings_of(facts)]


@register
class Ami(Kind):
    name = "ami"
    summary = "Amazon Machine Image"
    permissions = (
        "ec2:DescribeImages",
        "ec2:DescribeInstances",
        "ec2:DescribeLaunchTemplates",
        "ec2:DescribeLaunchTemplateVersions",
        "autoscaling:DescribeLaunchConfigurations",
        *RBIN_PERMISSIONS,
    )
    gone_codes = frozenset({"InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"})
    gemini_facts = frozenset(
        {
            "name",
            "architecture",
            "platform",
            "virtualization_type",
            "size_gib",
            "snapshot_count",
            "public",
            "state",
            "used_by_instances",
            "used_by_launch_templates",
            "used_by_launch_configurations",
        }
    )
    dimensions = ("ebs.snapshot.gb_month",)

    async def list(
        self, clients: Clients, filters: tuple[Mapping[str, Any], ...]
    ) -> AsyncIterator[Mapping[str, Any]]:
        ec2 = await clients("ec2")
        users, rules = await image_users(clients), await region_rules(clients, IMAGES)
        pages = ec2.get_paginator("describe_images").paginate(
            Owners=["self"], Filters=list(filters), PaginationConfig={"PageSize": 1000}
        )
        async for page in pages:
            for image in page.get("Images", []):
                yield _with_users(image, users, rules)

    async def describe(self, clients: Clients, resource_id: str) -> Mapping[str, Any] | None:
        ec2 = await clients("ec2")
        try:
            answer = await ec2.describe_images(ImageIds=[resource_id])
        except Exception as exc:
            if self.is_gone(exc):
                return None
            raise
        images = answer.get("Images") or []
        if not images:
            return None
        rules = await region_rules(clients, IMAGES)  # as the listing did: the fingerprint holds it
        return _with_users(images[0], await image_users(clients), rules)

    def is_going(self, raw: Mapping[str, Any]) -> bool:
        return raw.get("State") in ("deregistered", "disabled")

    def observe(self, raw: Mapping[str, Any]) -> Observation:
        tags = tags_of(raw)
        users = raw.get(USERS) or {}
        entries = [e for m in raw.get("BlockDeviceMappings", []) or [] if (e := mapping_entry(m))]
        created = raw.get("CreationDate")
        facts: dict[str, FactValue] = {
            "name": raw.get("Name"),
            "description": str(raw.get("Description") or "")[:200] or None,
            "state": raw.get("State"),
            "public": bool(raw.get("Public")),
            "architecture": raw.get("Architecture"),
            "platform": raw.get("PlatformDetails") or raw.get("Platform"),
            "virtualization_type": raw.get("VirtualizationType"),
            "root_device_name": raw.get("RootDeviceName"),
            "ena_support": raw.get("EnaSupport"),
            "sriov_net_support": raw.get("SriovNetSupport"),
            "boot_mode": raw.get("BootMode"),
            "block_devices": ",".join(sorted(entries)) or None,
            "snapshot_count": len(entries),
            "size_gib": sum(
                m["Ebs"]["VolumeSize"] for m in mappings_of({"block_devices": ",".join(entries)})
            ),
        }
        for user in USER_KINDS:
            facts[f"used_by_{user}"] = ",".join(sorted(users.get(user, []))[:20]) or None
        facts |= facts_for(raw.get(RULES), tags)
        when = datetime.fromisoformat(str(created).replace("Z", "+00:00")) if created else None
        return Observation(raw["ImageId"], facts, tags, when)

    def price(self, observation: Observation, rates: Rates) -> Priced:
        gib = Decimal(int(observation.facts.get("size_gib") or 0))
        return Priced(
            [line("AMI snapshots (upper bound)", gib, "GB-month", rates["ebs.snapshot.gb_month"])],
            "Priced on its snapshots' volume sizes: an upper bound, snapshots bill changed blocks.",
        )

    def details(self, facts: Mapping[str, FactValue]) -> str:
        return f"{facts.get('name')}, {facts.get('snapshot_count')} snapshot(s) {facts.get('size_gib')} GiB"

    async def seed(self, estate: Estate) -> None:
        """Old unused images, images used by an instance, a launch template and a launch
        configuration, an opted-out one and a new one."""
        ec2, autoscaling = await estate.clients("ec2"), await estate.clients("autoscaling")
        ancient = estate.now - timedelta(days=200)

        async def image(name: str, expect: Expectation, tags: dict[str, str] | None = None) -> str:
            made = await ec2.create_image(
                InstanceId=estate.instance_id,
                Name=name,
                TagSpecifications=tag_spec("image", {"Name": name} | (tags or {})),
            )
            image_id = str(made["ImageId"])
            if expect != "too-young":
                estate.backdate("amis", image_id, "creation_date", ancient)
            estate.add(self.name, image_id, expect, name=name)
            return image_id

        for name in UNUSED:
            await image(name, "idle")
        launched = await image("api-2025-03", "busy")
        await ec2.run_instances(
            ImageId=launched, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=estate.subnet_id
        )
        templated = await image("worker-2025-02", "busy")
        await ec2.create_launch_template(
            LaunchTemplateName=f"workers-{estate.region}", LaunchTemplateData={"ImageId": templated}
        )
        configured = await image("batch-2024-12", "busy")
        await autoscaling.create_launch_configuration(
            LaunchConfigurationName="batch-legacy", ImageId=configured, InstanceType="t3.micro"
        )
        await image("compliance-baseline-2024", "opted-out", {"cloudthrift:keep": "audit"})
        await image("release-candidate", "too-young")


# Names of images no instance, template or configuration uses any more.
UNUSED = ("golden-web-2024-01", "app-release-1.2.0", "jenkins-agent-2023")


async def image_users(clients: Clients) -> dict[str, dict[str, list[str]]]:
    """Image id -> what launches it: live instances, default and latest launch template versions,
    launch configurations. Read once per listing (or describe), in bulk."""
    ec2, autoscaling = await clients("ec2"), await clients("autoscaling")
    users: dict[str, dict[str, list[str]]] = {}

    def add(image_id: str | None, user: str, name: str) -> None:
        if image_id:
            users.setdefault(image_id, {}).setdefault(user, []).append(name)

    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": _LIVE_STATES}], PaginationConfig={"PageSize": 1000}
    )
    async for page in pages:
        for reservation in page.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                add(instance.get("ImageId"), "instances", instance["InstanceId"])
    async for page in ec2.get_paginator("describe_launch_templates").paginate():
        for template in page.get("LaunchTemplates", []):
            answer = await ec2.describe_launch_template_versions(
                LaunchTemplateId=template["LaunchTemplateId"], Versions=["$Default", "$Latest"]
            )
            for version in answer.get("LaunchTemplateVersions", []):
                image_id = version.get("LaunchTemplateData", {}).get("ImageId")
                add(image_id, "launch_templates", template["LaunchTemplateName"])
    async for page in autoscaling.get_paginator("describe_launch_configurations").paginate():
        for config in page.get("LaunchConfigurations", []):
            add(config.get("ImageId"), "launch_configurations", config["LaunchConfigurationName"])
    return users


def _with_users(
    image: Mapping[str, Any], users: Mapping[str, dict[str, list[str]]], rules: tuple[Rule, ...] | None
) -> dict[str, Any]:
    found = users.get(image["ImageId"], {})
    return {**image, RULES: rules, USERS: {user: sorted(set(names)) for user, names in found.items()}}
