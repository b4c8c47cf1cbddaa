"""NAT gateways: how to list, describe, read, price and seed them, and the CloudWatch metrics their
usage is read from.

Facts: its subnet, VPC, addresses, and every route-table route that targets it: deleting the gateway
leaves those routes in place as blackholes, so the card lists them. Price: the NAT gateway hour plus
each public IPv4 address on it (per-GB processing is zero for an idle gateway).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.events import FactValue
from shared.kinds import register
from shared.kinds.base import Clients, Kind, Metric, Observation, Priced, Usage, tags_of
from shared.kinds.estate import Estate, Expectation, tag_spec
from shared.kinds.pricing import Rates

KEEP_ADDRESS_TAG = "cloudthrift:keep-address"  # on the gateway: delete it but keep its Elastic IP(s)
SEP = ", "


@register
class NatGateway(Kind):
    name = "nat-gateway"
    summary = "NAT gateway"
    permissions = ("ec2:DescribeNatGateways", "ec2:DescribeRouteTables")
    gone_codes = frozenset({"NatGatewayNotFound", "InvalidNatGatewayID.NotFound"})
    # Ids and addresses identify rather than describe: they never leave AWS.
    gemini_facts = frozenset({"connectivity_type", "state", "address_count", "route_count", "name"})
    dimensions = ("vpc.nat_gateway.hour", "vpc.public_ipv4.hour")

    async def list(
        self, clients: Clients, filters: tuple[Mapping[str, Any], ...]
    ) -> AsyncIterator[Mapping[str, Any]]:
        ec2 = await clients("ec2")
        paginator = ec2.get_paginator("describe_nat_gateways")
        async for page in paginator.paginate(Filter=list(filters)):
            gateways = page.get("NatGateways", [])
            routes = await _routes(ec2, [g["NatGatewayId"] for g in gateways])
            for gateway in gateways:
                yield {**gateway, "Routes": routes.get(gateway["NatGatewayId"], [])}

    async def describe(self, clients: Clients, resource_id: str) -> Mapping[str, Any] | None:
        ec2 = await clients("ec2")
        try:
            answer = await ec2.describe_nat_gateways(NatGatewayIds=[resource_id])
        except Exception as exc:
            if self.is_gone(exc):
                return None
            raise
        gateways = answer.get("NatGateways") or []
        if not gateways:
            return None
        routes = await _routes(ec2, [resource_id])
        return {**gateways[0], "Routes": routes.get(resource_id, [])}

    def is_going(self, raw: Mapping[str, Any]) -> bool:
        return raw.get("State") in ("deleting", "deleted")

    def observe(self, raw: Mapping[str, Any]) -> Observation:
        tags = tags_of(raw)
        addresses = [a for a in raw.get("NatGatewayAddresses", []) or [] if a.get("AllocationId")]
        routes = raw.get("Routes", [])
        facts: dict[str, FactValue] = {
            "subnet_id": raw.get("SubnetId"),
            "vpc_id": raw.get("VpcId"),
            "connectivity_type": raw.get("ConnectivityType") or "public",
            "state": raw.get("State"),
            "public_ips": SEP.join(str(a.get("PublicIp")) for a in addresses) or None,
            "allocation_ids": SEP.join(str(a["AllocationId"]) for a in addresses) or None,
            "address_count": len(addresses),
            # "rtb-1 0.0.0.0/0": what becomes a blackhole route when the gateway is deleted.
            "routes": SEP.join(routes) or None,
            "route_count": len(routes),
            "name": tags.get("Name"),
        }
        return Observation(raw["NatGatewayId"], facts, tags, raw.get("CreateTime"))

    def price(self, observation: Observation, rates: Rates) -> Priced:
        hours = Decimal(rates.hours_per_month)
        lines = [rates.line("NAT gateway hours", hours, "hour", "vpc.nat_gateway.hour")]
        count = int(observation.facts.get("address_count") or 0)
        if count:
            lines.append(
                rates.line("public IPv4 address hours", hours * count, "hour", "vpc.public_ipv4.hour")
            )
        return Priced(lines, note="per-GB processing is not estimated: an idle gateway processes none")

    def details(self, facts: Mapping[str, FactValue]) -> str:
        routes = int(facts.get("route_count") or 0)
        return f"{facts.get('connectivity_type')} in {facts.get('subnet_id')}, {routes} route(s)"

    async def seed(self, estate: Estate) -> None:
        """Idle gateways get zero datapoints (the metrics are published every minute, even at zero);
        the busy one gets traffic; the young one is within the window; one is opted out."""
        ec2 = await estate.clients("ec2")
        cloudwatch = await estate.clients("cloudwatch")

        async def gateway(name: str, expect: Expectation, extra: dict[str, str] | None = None) -> str:
            allocation = await ec2.allocate_address(Domain="vpc")
            created = await ec2.create_nat_gateway(
                SubnetId=estate.subnet_id,
                AllocationId=allocation["AllocationId"],
                TagSpecifications=tag_spec("natgateway", {"Name": name, **(extra or {})}),
            )
            gateway_id = str(created["NatGateway"]["NatGatewayId"])
            if expect != "too-young":
                estate.backdate("nat_gateways", gateway_id, "_created_at", estate.old)
            estate.add(self.name, gateway_id, expect, name=name)
            return gateway_id

        idle = [await gateway(name, "idle") for name in ("staging-nat-a", "legacy-vpc-nat")]
        busy = await gateway("prod-egress-nat", "busy")
        opted = await gateway("dr-standby-nat", "opted-out", {"cloudthrift:keep": "disaster recovery"})
        await gateway("new-nat", "too-young")
        # The first idle one is still the default route of a route table: the card names it.
        table = await ec2.create_route_table(VpcId=await _vpc_of(ec2, estate.subnet_id))
        await ec2.create_route(
            RouteTableId=table["RouteTable"]["RouteTableId"],
            DestinationCidrBlock="0.0.0.0/0",
            NatGatewayId=idle[0],
        )
        day = estate.now - timedelta(days=3)
        data = [
            *(_datapoint(g, metric, 0, day) for g in [*idle, opted] for metric in NAT_METRICS),
            *(_datapoint(busy, metric, 1200, day) for metric in NAT_METRICS),
        ]
        for start in range(0, len(data), 500):
            await cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[start : start + 500])


async def _vpc_of(ec2: Any, subnet_id: str) -> str:
    return str((await ec2.describe_subnets(SubnetIds=[subnet_id]))["Subnets"][0]["VpcId"])


def _datapoint(gateway_id: str, metric: Metric, value: float, when: datetime) -> dict[str, Any]:
    return {
        "MetricName": metric.name,
        "Dimensions": [{"Name": metric.dimension, "Value": gateway_id}],
        "Timestamp": when,
        "Value": value,
    }


async def _routes(ec2: Any, gateway_ids: Sequence[str]) -> dict[str, list[str]]:
    """Every route targeting each gateway, in one call per page of gateways (`rtb-… 0.0.0.0/0`)."""
    found: dict[str, list[str]] = {gid: [] for gid in gateway_ids}
    if not gateway_ids:
        return found
    paginator = ec2.get_paginator("describe_route_tables")
    async for page in paginator.paginate(
        Filters=[{"Name": "route.nat-gateway-id", "Values": list(gateway_ids)}]
    ):
        for table in page.get("RouteTables", []):
            for route in table.get("Routes", []):
                target = route.get("NatGatewayId")
                if target in found:
                    destination = (
                        route.get("DestinationCidrBlock")
                        or route.get("DestinationIpv6CidrBlock")
                        or route.get("DestinationPrefixListId")
                    )
                    found[target].append(f"{table['RouteTableId']} {destination}")
    return found


# What a missing datapoint means: the VPC user guide ("Monitor NAT gateways with CloudWatch",
# https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway-cloudwatch.html) says NAT gateway
# metric data is provided at 1-minute intervals; unlike Elastic Load Balancing's guides it does not say
# that no traffic means no datapoint. So absence is "no data", never zero: a gateway without datapoints
# is counted `usage-unknown`, not reported. Statistics are the ones that guide names as meaningful.
NAMESPACE = "AWS/NATGateway"
NAT_METRICS = (
    Metric(NAMESPACE, "ActiveConnectionCount", "Maximum", "NatGatewayId", missing_means_zero=False),
    Metric(NAMESPACE, "BytesOutToDestination", "Sum", "NatGatewayId", missing_means_zero=False),
    Metric(NAMESPACE, "PacketsInFromSource", "Sum", "NatGatewayId", missing_means_zero=False),
    Metric(NAMESPACE, "PacketsInFromDestination", "Sum", "NatGatewayId", missing_means_zero=False),
)


def usage_text(usage: Usage) -> str:
    values = usage.values
    return (
        f"{values.get('ActiveConnectionCount') or 0:,.0f} active connections (peak), "
        f"{values.get('BytesOutToDestination') or 0:,.0f} bytes out to destinations, "
        f"{values.get('PacketsInFromSource') or 0:,.0f} packets in from sources, "
        f"{values.get('PacketsInFromDestination') or 0:,.0f} packets in from destinations "
        f"over {usage.window.days} days"
    )
