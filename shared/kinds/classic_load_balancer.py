"""Classic Load Balancers (elb) that served no request over the usage window. Remedy: delete it, after
recording its configuration (scheme, subnets, security groups, listeners, health check, instances) so an
undo can recreate it; the DNS name changes. Classic Load Balancers have no deletion protection.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timedelta
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
    Refused,
    Remedy,
    Restored,
    UndoJob,
    Usage,
)
from shared.kinds.estate import Estate, Expectation
from shared.kinds.pricing import Rates, line
from shared.kinds.signals import Signals

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
        hourly = rates["elb.classic.hour"]
        return Priced(
            [line("Classic Load Balancer hours", rates.hours_per_month, "hour", hourly)],
            note="data processed per GB is not estimated: an idle load balancer processes close to none",
        )

    def details(self, facts: Mapping[str, FactValue]) -> str:
        return f"classic {facts.get('name')}, {facts.get('instances')} instance(s)"

    async def seed(self, estate: Estate) -> None:
        """One idle, one busy (with requests), one too young."""
        elb = await estate.clients("elb")
        listeners = [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}]

        async def balancer(name: str, expect: Expectation) -> str:
            await elb.create_load_balancer(
                LoadBalancerName=name, Listeners=listeners, AvailabilityZones=[estate.zone]
            )
            if expect != "too-young":
                estate.backdate("elb:load_balancers", name, "created_time", estate.old)
            estate.add(self.name, name, expect, name=name)
            return name

        await balancer("legacy-api-elb", "idle")
        busy = await balancer("intranet-elb", "busy")
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


@ClassicLoadBalancer.check("no-requests")
class NoRequests(Check):
    summary = "no request or connection over the window, yet billed hourly"
    metrics = (REQUESTS,)
    window = timedelta(days=32)  # as for ALB/NLB: a monthly job behind it is use
    permissions = ("cloudwatch:GetMetricData",)
    remedies = ("delete",)

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        if usage is None or not usage.known() or usage.values.get(REQUESTS.name):
            return None
        return f"no traffic: {usage.values[REQUESTS.name]:,.0f} requests over {usage.window.days} days"

    def busy_reason(self, observation: Observation) -> str:
        return "the load balancer served requests within the window since it was reported"

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        facts = finding.facts
        healthy = int(facts.get("healthy_instances") or 0)
        summary = (
            f"Classic Load Balancer {str(facts.get('name'))[:60]!r} ({facts.get('scheme')}) in "
            f"{finding.key.region}, {idle_text(finding, now)}: {finding.idle_reason}. It costs "
            f"{usd(finding.cost.monthly_usd)}/month. It has {facts.get('instances')} registered instance(s), "
            f"{healthy} in service. Deleting it frees its DNS name: a recreated one gets a new name."
        )
        cause = "The application behind it was retired or moved to a newer load balancer"
        risk: Risk
        recommendation: Recommendation
        if s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif s.prod:
            risk, reason, recommendation = "high", f"production ({s.prod}): check DNS records", "investigate"
        elif healthy:
            risk, recommendation = "medium", "investigate"
            reason = f"{healthy} instance(s) in service: check that no DNS record points at it"
        else:
            risk, reason, recommendation = "low", "no traffic and no instance in service", "delete"
        return Advice(clip(summary, 700), cause, risk, clip(reason, 300), recommendation, confidence(s, risk))


@ClassicLoadBalancer.remedy("delete")
class Delete(Remedy):
    action = "delete_classic_load_balancer"
    summary = "record its configuration, then delete the load balancer"
    permissions = ("elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DeleteLoadBalancer",
                   # the undo
                   "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:ConfigureHealthCheck",
                   "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
                   "elasticloadbalancing:AddTags")  # fmt: skip
    undo = (
        "recreate it from the recorded configuration (scheme, subnets, security groups, listeners, "
        "health check, instances); its DNS name will change"
    )

    async def apply(self, clients: Clients, job: Job) -> Done:
        elb = await clients("elb")
        record = await _configuration(elb, job)
        await job.guard()
        try:
            await elb.delete_load_balancer(LoadBalancerName=job.resource_id)
        except Exception as exc:
            if not is_error(exc, *ClassicLoadBalancer.gone_codes):
                raise
            return Done(self.action, already_gone=True, record=record)
        return Done(self.action, record=record)

    async def rehearse(self, clients: Clients, job: Job) -> Done:
        """Elastic Load Balancing has no DryRun: read what the real run reads, and say what it would do."""
        return Done(self.action, record=await _configuration(await clients("elb"), job))

    async def restore(self, clients: Clients, job: UndoJob) -> Restored | Refused:
        """The same name, listeners, placement, security groups, health check, instances and tags; a
        new DNS name. One of that name that exists already (a resumed undo) is configured, not made."""
        raw = job.record.get("configuration")
        if not raw:
            return Refused("the load balancer's configuration was not recorded: nothing to recreate it from")
        config = json.loads(str(raw))
        elb = await clients("elb")
        name = str(config["LoadBalancerName"])
        listeners = [d["Listener"] for d in config.get("ListenerDescriptions") or []]
        placement: dict[str, Any] = (
            {"Subnets": config["Subnets"], "SecurityGroups": config.get("SecurityGroups") or []}
            if config.get("Subnets")
            else {"AvailabilityZones": config.get("AvailabilityZones") or []}
        )
        tags = [
            {"Key": k, "Value": v} for k, v in (config.get("Tags") or {}).items() if not k.startswith("aws:")
        ]
        await job.guard()
        try:
            created = await elb.create_load_balancer(
                LoadBalancerName=name,
                Listeners=listeners,
                Scheme=str(config.get("Scheme") or "internet-facing"),
                **placement,
                **({"Tags": tags} if tags else {}),
            )
            dns = created.get("DNSName")
        except Exception as exc:
            if not is_error(exc, "DuplicateLoadBalancerName", "DuplicateAccessPointName"):
                raise
            dns = None  # an earlier attempt made it: configure it below
        if config.get("HealthCheck"):
            await elb.configure_health_check(LoadBalancerName=name, HealthCheck=config["HealthCheck"])
        missing = await _register(elb, name, [i["InstanceId"] for i in config.get("Instances") or []])
        record = {"old_dns_name": job.record.get("dns_name"), "dns_name": dns, "instances_gone": missing}
        return Restored("recreate_classic_load_balancer", name, record)


async def _register(elb: Any, name: str, instances: list[str]) -> list[str]:
    """Register the recorded instances one by one; those that no longer exist are returned, not fatal."""
    missing = []
    for instance_id in instances:
        try:
            await elb.register_instances_with_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": instance_id}]
            )
        except Exception as exc:
            if not is_error(exc, "InvalidInstance", "InvalidInstanceID.NotFound"):
                raise
            missing.append(instance_id)
    return missing


async def _configuration(elb: Any, job: Job) -> dict[str, Any]:
    """What an undo needs, recorded with the decision before the load balancer is deleted."""
    answer = await elb.describe_load_balancers(LoadBalancerNames=[job.resource_id])
    balancer = answer["LoadBalancerDescriptions"][0]
    keep = ("LoadBalancerName", "Scheme", "Subnets", "AvailabilityZones", "SecurityGroups", "HealthCheck",
            "ListenerDescriptions", "Instances")  # fmt: skip
    configuration = {key: balancer.get(key) for key in keep} | {"Tags": dict(job.tags)}
    return {
        "dns_name": job.facts.get("dns_name"),
        "configuration": json.dumps(configuration, default=str, sort_keys=True),
    }
