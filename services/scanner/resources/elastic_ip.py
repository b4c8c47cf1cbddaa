"""Unassociated Elastic IPs: no AssociationId means nothing uses the address, yet it bills hourly.

"No InstanceId" is not the test: addresses on NAT gateways or bare network interfaces have no instance
and are in use. Only a missing AssociationId means idle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

from services.scanner.pricing import RegionPrices, line
from services.scanner.resources.base import Detector, Observation, Pricing, detectors, tags_of

IDLE_REASON = "Elastic IP is associated with no instance or network interface, and public IPv4 bills hourly"


@detectors.register("elastic-ip")
class ElasticIp(Detector):
    kind = "elastic-ip"
    permissions = ("ec2:DescribeAddresses",)

    async def candidates(self, client: Any) -> AsyncIterator[Mapping[str, Any]]:
        # DescribeAddresses is not paginated and cannot filter on a missing association.
        answer = await client.describe_addresses(Filters=[{"Name": "domain", "Values": ["vpc"]}])
        for address in answer.get("Addresses", []):
            yield address

    def observe(self, raw: Mapping[str, Any]) -> Observation:
        tags = tags_of(raw)
        facts = {
            "public_ip": raw.get("PublicIp"),
            "allocation_id": raw.get("AllocationId"),
            "domain": raw.get("Domain"),
            "network_border_group": raw.get("NetworkBorderGroup"),
            "public_ipv4_pool": raw.get("PublicIpv4Pool"),
            "associated": bool(raw.get("AssociationId")),
            "name": tags.get("Name"),
        }
        return Observation(
            resource_id=raw.get("AllocationId") or raw["PublicIp"],
            facts=facts,
            tags=tags,
            created_at=None,  # the API does not say when an address was allocated
            idle_reason=None if raw.get("AssociationId") else IDLE_REASON,
        )

    def price(self, observation: Observation, prices: RegionPrices, hours_per_month: int) -> Pricing:
        return Pricing(
            lines=[line("public IPv4 address", Decimal(hours_per_month), "hour", prices.public_ipv4_hour)],
            note="a released address cannot be recovered",
        )
