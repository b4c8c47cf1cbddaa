"""NAT gateways that carried no traffic over the usage window. Remedy: delete it, wait until it is
deleted, then release its Elastic IP(s) unless the gateway carries the `cloudthrift:keep-address` tag.

Facts: its subnet, VPC, addresses, and every route-table route that targets it: deleting the gateway
leaves those routes in place as blackholes, so the card lists them. Price: the NAT gateway hour plus
each public IPv4 address on it (per-GB processing is zero for an idle gateway).

The wait for `deleted` (about a minute on AWS) is bounded by the executor's wait setting; past it the
delivery is retried, finds the gateway `deleting`/`deleted` and `leftovers` finishes: wait, then
release. Undo (`Delete.restore`): a new gateway in the same subnet with the kept address (tag the gateway
`cloudthrift:keep-address`), or a new address when it was released (the public IP changes), and the
recorded routes pointed at it.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.aws import is_error
from shared.events import FactValue, Finding, Recommendation, Risk
from shared.kinds import register
from shared.kinds.advice import Advice, clip, confidence, idle_text, usd
from shared.kinds.base import (
    Check,
    Clients,
    Done,
    Job,
    Kind,
    Metric,
    Observation,
    Priced,
    Remedy,
    Restored,
    UndoJob,
    Usage,
    expect_dry_run_ok,
    tags_of,
)
from shared.kinds.estate import Estate, Expectation, tag_spec
from shared.kinds.pricing import Rates, line
from shared.kinds.signals import Signals

KEEP_ADDRESS_TAG = "cloudthrift:keep-address"  # on the gateway: delete it but keep its Elastic IP(s)
_SEP = ", "
_WAIT_DELAY_SECONDS = 15  # botocore's own delay for nat_gateway_deleted


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
            "public_ips": _SEP.join(str(a.get("PublicIp")) for a in addresses) or None,
            "allocation_ids": _SEP.join(str(a["AllocationId"]) for a in addresses) or None,
            "address_count": len(addresses),
            # "rtb-1 0.0.0.0/0": what becomes a blackhole route when the gateway is deleted.
            "routes": _SEP.join(routes) or None,
            "route_count": len(routes),
            "name": tags.get("Name"),
        }
        return Observation(raw["NatGatewayId"], facts, tags, raw.get("CreateTime"))

    def price(self, observation: Observation, rates: Rates) -> Priced:
        hours = Decimal(rates.hours_per_month)
        lines = [line("NAT gateway hours", hours, "hour", rates["vpc.nat_gateway.hour"])]
        count = int(observation.facts.get("address_count") or 0)
        if count:
            lines.append(
                line("public IPv4 address hours", hours * count, "hour", rates["vpc.public_ipv4.hour"])
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


@NatGateway.check("no-traffic")
class NoTraffic(Check):
    summary = "no connection, byte or packet through the gateway over the window, yet billed hourly"
    filters = ({"Name": "state", "Values": ["available"]},)
    metrics = NAT_METRICS
    # Compute Optimizer's lookback for unused NAT gateways: a monthly batch job still counts as use.
    window = timedelta(days=32)
    permissions = ("cloudwatch:GetMetricData",)
    remedies = ("delete",)

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        if usage is None or not usage.known() or any(usage.values.values()):
            return None
        return f"no traffic: {usage_text(usage)}"

    def busy_reason(self, observation: Observation) -> str:
        return "the gateway carried traffic within the window since it was reported"

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        """Routes still pointing at it are the risk: they become blackholes, and a subnet that needs
        the internet some day (patching, a monthly job) loses it silently."""
        facts = finding.facts
        name = str(facts.get("name") or "")
        routes = int(facts.get("route_count") or 0)
        keeps = KEEP_ADDRESS_TAG in finding.tags
        summary = (
            f"NAT gateway{f' named {name[:60]!r}' if name else ''} in {facts.get('subnet_id')} "
            f"({facts.get('vpc_id')}), {idle_text(finding, now)}: {finding.idle_reason}. It costs "
            f"{usd(finding.cost.monthly_usd)}/month. "
        )
        if routes:
            summary += f"Deleting it turns {routes} route(s) into blackholes: {facts.get('routes')}. "
        else:
            summary += "No route table routes to it. "
        summary += (
            "Its Elastic IP is kept (tag)."
            if keeps
            else "Its Elastic IP is released (tag the gateway "
            f"{KEEP_ADDRESS_TAG} to keep it and make an exact undo possible)."
        )
        cause = (
            "Left behind by a VPC whose private workloads were moved or removed"
            if routes
            else "Routes were moved to another gateway (or never made) and this one was not deleted"
        )
        risk: Risk
        recommendation: Recommendation
        if s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif s.prod:
            risk, reason, recommendation = "high", f"production network ({s.prod})", "investigate"
        elif routes:
            risk, recommendation = "medium", "investigate"
            reason = f"{routes} route(s) still send traffic to it: they become blackholes when it is deleted"
        else:
            risk, reason, recommendation = "low", "no traffic and no route points at it", "delete"
        return Advice(clip(summary, 700), cause, risk, clip(reason, 300), recommendation, confidence(s, risk))


@NatGateway.remedy("delete")
class Delete(Remedy):
    action = "delete_nat_gateway"
    summary = (
        "delete the NAT gateway, wait until it is deleted, then release its Elastic IP(s) unless the "
        f"gateway is tagged {KEEP_ADDRESS_TAG}"
    )
    permissions = ("ec2:DescribeNatGateways", "ec2:DeleteNatGateway", "ec2:ReleaseAddress",
                   # the undo
                   "ec2:CreateNatGateway", "ec2:AllocateAddress", "ec2:CreateTags", "ec2:ReplaceRoute",
                   "ec2:CreateRoute", "ec2:DescribeAddresses")  # fmt: skip
    undo = (
        "create a NAT gateway in the recorded subnet with the kept Elastic IP (a new id) and point the "
        "recorded routes at it; with a released address the public IP changes"
    )

    async def apply(self, clients: Clients, job: Job) -> Done:
        ec2 = await clients("ec2")
        await job.guard()
        try:
            await ec2.delete_nat_gateway(NatGatewayId=job.resource_id)
        except Exception as exc:
            if is_error(exc, *NatGateway.gone_codes):
                return await self.leftovers(clients, job)
            raise
        return await self._finish(ec2, job, already_gone=False)

    async def rehearse(self, clients: Clients, job: Job) -> Done:
        """No DeleteNatGateway DryRun: moto ignores the flag and deletes (PROTOCOLS.md, section G);
        a rehearsal must never delete, so it re-reads the gateway and rehearses the address release."""
        ec2 = await clients("ec2")
        await ec2.describe_nat_gateways(NatGatewayIds=[job.resource_id])
        for allocation_id in _released(job):
            await expect_dry_run_ok(ec2.release_address(AllocationId=allocation_id, DryRun=True))
        return Done(self.action, record=_record(job))

    async def leftovers(self, clients: Clients, job: Job) -> Done:
        """An earlier attempt deleted it: wait for `deleted`, then release what is still to release."""
        return await self._finish(await clients("ec2"), job, already_gone=True)

    async def _finish(self, ec2: Any, job: Job, *, already_gone: bool) -> Done:
        delay = max(1, min(_WAIT_DELAY_SECONDS, job.snapshot_wait_seconds))
        attempts = max(1, math.ceil(job.snapshot_wait_seconds / delay))
        # Bounded: past it, a WaiterError makes the delivery retry, and the retry resumes here.
        await ec2.get_waiter("nat_gateway_deleted").wait(
            NatGatewayIds=[job.resource_id], WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
        )
        for allocation_id in _released(job):
            await job.guard()
            try:
                await ec2.release_address(AllocationId=allocation_id)
            except Exception as exc:
                if not is_error(exc, "InvalidAllocationID.NotFound"):
                    raise  # InUse: still detaching; the retry resumes
        return Done(self.action, already_gone=already_gone, record=_record(job))

    async def restore(self, clients: Clients, job: UndoJob) -> Restored:
        """A new gateway in the recorded subnet (a new id) with the kept address, or a new one when it
        was released (the public IP changes), its tags, and the recorded routes pointed at it. An
        earlier attempt's gateway and address (tagged with the decision) are reused."""
        ec2 = await clients("ec2")
        subnet = str(job.record.get("subnet_id") or job.facts.get("subnet_id"))
        kept = [a for a in str(job.record.get("kept_allocation_ids") or "").split(_SEP) if a]
        mine = [{"Key": RESTORES_TAG, "Value": job.decision_id}]
        new_id = await _restored_gateway(ec2, subnet, job.decision_id)
        allocation = kept[0] if kept else None
        if new_id is None:
            extra: dict[str, Any] = {"ConnectivityType": "private"}
            if job.facts.get("connectivity_type", "public") != "private":
                allocation = allocation or await _new_address(ec2, job, mine)
                extra = {"AllocationId": allocation}
            await job.guard()
            own = [{"Key": k, "Value": v} for k, v in job.tags.items() if not k.startswith("aws:")]
            created = await ec2.create_nat_gateway(
                SubnetId=subnet,
                ClientToken=f"ct-{job.decision_id}"[:64],
                TagSpecifications=[{"ResourceType": "natgateway", "Tags": [*own, *mine][:50]}],
                **extra,
            )
            new_id = str(created["NatGateway"]["NatGatewayId"])
        routes = [r for r in str(job.record.get("routes") or "").split(_SEP) if r]
        for route in routes:
            table, destination = route.split(" ", 1)
            await job.guard()
            try:
                await ec2.replace_route(
                    RouteTableId=table, DestinationCidrBlock=destination, NatGatewayId=new_id
                )
            except Exception as exc:
                if not is_error(exc, "InvalidRoute.NotFound"):
                    raise
                await ec2.create_route(
                    RouteTableId=table, DestinationCidrBlock=destination, NatGatewayId=new_id
                )
        return Restored(
            "recreate_nat_gateway",
            new_id,
            {"allocation_id": allocation, "same_address": bool(kept), "routes": _SEP.join(routes) or None},
        )


RESTORES_TAG = "cloudthrift:restores-decision"  # on what an undo creates: a resumed undo finds it


async def _restored_gateway(ec2: Any, subnet: str, decision_id: str) -> str | None:
    answer = await ec2.describe_nat_gateways(Filter=[{"Name": "subnet-id", "Values": [subnet]}])
    for gateway in answer.get("NatGateways", []):
        if (
            gateway.get("State") in ("pending", "available")
            and tags_of(gateway).get(RESTORES_TAG) == decision_id
        ):
            return str(gateway["NatGatewayId"])
    return None


async def _new_address(ec2: Any, job: UndoJob, mine: list[dict[str, str]]) -> str:
    """The released address is gone: a new one (tagged with the decision, so a retry reuses it)."""
    answer = await ec2.describe_addresses(
        Filters=[{"Name": f"tag:{RESTORES_TAG}", "Values": [job.decision_id]}]
    )
    if answer.get("Addresses"):
        return str(answer["Addresses"][0]["AllocationId"])
    await job.guard()
    spec = [{"ResourceType": "elastic-ip", "Tags": mine}]
    return str((await ec2.allocate_address(Domain="vpc", TagSpecifications=spec))["AllocationId"])


def _allocations(job: Job) -> list[str]:
    return [a for a in str(job.facts.get("allocation_ids") or "").split(_SEP) if a]


def _released(job: Job) -> list[str]:
    return [] if KEEP_ADDRESS_TAG in job.tags else _allocations(job)


def _record(job: Job) -> dict[str, Any]:
    kept = KEEP_ADDRESS_TAG in job.tags
    return {
        "subnet_id": job.facts.get("subnet_id"),
        "routes": job.facts.get("routes"),
        "public_ips": job.facts.get("public_ips"),
        ("kept_allocation_ids" if kept else "released_allocation_ids"): _SEP.join(_allocations(job)) or None,
    }
