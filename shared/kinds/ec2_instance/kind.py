"""EC2 instances as a kind: listing (with their volumes, addresses and termination protection),
reading, pricing (what keeps billing while stopped) and seeding."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events import CostLine, FactValue
from shared.kinds import register
from shared.kinds.base import Clients, Kind, Observation, Priced, tags_of
from shared.kinds.ebs_volume.kind import EbsVolume
from shared.kinds.estate import Estate, Expectation, tag_spec
from shared.kinds.pricing import Rates, line

ASG_TAG = "aws:autoscaling:groupName"
# AWS writes "User initiated (YYYY-MM-DD HH:MM:SS GMT)"; moto writes UTC.
_STOPPED_AT = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)")
# Not AWS fields: what the kind learned from other calls, carried with the instance's record.
VOLUMES, ADDRESSES, PROTECTED = "CloudThrift:Volumes", "CloudThrift:Addresses", "CloudThrift:Protected"
_FILTER_VALUES = 200  # DescribeVolumes accepts up to 200 values per filter


def stopped_at(reason: str | None) -> datetime | None:
    """When the instance was stopped, read from StateTransitionReason; None when it does not say."""
    match = _STOPPED_AT.search(reason or "")
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def volume_entry(volume: Mapping[str, Any], delete_on_termination: bool) -> str:
    """One volume as a fact: `vol-1:gp3:100:3000:125:delete` (id, type, GiB, IOPS, MiB/s, fate)."""
    fate = "delete" if delete_on_termination else "keep"
    return ":".join(
        str(part)
        for part in (
            volume["VolumeId"],
            volume.get("VolumeType"),
            volume.get("Size", 0),
            volume.get("Iops") or 0,
            volume.get("Throughput") or 0,
            fate,
        )
    )


def volumes_of(facts: Mapping[str, FactValue]) -> list[dict[str, Any]]:
    """The `volumes` fact read back: id, type, size, iops, throughput, delete_on_termination."""
    parsed: list[dict[str, Any]] = []
    for entry in str(facts.get("volumes") or "").split(","):
        if entry:
            vid, vtype, size, iops, throughput, fate = entry.split(":")
            parsed.append(
                {
                    "volume_id": vid,
                    "type": vtype,
                    "size": int(size),
                    "iops": int(iops),
                    "throughput": int(throughput),
                    "delete_on_termination": fate == "delete",
                }
            )
    return parsed


def addresses_of(facts: Mapping[str, FactValue]) -> list[tuple[str, str]]:
    """The `elastic_ips` fact read back: (allocation id, public IP) pairs."""
    pairs = [entry.split("=") for entry in str(facts.get("elastic_ips") or "").split(",") if entry]
    return [(allocation, ip) for allocation, ip in pairs]


@register
class Ec2Instance(Kind):
    name = "ec2-instance"
    summary = "EC2 instance"
    permissions = (
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceAttribute",
        "ec2:DescribeVolumes",
        "ec2:DescribeAddresses",
    )
    gone_codes = frozenset({"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"})
    # Ids, addresses, key names, profiles and subnets identify rather than describe: never sent.
    gemini_facts = frozenset(
        {
            "instance_type",
            "state",
            "stopped_at",
            "platform",
            "architecture",
            "volume_count",
            "volume_gib",
            "elastic_ip_count",
            "termination_protection",
            "in_auto_scaling_group",
            "name",
        }
    )
    # Its volumes, priced as the volume kind prices them; its addresses; the image its remedy keeps.
    dimensions = (*EbsVolume.dimensions, "vpc.public_ipv4.hour")

    async def list(
        self, clients: Clients, filters: tuple[Mapping[str, Any], ...]
    ) -> AsyncIterator[Mapping[str, Any]]:
        ec2 = await clients("ec2")
        paginator = ec2.get_paginator("describe_instances")
        async for page in paginator.paginate(Filters=list(filters), PaginationConfig={"PageSize": 1000}):
            instances = [i for r in page.get("Reservations", []) for i in r.get("Instances", [])]
            if instances:
                for instance in await _with_context(ec2, instances):
                    yield instance

    async def describe(self, clients: Clients, resource_id: str) -> Mapping[str, Any] | None:
        ec2 = await clients("ec2")
        try:
            answer = await ec2.describe_instances(InstanceIds=[resource_id])
        except Exception as exc:
            if self.is_gone(exc):
                return None
            raise
        instances = [i for r in answer.get("Reservations", []) for i in r.get("Instances", [])]
        if not instances:
            return None
        if instances[0].get("State", {}).get("Name") in ("shutting-down", "terminated"):
            return instances[0]  # its attributes can no longer be read: it is going
        return (await _with_context(ec2, instances[:1]))[0]

    def is_going(self, raw: Mapping[str, Any]) -> bool:
        return raw.get("State", {}).get("Name") in ("shutting-down", "terminated")

    def observe(self, raw: Mapping[str, Any]) -> Observation:
        tags = tags_of(raw)
        reason = raw.get("StateTransitionReason") or None
        since = stopped_at(reason)
        volumes = raw.get(VOLUMES) or []
        groups = sorted(g["GroupId"] for g in raw.get("SecurityGroups", []) or [])
        facts: dict[str, FactValue] = {
            "instance_type": raw.get("InstanceType"),
            "state": raw.get("State", {}).get("Name"),
            "stopped_at": since.isoformat() if since else None,
            "state_reason": str(reason)[:200] if reason else None,
            "platform": raw.get("PlatformDetails") or raw.get("Platform"),
            "architecture": raw.get("Architecture"),
            "image_id": raw.get("ImageId"),
            "subnet_id": raw.get("SubnetId"),
            "security_groups": ",".join(groups) or None,
            "key_name": raw.get("KeyName"),
            "iam_profile": (raw.get("IamInstanceProfile") or {}).get("Arn"),
            "private_ip": raw.get("PrivateIpAddress"),
            "volumes": ",".join(volumes) or None,
            "volume_count": len(volumes),
            "volume_gib": sum(v["size"] for v in volumes_of({"volumes": ",".join(volumes)})),
            "elastic_ips": ",".join(raw.get(ADDRESSES) or []) or None,
            "elastic_ip_count": len(raw.get(ADDRESSES) or []),
            "termination_protection": bool(raw.get(PROTECTED)),
            "in_auto_scaling_group": ASG_TAG in tags,
            "name": tags.get("Name"),
        }
        # The age of a stopped instance is how long it has been stopped (unknown: None, see package).
        return Observation(raw["InstanceId"], facts, tags, since)

    def price(self, observation: Observation, rates: Rates) -> Priced:
        """What keeps billing while it is stopped: its volumes (priced as the volume kind prices them)
        and its Elastic IPs. Compute bills nothing while stopped."""
        lines: list[CostLine] = []
        notes: list[str] = []
        for volume in volumes_of(observation.facts):
            as_volume = Observation(
                volume["volume_id"],
                {
                    "volume_type": volume["type"],
                    "size_gib": volume["size"],
                    "iops": volume["iops"],
                    "throughput_mibps": volume["throughput"],
                },
            )
            priced = EbsVolume().price(as_volume, rates)
            for item in priced.lines:
                lines.append(item.model_copy(update={"item": f"{volume['volume_id']} {item.item}"}))
            if priced.note:
                notes.append(priced.note)
        addresses = addresses_of(observation.facts)
        if addresses:
            hours = len(addresses) * rates.hours_per_month
            lines.append(line("Elastic IP (public IPv4) hours", hours, "hour", rates["vpc.public_ipv4.hour"]))
        return Priced(lines, "; ".join(notes) or None)

    def details(self, facts: Mapping[str, FactValue]) -> str:
        since = str(facts.get("stopped_at") or "unknown")[:10]
        return (
            f"{facts.get('instance_type')} stopped since {since}, {facts.get('volume_count')} volume(s) "
            f"{facts.get('volume_gib')} GiB, {facts.get('elastic_ip_count')} EIP(s)"
        )

    async def seed(self, estate: Estate) -> None:
        """Stopped long ago (idle, with data volumes and an address), protected, in an Auto Scaling
        group, opted out, stopped last week."""
        ec2 = await estate.clients("ec2")
        image = (await ec2.describe_instances(InstanceIds=[estate.instance_id]))["Reservations"][0][
            "Instances"
        ][0]["ImageId"]

        async def stopped(
            name: str,
            itype: str,
            expect: Expectation,
            days: int,
            data_gib: tuple[int, ...],
            eip: bool = False,
            protect: bool = False,
            tags: dict[str, str] | None = None,
        ) -> str:
            made = await ec2.run_instances(
                ImageId=image,
                MinCount=1,
                MaxCount=1,
                InstanceType=itype,
                SubnetId=estate.subnet_id,
                TagSpecifications=tag_spec("instance", {"Name": name} | (tags or {})),
            )
            instance_id = str(made["Instances"][0]["InstanceId"])
            if protect:  # moto's RunInstances ignores DisableApiTermination; ModifyInstanceAttribute sets it
                await ec2.modify_instance_attribute(
                    InstanceId=instance_id, DisableApiTermination={"Value": True}
                )
            for device, size in zip(("/dev/sdf", "/dev/sdg", "/dev/sdh"), data_gib, strict=False):
                volume = await ec2.create_volume(AvailabilityZone=estate.zone, Size=size, VolumeType="gp3")
                await ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=instance_id, Device=device)
            if eip:
                address = await ec2.allocate_address(Domain="vpc")
                await ec2.associate_address(AllocationId=address["AllocationId"], InstanceId=instance_id)
            await ec2.stop_instances(InstanceIds=[instance_id])
            estate.backdate("instances", instance_id, "_reason", estate.now - timedelta(days=days))
            estate.add(self.name, instance_id, expect, type=itype, data_gib=data_gib, eip=eip)
            return instance_id

        for name, itype, data_gib, eip in STOPPED:
            await stopped(name, itype, "idle", 120, data_gib, eip)
        await stopped("payroll-batch", "m5.large", "busy", 120, (200,), protect=True)
        await stopped("asg-worker", "c5.large", "busy", 120, (), tags={ASG_TAG: "workers"})
        await stopped("dr-standby", "r5.large", "opted-out", 120, (500,), tags={"cloudthrift:keep": "DR"})
        await stopped("paused-last-week", "t3.large", "too-young", 5, (100,))


# Stopped for 120 days: (Name tag, type, data volume GiB, Elastic IP associated).
STOPPED: tuple[tuple[str, str, tuple[int, ...], bool], ...] = (
    ("old-build-agent", "c5.2xlarge", (500,), True),
    ("migration-source-db", "r5.xlarge", (1000, 200), False),
    ("poc-ml-gpu", "g4dn.xlarge", (250,), True),
)


async def _with_context(ec2: Any, instances: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each instance with its volumes (type, size, performance, fate), Elastic IPs and termination
    protection: what it costs while stopped and what its remedy must know, read in bulk."""
    ids = [i["InstanceId"] for i in instances]
    volumes = {v["VolumeId"]: v for v in await _attached_volumes(ec2, ids)}
    addresses = await ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": ids}])
    by_instance: dict[str, list[str]] = {}
    for address in addresses.get("Addresses", []):
        entry = f"{address.get('AllocationId') or ''}={address.get('PublicIp')}"
        by_instance.setdefault(address.get("InstanceId", ""), []).append(entry)
    out: list[dict[str, Any]] = []
    for instance in instances:
        entries = [
            volume_entry(volumes[m["Ebs"]["VolumeId"]], bool(m["Ebs"].get("DeleteOnTermination")))
            for m in instance.get("BlockDeviceMappings", []) or []
            if m.get("Ebs", {}).get("VolumeId") in volumes
        ]
        protected = await ec2.describe_instance_attribute(
            InstanceId=instance["InstanceId"], Attribute="disableApiTermination"
        )
        out.append(
            {
                **instance,
                VOLUMES: sorted(entries),
                ADDRESSES: sorted(by_instance.get(instance["InstanceId"], [])),
                PROTECTED: bool(protected.get("DisableApiTermination", {}).get("Value")),
            }
        )
    return out


async def _attached_volumes(ec2: Any, instance_ids: Iterable[str]) -> list[Mapping[str, Any]]:
    ids = list(instance_ids)
    found: list[Mapping[str, Any]] = []
    for start in range(0, len(ids), _FILTER_VALUES):
        chunk = ids[start : start + _FILTER_VALUES]
        pages = ec2.get_paginator("describe_volumes").paginate(
            Filters=[{"Name": "attachment.instance-id", "Values": chunk}], PaginationConfig={"PageSize": 500}
        )
        async for page in pages:
            found.extend(page.get("Volumes", []))
    return found
