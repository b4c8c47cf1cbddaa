"""The benchmark's estate, seeded with plain boto3 on the moto server (not timed), in its own process.

Run by the bench as `python bench/scan_estate.py seed|depth ...` so that boto3 is never imported by
the bench parent (see scan_moto.py for why). The shape is one both tools must agree on.

Per region: 1,000 EBS volumes, of which 500 are attached (50 instances, each with a root volume and 9
data volumes, created by RunInstances block-device mappings) and 500 are available (a mix of every
volume type and many sizes, half of them with a Name tag); and 100 Elastic IPs, of which 30 are
associated with instances and 70 are not. So 570 idle resources per region, 1,710 in all.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import boto3
from botocore.config import Config
from scan_moto import CREDENTIALS, REGIONS

# (volume type, size GiB, extra CreateVolume arguments): cycled over the available volumes.
_VOLUME_MIX: tuple[tuple[str, int, dict[str, int]], ...] = (
    ("gp2", 8, {}),
    ("gp2", 100, {}),
    ("gp3", 20, {}),
    ("gp3", 200, {"Iops": 6000, "Throughput": 250}),
    ("gp3", 1000, {}),
    ("io1", 100, {"Iops": 5000}),
    ("io2", 200, {"Iops": 40000}),
    ("st1", 500, {}),
    ("sc1", 1000, {}),
    ("standard", 50, {}),
)


@dataclass(frozen=True)
class EstateShape:
    """How much to seed in each region (the issue's figures by default)."""

    volumes: int = 1000
    addresses: int = 100
    instances: int = 50
    data_volumes_per_instance: int = 9
    associated_addresses: int = 30

    @property
    def attached_volumes(self) -> int:
        return self.instances * (1 + self.data_volumes_per_instance)

    @property
    def idle_per_region(self) -> int:
        return (self.volumes - self.attached_volumes) + (self.addresses - self.associated_addresses)

    def scaled(self, factor: float) -> EstateShape:
        """A smaller estate of the same proportions, for a quick trial of the bench itself."""
        instances = max(1, round(self.instances * factor))
        return EstateShape(
            volumes=max(instances * 10 + 1, round(self.volumes * factor)),
            addresses=max(instances + 1, round(self.addresses * factor)),
            instances=instances,
            data_volumes_per_instance=self.data_volumes_per_instance,
            associated_addresses=min(instances, round(self.associated_addresses * factor)),
        )


def seed(endpoint: str, shape: EstateShape, regions: tuple[str, ...] = REGIONS) -> dict[str, int]:
    """Seed every region (one thread each) and return the number of idle resources per region."""
    with ThreadPoolExecutor(max_workers=len(regions)) as pool:
        counts = list(pool.map(lambda region: _seed_region(endpoint, region, shape), regions))
    return dict(zip(regions, counts, strict=True))


def _client(endpoint: str, region: str) -> object:
    keys: Mapping[str, str] = CREDENTIALS
    return boto3.session.Session().client(
        "ec2",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=keys["AWS_SESSION_TOKEN"],
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )


def _seed_region(endpoint: str, region: str, shape: EstateShape) -> int:
    ec2 = _client(endpoint, region)
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]  # type: ignore[attr-defined]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]  # type: ignore[attr-defined]
    # moto adds no root volume of its own once mappings are given, so the root is one of them.
    devices = ["/dev/xvda"] + [f"/dev/sd{chr(ord('f') + i)}" for i in range(shape.data_volumes_per_instance)]
    reservation = ec2.run_instances(  # type: ignore[attr-defined]
        ImageId=image,
        InstanceType="t3.micro",
        MinCount=shape.instances,
        MaxCount=shape.instances,
        Placement={"AvailabilityZone": zone},
        BlockDeviceMappings=[
            {"DeviceName": device, "Ebs": {"VolumeSize": 50 + 10 * i, "VolumeType": "gp3"}}
            for i, device in enumerate(devices)
        ],
    )
    instances = [instance["InstanceId"] for instance in reservation["Instances"]]
    for index in range(shape.volumes - shape.attached_volumes):
        volume_type, size, extra = _VOLUME_MIX[index % len(_VOLUME_MIX)]
        tags = [{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": f"orphan-{index}"}]}]
        ec2.create_volume(  # type: ignore[attr-defined]
            AvailabilityZone=zone,
            VolumeType=volume_type,
            Size=size + index % 7,
            **extra,
            **({"TagSpecifications": tags} if index % 2 == 0 else {}),
        )
    for index in range(shape.addresses):
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]  # type: ignore[attr-defined]
        if index < shape.associated_addresses:
            ec2.associate_address(AllocationId=allocation, InstanceId=instances[index])  # type: ignore[attr-defined]
    return _check_region(ec2, shape)


def _check_region(ec2: object, shape: EstateShape) -> int:
    """Count what moto now holds, so a seeding surprise (e.g. no root volumes) fails loudly here."""
    volumes = [
        volume
        for page in ec2.get_paginator("describe_volumes").paginate()  # type: ignore[attr-defined]
        for volume in page["Volumes"]
    ]
    available = sum(1 for volume in volumes if not volume.get("Attachments"))
    addresses = ec2.describe_addresses()["Addresses"]  # type: ignore[attr-defined]
    unassociated = sum(1 for address in addresses if not address.get("AssociationId"))
    expected = (shape.volumes, shape.volumes - shape.attached_volumes, shape.addresses)
    got = (len(volumes), available, len(addresses))
    if got != expected:
        raise RuntimeError(f"seeded (volumes, available, addresses) = {got}, expected {expected}")
    return available + unassociated


def queue_depth(endpoint: str, queue_name: str) -> int:
    """Messages waiting on a queue: the bench checks that every finding reached the analyze queue."""
    sqs = boto3.session.Session().client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    answer = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(answer["Attributes"]["ApproximateNumberOfMessages"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Seed the bench estate, or count a queue, on moto.")
    commands = parser.add_subparsers(dest="command", required=True)
    seeding = commands.add_parser("seed", help="Seed every region; print the idle count per region.")
    seeding.add_argument("--endpoint", required=True)
    seeding.add_argument("--scale", type=float, default=1.0, help="Shrink the estate (a quick trial: 0.1).")
    seeding.add_argument("--regions", help="Comma-separated regions (default: the bench's three).")
    seeding.add_argument("--shape", help="EstateShape fields as JSON, instead of the default shape.")
    depth = commands.add_parser("depth", help="Print the number of messages on a queue.")
    depth.add_argument("--endpoint", required=True)
    depth.add_argument("--queue", required=True)
    args = parser.parse_args(argv)
    if args.command == "depth":
        print(json.dumps({"depth": queue_depth(args.endpoint, args.queue)}))
        return 0
    shape = EstateShape(**json.loads(args.shape)) if args.shape else EstateShape()
    shape = shape if args.scale == 1.0 else shape.scaled(args.scale)
    regions = tuple(args.regions.split(",")) if args.regions else REGIONS
    print(json.dumps({"idle_by_region": seed(args.endpoint, shape, regions), "shape": asdict(shape)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
