"""Classic Load Balancers (elb): how to list, describe, read, price and seed them, and the CloudWatch
metric their usage is read from. Classic Load Balancers have no deletion protection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from shared.events import FactValue
from shared.kinds import register
from shared.kinds.base import Clients, Kind, Metric, Observation, Priced
from shared.kinds.estate import Estate, Expectation
from shared.kinds.pricing import Rates

_TAGS_PER_CALL = 20  # DescribeTags takes up to 20 names


@register
class ClassicLoadBalancer(Kind):
    name = "classic-load-balancer"
    service = "elb"
    summary = "Classic Load Balancer"
    permissions = (
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:DescribeInstanceHealth",
    )
    gone_codes = frozenset({"LoadBalancerNotFound", "AccessPointNotFound"})
    gemini_facts = frozenset({"scheme", "listener_count", "instances", "healthy_instances", "name"})
    dimensions = ("elb.classic.hour",)

    async def list(
        self, clients: Clients, filters: tuple[Mapping[str, Any], ...]
    ) -> AsyncIterator[Mapping[str, Any]]:
        elb = await clients("elb")
        async for page in elb.get_paginator("describe_load_balancers").paginate():
            balancers = page.get("LoadBalancerDescriptions", [])
            tags = await _tags(elb, [b["LoadBalancerName"] for b in balancers])
            for balancer in balancers:
                yield await _enrich(elb, balancer, tags)

    async def describe(self, clients: Clients, resource_id: str) -> Mapping[str, Any] | None:
        elb = await clients("elb")
        try:
            answer = await elb.describe_load_balancers(LoadBalancerNames=[resource_id])
        except Exception as exc:
            if self.is_gone(exc):
                return None
            raise
        balancers = answer.get("LoadBalancerDescriptions") or []
        if not balancers:
            return None
        return await _enrich(elb, balancers[0], await _tags(elb, [resource_id]))

    def observe(self, raw: Mapping[str, Any]) -> Observation:
        tags = dict(raw.get("Tags", {}))
        facts: dict[str, FactValue] = {
            "name": raw["LoadBalancerName"],
            "scheme": raw.get("Scheme"),
            "dns_name": raw.get("DNSName"),
            "vpc_id": raw.get("VPCId"),
            "listener_count": len(raw.get("ListenerDescriptions", [])),
            "instances": len(raw.get("Instances", [])),
            "healthy_instances": int(raw.get("HealthyInstances", 0)),
        }
        return Observation(raw["LoadBalancerName"], facts, tags, raw.get("CreatedTime"))

    def price(self, observation: Observation, rates: Rates) -> Priced:
        return Priced(
            [rates.line("Classic Load Balancer hours", rates.hours_per_month, "hour", "elb.classic.hour")],
            note="data processed per GB is not estimated: an idle load balancer processes close to none",
        )

    def details(self, facts: Mapping[str, FactValue]) -> str:
        return f"classic {facts.get('name')}, {facts.get('instances')} instance(s)"

    async def seed(self, estate: Estate) -> None:
        """Idle with no instance behind it (`no-instances`), busy (an instance and requests), too young."""
        elb = await estate.clients("elb")
        listeners = [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}]

        async def balancer(name: str, expect: Expectation, *, instance: bool = False) -> str:
            await elb.create_load_balancer(
                LoadBalancerName=name, Listeners=listeners, AvailabilityZones=[estate.zone]
            )
            if instance:
                await elb.register_instances_with_load_balancer(
                    LoadBalancerName=name, Instances=[{"InstanceId": estate.instance_id}]
                )
            if expect != "too-young":
                estate.backdate("elb:load_balancers", name, "created_time", estate.old)
            estate.add(self.name, name, expect, name=name)
            return name

        await balancer("legacy-api-elb", "idle")
        busy = await balancer("intranet-elb", "busy", instance=True)
        await balancer("fresh-elb", "too-young")
        cloudwatch = await estate.clients("cloudwatch")
        await cloudwatch.put_metric_data(
            Namespace=REQUESTS.namespace,
            MetricData=[
                {
                    "MetricName": REQUESTS.name,
                    "Dimensions": [{"Name": REQUESTS.dimension, "Value": busy}],
                    "Timestamp": estate.now - timedelta(days=4),
                    "Value": 950,
                }
            ],
        )


async def _tags(elb: Any, names: Sequence[str]) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    for start in range(0, len(names), _TAGS_PER_CALL):
        answer = await elb.describe_tags(LoadBalancerNames=list(names[start : start + _TAGS_PER_CALL]))
        for description in answer.get("TagDescriptions", []):
            found = description.get("Tags", [])
            tags[description["LoadBalancerName"]] = {t["Key"]: t.get("Value", "") for t in found}
    return tags


async def _enrich(
    elb: Any, balancer: Mapping[str, Any], tags: Mapping[str, dict[str, str]]
) -> dict[str, Any]:
    name = balancer["LoadBalancerName"]
    healthy = 0
    if balancer.get("Instances"):
        health = await elb.describe_instance_health(LoadBalancerName=name)
        healthy = sum(1 for state in health.get("InstanceStates", []) if state.get("State") == "InService")
    return {**balancer, "Tags": tags.get(name, {}), "HealthyInstances": healthy}


# What a missing datapoint means: "Elastic Load Balancing reports metrics to CloudWatch only when
# requests are flowing through the load balancer ... If there are no requests flowing through the load
# balancer or no data for a metric, the metric is not reported." (CloudWatch metrics for your Classic
# Load Balancer, docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-cloudwatch-metrics.html).
# So a missing datapoint is zero. RequestCount counts HTTP requests, or connections on TCP listeners.
REQUESTS = Metric("AWS/ELB", "RequestCount", "Sum", "LoadBalancerName", missing_means_zero=True)
