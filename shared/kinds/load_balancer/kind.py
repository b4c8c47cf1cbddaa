"""Application and Network Load Balancers (elbv2): how to list, describe, read, price and seed them,
and the CloudWatch metrics their usage is read from. Gateway Load Balancers are not listed (other
metrics, other economics). Classic ones are `classic_load_balancer/`.
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

SEP = ", "
_TYPES = ("application", "network")
_TAGS_PER_CALL = 20  # DescribeTags takes up to 20 ARNs


# What a protected load balancer's card says instead of offering a clean-up (`Check.withheld`).
PROTECTED = (
    "deletion protection is on, so no clean-up is offered: to have it deleted, turn it off "
    "(deletion_protection.enabled=false) and snooze this card; once the snooze ends a scan offers "
    "its deletion. Reject to stop hearing about it."
)


def protection_withheld(observation: Observation) -> str | None:
    """Its owner turned deletion protection on: CloudThrift reports it, never offers to delete it."""
    return PROTECTED if observation.facts.get("deletion_protection") else None


def metric_dimension(arn: str) -> str:
    """CloudWatch's LoadBalancer dimension: the ARN's final part, `app/<name>/<id>` or `net/...`."""
    return arn.split(":loadbalancer/", 1)[-1]


@register
class LoadBalancer(Kind):
    name = "load-balancer"
    service = "elbv2"
    summary = "Application or Network Load Balancer"
    permissions = (
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeRules",
    )
    gone_codes = frozenset({"LoadBalancerNotFound"})
    gemini_facts = frozenset(
        {
            "type",
            "scheme",
            "deletion_protection",
            "target_group_count",
            "healthy_targets",
            "registered_targets",
            "answers_by_itself",
            "name",
        }
    )
    dimensions = ("elb.application.hour", "elb.network.hour")

    async def list(
        self, clients: Clients, filters: tuple[Mapping[str, Any], ...]
    ) -> AsyncIterator[Mapping[str, Any]]:
        elbv2 = await clients("elbv2")
        groups = await _target_groups(elbv2)
        async for page in elbv2.get_paginator("describe_load_balancers").paginate():
            balancers = [b for b in page.get("LoadBalancers", []) if b.get("Type") in _TYPES]
            tags = await _tags(elbv2, [b["LoadBalancerArn"] for b in balancers])
            for balancer in balancers:
                yield await _enrich(elbv2, balancer, tags, groups)

    async def describe(self, clients: Clients, resource_id: str) -> Mapping[str, Any] | None:
        elbv2 = await clients("elbv2")
        try:
            answer = await elbv2.describe_load_balancers(LoadBalancerArns=[resource_id])
        except Exception as exc:
            if self.is_gone(exc):
                return None
            raise
        balancers = answer.get("LoadBalancers") or []
        if not balancers:
            return None
        tags = await _tags(elbv2, [resource_id])
        return await _enrich(elbv2, balancers[0], tags, await _target_groups(elbv2))

    def observe(self, raw: Mapping[str, Any]) -> Observation:
        tags = dict(raw.get("Tags", {}))
        arn = str(raw["LoadBalancerArn"])
        groups: list[Mapping[str, Any]] = raw.get("TargetGroups", [])
        exclusive = [g["TargetGroupArn"] for g in groups if list(g.get("LoadBalancerArns", [])) == [arn]]
        facts: dict[str, FactValue] = {
            "name": raw.get("LoadBalancerName"),
            "type": raw.get("Type"),
            "scheme": raw.get("Scheme"),
            "dns_name": raw.get("DNSName"),
            "vpc_id": raw.get("VpcId"),
            "metric_dimension": metric_dimension(arn),
            "deletion_protection": bool(raw.get("DeletionProtection")),
            "target_group_count": len(groups),
            "exclusive_target_groups": SEP.join(exclusive) or None,
            "healthy_targets": int(raw.get("HealthyTargets", 0)),
            "registered_targets": int(raw.get("RegisteredTargets", 0)),
            "answers_by_itself": raw.get("AnswersByItself"),
        }
        return Observation(arn, facts, tags, raw.get("CreatedTime"))

    def price(self, observation: Observation, rates: Rates) -> Priced:
        kind = str(observation.facts.get("type"))
        return Priced(
            [rates.line(f"{kind} load balancer hours", rates.hours_per_month, "hour", f"elb.{kind}.hour")],
            note="capacity units (LCU/NLCU) are not estimated: an idle load balancer consumes close to none",
        )

    def details(self, facts: Mapping[str, FactValue]) -> str:
        protected = ", deletion protection" if facts.get("deletion_protection") else ""
        return f"{facts.get('type')} {facts.get('name')}{protected}"

    async def seed(self, estate: Estate) -> None:
        """Idle by usage (ELB publishes nothing without traffic): one with a registered target, one
        protected. Idle with nothing behind it: an NLB without target groups, and an ALB still
        called (clients get 503s) that forwards to an empty group. Busy: an ALB and an NLB with
        targets and traffic, and a redirector (HTTP to HTTPS) that needs no target at all."""
        elbv2, ec2 = await estate.clients("elbv2"), await estate.clients("ec2")
        subnet = (await ec2.describe_subnets(SubnetIds=[estate.subnet_id]))["Subnets"][0]
        vpc = subnet["VpcId"]
        others = await ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
        subnets = [s["SubnetId"] for s in others["Subnets"]][:2]

        async def balancer(name: str, kind: str, expect: Expectation, **tags: str) -> str:
            extra = {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} if tags else {}
            created = await elbv2.create_load_balancer(Name=name, Subnets=subnets, Type=kind, **extra)
            arn = str(created["LoadBalancers"][0]["LoadBalancerArn"])
            if expect != "too-young":
                estate.backdate("elbv2:load_balancers", arn, "created_time", estate.old)
            estate.add(self.name, arn, expect, name=name, type=kind)
            return arn

        async def forward(arn: str, group_name: str, *, target: bool, protocol: str = "HTTP") -> None:
            group = await elbv2.create_target_group(Name=group_name, Protocol=protocol, Port=80, VpcId=vpc)
            group_arn = group["TargetGroups"][0]["TargetGroupArn"]
            if target:
                await elbv2.register_targets(TargetGroupArn=group_arn, Targets=[{"Id": estate.instance_id}])
            await elbv2.create_listener(
                LoadBalancerArn=arn, Protocol=protocol, Port=80,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": group_arn}],
            )  # fmt: skip

        idle_alb = await balancer("old-campaign-alb", "application", "idle", team="marketing")
        await forward(idle_alb, "old-campaign-web", target=True)
        await balancer("poc-grpc-nlb", "network", "idle")
        protected = await balancer("payments-legacy-alb", "application", "idle")
        await elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=protected, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
        )
        orphaned = await balancer("legacy-api-alb", "application", "idle", team="platform")
        await forward(orphaned, "legacy-api-web", target=False)
        busy_alb = await balancer("shop-frontend-alb", "application", "busy")
        await forward(busy_alb, "shop-frontend-web", target=True)
        busy_nlb = await balancer("mqtt-ingest-nlb", "network", "busy")
        await forward(busy_nlb, "mqtt-ingest-tcp", target=True, protocol="TCP")
        redirector = await balancer("www-redirect-alb", "application", "busy")
        await elbv2.create_listener(
            LoadBalancerArn=redirector, Protocol="HTTP", Port=80,
            DefaultActions=[{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443",
                                                                    "StatusCode": "HTTP_301"}}],
        )  # fmt: skip
        await balancer("kept-alb", "application", "opted-out", **{"cloudthrift:keep": "seasonal"})
        await balancer("new-alb", "application", "too-young")
        cloudwatch = await estate.clients("cloudwatch")
        when = estate.now - timedelta(days=2)
        called = ((busy_alb, REQUESTS), (busy_nlb, NEW_FLOWS), (orphaned, REQUESTS), (redirector, REQUESTS))
        for arn, metric in called:
            await cloudwatch.put_metric_data(
                Namespace=metric.namespace,
                MetricData=[
                    {
                        "MetricName": metric.name,
                        "Dimensions": [{"Name": metric.dimension, "Value": metric_dimension(arn)}],
                        "Timestamp": when,
                        "Value": 4200,
                    }
                ],
            )


async def _target_groups(elbv2: Any) -> list[Mapping[str, Any]]:
    """Every target group of the region, once per listing (each names the load balancers using it)."""
    found: list[Mapping[str, Any]] = []
    async for page in elbv2.get_paginator("describe_target_groups").paginate():
        found.extend(page.get("TargetGroups", []))
    return found


async def _tags(elbv2: Any, arns: Sequence[str]) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), _TAGS_PER_CALL):
        answer = await elbv2.describe_tags(ResourceArns=list(arns[start : start + _TAGS_PER_CALL]))
        for description in answer.get("TagDescriptions", []):
            tags[description["ResourceArn"]] = {
                t["Key"]: t.get("Value", "") for t in description.get("Tags", [])
            }
    return tags


async def _enrich(
    elbv2: Any,
    balancer: Mapping[str, Any],
    tags: Mapping[str, dict[str, str]],
    groups: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The balancer plus what its facts need: tags, deletion protection, target groups, healthy targets."""
    arn = balancer["LoadBalancerArn"]
    attributes = await elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)
    protection = {a["Key"]: a["Value"] for a in attributes.get("Attributes", [])}
    mine = [g for g in groups if arn in g.get("LoadBalancerArns", [])]
    healthy = registered = 0
    for group in mine:
        health = await elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
        descriptions = health.get("TargetHealthDescriptions", [])
        registered += len(descriptions)
        healthy += sum(1 for d in descriptions if d.get("TargetHealth", {}).get("State") == "healthy")
    return {
        **balancer,
        "Tags": tags.get(arn, {}),
        "DeletionProtection": protection.get("deletion_protection.enabled") == "true",
        "TargetGroups": mine,
        "HealthyTargets": healthy,
        "RegisteredTargets": registered,
        # Read only for one with nothing behind it (the `no-targets` candidates): two more calls there.
        "AnswersByItself": await _answers_by_itself(elbv2, arn) if not registered else None,
    }


# Listener actions that answer a request without any target: an HTTP-to-HTTPS redirector or a
# maintenance page is a load balancer doing its job with no target group at all.
_SELF_ANSWERING = frozenset({"redirect", "fixed-response"})


async def _answers_by_itself(elbv2: Any, arn: str) -> bool:
    """Whether a listener's default action or one of its rules redirects or answers a fixed response."""
    listeners = (await elbv2.describe_listeners(LoadBalancerArn=arn)).get("Listeners", [])
    for listener in listeners:
        actions = list(listener.get("DefaultActions", []))
        if listener.get("Protocol") in ("HTTP", "HTTPS"):  # NLB listeners have no rules
            rules = await elbv2.describe_rules(ListenerArn=listener["ListenerArn"])
            actions += [a for rule in rules.get("Rules", []) for a in rule.get("Actions", [])]
        if any(action.get("Type") in _SELF_ANSWERING for action in actions):
            return True
    return False


# What a missing datapoint means: "Elastic Load Balancing reports metrics to CloudWatch only when
# requests are flowing through the load balancer ... If there are no requests flowing through the load
# balancer or no data for a metric, the metric is not reported." (CloudWatch metrics for your
# Application / Network Load Balancer, docs.aws.amazon.com/elasticloadbalancing/latest/application/
# load-balancer-cloudwatch-metrics.html and .../network/load-balancer-cloudwatch-metrics.html). So a
# missing datapoint is zero. An ALB has no AWS/NetworkELB data and an NLB none in AWS/ApplicationELB:
# each reads 0 there, and one check covers both types (one query per metric and balancer).
REQUESTS = Metric("AWS/ApplicationELB", "RequestCount", "Sum", "LoadBalancer", True, "metric_dimension")
NEW_FLOWS = Metric("AWS/NetworkELB", "NewFlowCount", "Sum", "LoadBalancer", True, "metric_dimension")
ACTIVE_FLOWS = Metric(
    "AWS/NetworkELB", "ActiveFlowCount", "Maximum", "LoadBalancer", True, "metric_dimension"
)


def named(facts: Mapping[str, Any]) -> str:
    """ "Application load balancer 'web' (internet-facing)", as the cards and the analysis name it; a
    scheme AWS did not report is left out rather than shown as "(None)"."""
    scheme = f" ({facts['scheme']})" if facts.get("scheme") else ""
    return f"{str(facts.get('type')).capitalize()} load balancer {str(facts.get('name'))[:60]!r}{scheme}"
