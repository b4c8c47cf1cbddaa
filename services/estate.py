"""A realistic demo estate of idle and busy resources, seeded on the embedded moto server.

The same estate backs the local default and the scanner's tests, so `manifest` says what every seeded
resource is expected to be: only the `idle` ones may ever be reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from shared.aws import AwsClients

Expectation = Literal["idle", "attached", "associated", "opted-out", "too-young"]
DEMO_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1")
# Sets a volume's creation time; only possible when moto runs in this process (the API cannot backdate).
Backdater = Callable[[str, str, datetime], None]


@dataclass(frozen=True)
class Seeded:
    kind: str
    region: str
    resource_id: str
    expectation: Expectation
    spec: dict[str, Any]


# (volume type, size GiB, extra create arguments, Name tag)
IDLE_VOLUMES: tuple[tuple[str, int, dict[str, int], str], ...] = (
    ("gp2", 8, {}, "old-bastion-root"),
    ("gp2", 100, {}, "jenkins-workspace-2023"),
    ("gp2", 500, {}, "elasticsearch-data-3"),
    ("gp3", 20, {}, "scratch"),
    ("gp3", 200, {"Iops": 6000, "Throughput": 250}, "postgres-migration-tmp"),
    ("gp3", 1000, {}, "ml-training-cache"),
    ("io1", 100, {"Iops": 5000}, "oracle-poc"),
    ("io2", 200, {"Iops": 40000}, "trading-db-replica-old"),
    ("st1", 500, {}, "log-archive"),
    ("st1", 2000, {}, "hadoop-hdfs-7"),
    ("sc1", 1000, {}, "cold-backups-2022"),
    ("standard", 50, {}, "legacy-magnetic"),
)


def moto_backdater(account_id: str = "123456789012") -> Backdater:
    """Reach into an in-process moto server's backend to make seeded volumes look old."""
    from moto.ec2.models import ec2_backends

    def backdate(region: str, volume_id: str, when: datetime) -> None:
        ec2_backends[account_id][region].volumes[volume_id].create_time = when.astimezone(UTC).replace(
            tzinfo=None
        )

    return backdate


async def seed_estate(
    aws: AwsClients,
    regions: tuple[str, ...] = DEMO_REGIONS,
    *,
    backdate: Backdater | None = None,
    now: datetime | None = None,
) -> list[Seeded]:
    """Seed every region concurrently and return the manifest."""
    now = now or datetime.now(UTC)
    per_region = await asyncio.gather(*(_seed_region(aws, region, backdate, now) for region in regions))
    return [item for items in per_region for item in items]


async def linux_image(ec2: Any) -> str:
    """An Amazon Linux 2 image; filtered, since the unfiltered list is about a megabyte of XML."""
    images = await ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*"]}]
    )
    return str(images["Images"][0]["ImageId"])


async def _seed_region(
    aws: AwsClients, region: str, backdate: Backdater | None, now: datetime
) -> list[Seeded]:
    ec2 = await aws.client("ec2", region)
    zone = (await ec2.describe_availability_zones())["AvailabilityZones"][0]["ZoneName"]
    manifest: list[Seeded] = []
    old = now - timedelta(days=45)

    async def volume(
        volume_type: str,
        size: int,
        extra: dict[str, int],
        tags: dict[str, str],
        expect: Expectation,
        *,
        age: datetime | None = old,
    ) -> str:
        created = await ec2.create_volume(
            AvailabilityZone=zone,
            Size=size,
            VolumeType=volume_type,
            TagSpecifications=[
                {"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ],
            **extra,
        )
        volume_id = created["VolumeId"]
        if backdate and age is not None:
            backdate(region, volume_id, age)
        manifest.append(
            Seeded("ebs-volume", region, volume_id, expect, {"type": volume_type, "size": size, **extra})
        )
        return volume_id

    for volume_type, size, extra, name in IDLE_VOLUMES:
        await volume(volume_type, size, extra, {"Name": name, "team": "platform"}, "idle")
    await volume("gp2", 250, {}, {"Name": "dr-restore-point", "cloudthrift:keep": "legal hold"}, "opted-out")
    await volume("gp3", 100, {}, {"Name": "just-provisioned"}, "too-young", age=None)

    image_id = await linux_image(ec2)
    vpc = (await ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}]))["Vpcs"][0]["VpcId"]
    subnet = (await ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}]))["Subnets"][0][
        "SubnetId"
    ]
    instance = (
        await ec2.run_instances(
            ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet
        )
    )["Instances"][0]["InstanceId"]
    for device, (volume_type, size) in zip(("/dev/sdf", "/dev/sdg"), (("gp3", 30), ("gp2", 8)), strict=True):
        volume_id = await volume(volume_type, size, {}, {"Name": f"app-{device[-1]}"}, "attached")
        await ec2.attach_volume(VolumeId=volume_id, InstanceId=instance, Device=device)

    async def address(tags: dict[str, str], expect: Expectation) -> str:
        allocated = await ec2.allocate_address(
            Domain="vpc",
            TagSpecifications=[
                {"ResourceType": "elastic-ip", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ],
        )
        manifest.append(
            Seeded("elastic-ip", region, allocated["AllocationId"], expect, {"ip": allocated["PublicIp"]})
        )
        return allocated["AllocationId"]

    await address({"Name": "old-vpn-endpoint"}, "idle")
    await address({"Name": "released-nat-leftover"}, "idle")
    await address({"Name": "partner-allowlisted", "cloudthrift:keep": "whitelisted by partner"}, "opted-out")
    on_instance = await address({"Name": "web-frontend"}, "associated")
    await ec2.associate_address(AllocationId=on_instance, InstanceId=instance)
    # Associated to a bare network interface: no InstanceId, but in use (think NAT gateway).
    eni = (await ec2.create_network_interface(SubnetId=subnet))["NetworkInterface"]["NetworkInterfaceId"]
    on_eni = await address({"Name": "nat-egress"}, "associated")
    await ec2.associate_address(AllocationId=on_eni, NetworkInterfaceId=eni)
    return manifest
