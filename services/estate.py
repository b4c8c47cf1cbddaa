"""A realistic demo estate of idle and busy resources, seeded on the embedded moto server.

The same estate backs the local default and the scanner's tests, so the manifest says what every
seeded resource is expected to be: only the `idle` ones may ever be reported. This module creates what
several kinds share (a subnet of the default VPC, one running instance); each kind seeds its own
examples (`Kind.seed` in shared/kinds/), so a new kind brings its demo resources with it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from shared.aws import AwsClients, RegionClients
from shared.kinds import Kind, discover
from shared.kinds.estate import Backdater, Estate, Seeded

DEMO_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1")


def moto_backdater(account_id: str = "123456789012") -> Backdater:
    """Reach into an in-process moto server's backends to make seeded resources look old.

    `collection` names the backend's collection, EC2's unless prefixed by a service
    (`elbv2:load_balancers`, `rds:databases`); moto keeps some creation times as ISO strings, and an
    instance's stop time only in its `_reason` text, written as AWS writes StateTransitionReason."""
    from services.embedded_aws import require_local_extra

    require_local_extra()
    from moto.core.utils import iso_8601_datetime_with_milliseconds
    from moto.ec2.models import ec2_backends
    from moto.elb.models import elb_backends
    from moto.elbv2.models import elbv2_backends
    from moto.rds.models import rds_backends

    backends: dict[str, Any] = {"ec2": ec2_backends, "elb": elb_backends, "elbv2": elbv2_backends,
                                "rds": rds_backends}  # fmt: skip

    def backdate(region: str, collection: str, resource_id: str, attribute: str, when: datetime) -> None:
        service, _, name = collection.rpartition(":")
        backend = backends[service or "ec2"][account_id][region]
        # EC2 keeps instances inside their reservations, not in a collection of their own.
        resource = (
            backend.get_instance(resource_id) if name == "instances" else getattr(backend, name)[resource_id]
        )
        current, naive = getattr(resource, attribute, None), when.astimezone(UTC).replace(tzinfo=None)
        value: Any = naive
        if attribute == "_reason":  # an instance's StateTransitionReason, which says when it stopped
            value = f"User initiated ({naive:%Y-%m-%d %H:%M:%S} GMT)"
        elif isinstance(current, str):
            value = iso_8601_datetime_with_milliseconds(naive)
        elif isinstance(current, datetime) and current.tzinfo is not None:
            value = when.astimezone(UTC)
        setattr(resource, attribute, value)

    return backdate


async def seed_estate(
    aws: AwsClients,
    regions: tuple[str, ...] = DEMO_REGIONS,
    *,
    backdate: Backdater | None = None,
    now: datetime | None = None,
    kinds: tuple[str, ...] = (),
) -> list[Seeded]:
    """Seed every region concurrently (every kind, or those named) and return the manifest."""
    now = now or datetime.now(UTC)
    registry = discover()
    chosen = [registry.get(name)() for name in (kinds or registry.names())]
    per_region = await asyncio.gather(
        *(_seed_region(aws, region, chosen, backdate, now) for region in regions)
    )
    return [item for items in per_region for item in items]


async def linux_image(ec2: Any) -> str:
    """An Amazon Linux 2 image; filtered, since the unfiltered list is about a megabyte of XML."""
    images = await ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*"]}]
    )
    return str(images["Images"][0]["ImageId"])


async def _seed_region(
    aws: AwsClients, region: str, chosen: list[Kind], backdate: Backdater | None, now: datetime
) -> list[Seeded]:
    clients = RegionClients(aws, region)
    ec2 = await clients("ec2")
    zone = (await ec2.describe_availability_zones())["AvailabilityZones"][0]["ZoneName"]
    vpc = (await ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}]))["Vpcs"][0]["VpcId"]
    subnets = await ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "availability-zone", "Values": [zone]}]
    )
    subnet = subnets["Subnets"][0]["SubnetId"]
    instance = await ec2.run_instances(
        ImageId=await linux_image(ec2), MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet
    )
    estate = Estate(
        region=region,
        clients=clients,
        zone=zone,
        subnet_id=subnet,
        instance_id=instance["Instances"][0]["InstanceId"],
        now=now,
        backdater=backdate,
    )
    for kind in chosen:
        await kind.seed(estate)
    return estate.manifest
