"""Application and Network Load Balancers (elbv2) that served no request / flow over the usage window.
Remedy: delete it, then the target groups only it used. Classic ones are `classic_load_balancer.py`.

A load balancer with deletion protection is reported as such (a fact, and the card's analysis says
so) but never deleted: the remedy refuses it, in a dry run as for real. AWS refuses too; moto does not
(it deletes a protected one), so the refusal is ours, read from the attributes right before acting.
Gateway Load Balancers are not listed (other metrics, other economics).

Undo: recreate it from the configuration recorded with the decision (scheme, subnets, security groups,
listeners with their certificates and default actions, target groups with health checks and targets).
The DNS name changes: the card says so. Listener rules beyond the default action are not recorded yet,
so they are not recreated either.
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

_SEP = ", "
_TYPES = ("application", "network")
_TAGS_PER_CALL = 20  # DescribeTags takes up to 20 ARNs


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
    )
    gone_codes = frozenset({"LoadBalancerNotFound"})
    gemini_facts = frozenset(
        {"type", "scheme", "deletion_protection", "target_group_count", "healthy_targets", "name"}
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
            "exclusive_target_groups": _SEP.join(exclusive) or None,
            "healthy_targets": int(raw.get("HealthyTargets", 0)),
        }
        return Observation(arn, facts, tags, raw.get("CreatedTime"))

    def price(self, observation: Observation, rates: Rates) -> Priced:
        kind = str(observation.facts.get("type"))
        return Priced(
            [line(f"{kind} load balancer hours", rates.hours_per_month, "hour", rates[f"elb.{kind}.hour"])],
            note="capacity units (LCU/NLCU) are not estimated: an idle load balancer consumes close to none",
        )

    def details(self, facts: Mapping[str, FactValue]) -> str:
        protected = ", deletion protection" if facts.get("deletion_protection") else ""
        return f"{facts.get('type')} {facts.get('name')}{protected}"

    async def seed(self, estate: Estate) -> None:
        """Idle ones (no requests/flows: ELB publishes nothing then), one protected, a busy ALB and NLB
        with datapoints, and an idle one with a healthy target (idle by usage all the same)."""
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

        idle_alb = await balancer("old-campaign-alb", "application", "idle", team="marketing")
        group = await elbv2.create_target_group(Name="old-campaign-web", Protocol="HTTP", Port=80, VpcId=vpc)
        group_arn = group["TargetGroups"][0]["TargetGroupArn"]
        await elbv2.register_targets(TargetGroupArn=group_arn, Targets=[{"Id": estate.instance_id}])
        await elbv2.create_listener(
            LoadBalancerArn=idle_alb, Protocol="HTTP", Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group_arn}],
        )  # fmt: skip
        await balancer("poc-grpc-nlb", "network", "idle")
        protected = await balancer("payments-legacy-alb", "application", "idle")
        await elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=protected, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
        )
        busy_alb = await balancer("shop-frontend-alb", "application", "busy")
        busy_nlb = await balancer("mqtt-ingest-nlb", "network", "busy")
        await balancer("kept-alb", "application", "opted-out", **{"cloudthrift:keep": "seasonal"})
        await balancer("new-alb", "application", "too-young")
        cloudwatch = await estate.clients("cloudwatch")
        when = estate.now - timedelta(days=2)
        for arn, metric in ((busy_alb, REQUESTS), (busy_nlb, NEW_FLOWS)):
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
    healthy = 0
    for group in mine:
        health = await elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
        healthy += sum(
            1
            for d in health.get("TargetHealthDescriptions", [])
            if d.get("TargetHealth", {}).get("State") == "healthy"
        )
    return {
        **balancer,
        "Tags": tags.get(arn, {}),
        "DeletionProtection": protection.get("deletion_protection.enabled") == "true",
        "TargetGroups": mine,
        "HealthyTargets": healthy,
    }


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


@LoadBalancer.check("no-requests")
class NoRequests(Check):
    summary = "no request (ALB) or flow (NLB) over the window, yet billed hourly"
    metrics = (REQUESTS, NEW_FLOWS, ACTIVE_FLOWS)
    # A monthly job (billing run, month-end report) behind a load balancer is use: a month and a bit.
    window = timedelta(days=32)
    permissions = ("cloudwatch:GetMetricData",)
    remedies = ("delete",)

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        if usage is None or not usage.known() or any(usage.values.values()):
            return None
        values, days = usage.values, usage.window.days
        if observation.facts.get("type") == "network":
            flows, active = values["NewFlowCount"], values["ActiveFlowCount"]
            numbers = f"{flows:,.0f} new flows, {active:,.0f} active flows (peak)"
        else:
            numbers = f"{values['RequestCount']:,.0f} requests"
        reason = f"no traffic: {numbers} over {days} days"
        if observation.facts.get("deletion_protection"):
            reason += "; deletion protection is on: CloudThrift will not delete it"
        return reason

    def busy_reason(self, observation: Observation) -> str:
        return "the load balancer served traffic within the window since it was reported"

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        facts = finding.facts
        protected = bool(facts.get("deletion_protection"))
        healthy = int(facts.get("healthy_targets") or 0)
        summary = (
            f"{str(facts.get('type')).capitalize()} load balancer {str(facts.get('name'))[:60]!r} "
            f"({facts.get('scheme')}) in {finding.key.region}, {idle_text(finding, now)}: "
            f"{finding.idle_reason}. "
            f"It costs {usd(finding.cost.monthly_usd)}/month before capacity units. It has "
            f"{facts.get('target_group_count')} target group(s) and {healthy} healthy target(s). "
            "Deleting it frees its DNS name: a recreated one gets a new name."
        )
        cause = (
            "Its targets are healthy but nothing calls it: clients moved to another endpoint"
            if healthy
            else "The application behind it was retired and the load balancer left running"
        )
        risk: Risk
        recommendation: Recommendation
        if protected:
            risk, reason, recommendation = "high", "deletion protection is on: it will not be deleted", "keep"
        elif s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif s.prod:
            risk, reason, recommendation = "high", f"production ({s.prod}): check DNS records", "investigate"
        elif healthy:
            risk, recommendation = "medium", "investigate"
            reason = f"{healthy} healthy target(s) still registered: check that no DNS record points at it"
        else:
            risk, reason, recommendation = "low", "no traffic and no healthy target", "delete"
        return Advice(clip(summary, 700), cause, risk, clip(reason, 300), recommendation, confidence(s, risk))


@LoadBalancer.remedy("delete")
class Delete(Remedy):
    action = "delete_load_balancer"
    summary = (
        "delete the load balancer (refused when deletion protection is on), then the target groups "
        "only it used"
    )
    permissions = (
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DeleteLoadBalancer",
        "elasticloadbalancing:DeleteTargetGroup",
        # the undo
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:RegisterTargets",
        "elasticloadbalancing:CreateListener",
        "elasticloadbalancing:AddTags",
    )
    undo = (
        "recreate it from the recorded configuration (scheme, subnets, security groups, listeners, "
        "target groups with health checks and targets); its DNS name will change"
    )

    async def apply(self, clients: Clients, job: Job) -> Done | Refused:
        elbv2 = await clients("elbv2")
        if (refusal := await _protected(elbv2, job)) is not None:
            return refusal
        record = await _configuration(elbv2, job)
        await job.guard()
        try:
            await elbv2.delete_load_balancer(LoadBalancerArn=job.resource_id)
        except Exception as exc:
            if is_error(exc, "OperationNotPermitted"):
                return Refused("deletion protection is on (OperationNotPermitted)")
            if not is_error(exc, *LoadBalancer.gone_codes):
                raise
        await _delete_groups(elbv2, job)
        return Done(self.action, record=record)

    async def rehearse(self, clients: Clients, job: Job) -> Done | Refused:
        """Elastic Load Balancing has no DryRun: read what the real run reads, and say what it would do."""
        elbv2 = await clients("elbv2")
        if (refusal := await _protected(elbv2, job)) is not None:
            return refusal
        return Done(self.action, record=await _configuration(elbv2, job))

    async def leftovers(self, clients: Clients, job: Job) -> Done:
        """The load balancer is gone: finish deleting the target groups only it used."""
        await _delete_groups(await clients("elbv2"), job)
        return Done(self.action, already_gone=True, record=_groups_record(job))

    async def restore(self, clients: Clients, job: UndoJob) -> Restored | Refused:
        """The same name, type, scheme, subnets, security groups, target groups it alone used (health
        checks, targets) and listeners pointed at them; a new ARN and DNS name. What an earlier attempt
        made (found by name, by port) is reused."""
        raw = job.record.get("configuration")
        if not raw:
            return Refused("the load balancer's configuration was not recorded: nothing to recreate it from")
        config = json.loads(str(raw))
        elbv2 = await clients("elbv2")
        arn = await _recreate_balancer(elbv2, config, job)
        groups = {g["TargetGroupArn"]: await _recreate_group(elbv2, g, job) for g in config["TargetGroups"]}
        existing = await elbv2.describe_listeners(LoadBalancerArn=arn)
        ports = {listener["Port"] for listener in existing.get("Listeners", [])}
        for listener in config["Listeners"]:
            if listener["Port"] in ports:
                continue
            arguments = {k: listener[k] for k in _LISTENER_FIELDS if listener.get(k)}
            await job.guard()
            await elbv2.create_listener(
                LoadBalancerArn=arn, DefaultActions=_remapped(listener["DefaultActions"], groups), **arguments
            )
        return Restored("recreate_load_balancer", arn, {"old_dns_name": job.record.get("dns_name")})


_LISTENER_FIELDS = ("Protocol", "Port", "SslPolicy", "Certificates", "AlpnPolicy")
_GROUP_FIELDS = (
    "Protocol", "ProtocolVersion", "Port", "VpcId", "HealthCheckProtocol", "HealthCheckPort",
    "HealthCheckEnabled", "HealthCheckPath", "HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds",
    "HealthyThresholdCount", "UnhealthyThresholdCount", "Matcher", "TargetType", "IpAddressType",
)  # fmt: skip


async def _recreate_balancer(elbv2: Any, config: Mapping[str, Any], job: UndoJob) -> str:
    try:
        found = await elbv2.describe_load_balancers(Names=[config["Name"]])
        return str(found["LoadBalancers"][0]["LoadBalancerArn"])
    except Exception as exc:
        if not is_error(exc, *LoadBalancer.gone_codes):
            raise
    tags = [{"Key": k, "Value": v} for k, v in (config.get("Tags") or {}).items() if not k.startswith("aws:")]
    extra = {"SecurityGroups": config["SecurityGroups"]} if config.get("SecurityGroups") else {}
    await job.guard()
    created = await elbv2.create_load_balancer(
        Name=config["Name"],
        Subnets=config["Subnets"],
        # What was recorded, and AWS's own defaults (internet-facing, application) for what was not.
        **{k: config[k] for k in ("Scheme", "Type", "IpAddressType") if config.get(k)},
        **({"Tags": tags} if tags else {}),
        **extra,
    )
    return str(created["LoadBalancers"][0]["LoadBalancerArn"])


async def _recreate_group(elbv2: Any, group: Mapping[str, Any], job: UndoJob) -> str:
    """A deleted target group again (same name and settings), with its recorded targets registered."""
    try:
        found = await elbv2.describe_target_groups(Names=[group["TargetGroupName"]])
        arn = str(found["TargetGroups"][0]["TargetGroupArn"])
    except Exception as exc:
        if not is_error(exc, "TargetGroupNotFound"):
            raise
        await job.guard()
        settings = {k: group[k] for k in _GROUP_FIELDS if group.get(k) is not None}
        created = await elbv2.create_target_group(Name=group["TargetGroupName"], **settings)
        arn = str(created["TargetGroups"][0]["TargetGroupArn"])
    if group.get("Targets"):
        await elbv2.register_targets(TargetGroupArn=arn, Targets=group["Targets"])
    return arn


def _remapped(actions: list[dict[str, Any]], groups: Mapping[str, str]) -> list[dict[str, Any]]:
    """Listener actions with each deleted target group's ARN replaced by its recreated one."""
    out = []
    for action in actions:
        action = {k: v for k, v in action.items() if v not in (None, [], {})}
        if action.get("TargetGroupArn") in groups:
            action["TargetGroupArn"] = groups[action["TargetGroupArn"]]
        forward = action.get("ForwardConfig")
        if forward:
            action["ForwardConfig"] = {
                **forward,
                "TargetGroups": [
                    {**t, "TargetGroupArn": groups.get(t["TargetGroupArn"], t["TargetGroupArn"])}
                    for t in forward.get("TargetGroups", [])
                ],
            }
            if "TargetGroupArn" in action:
                action.pop("ForwardConfig")  # AWS takes one of the two
        out.append(action)
    return out


async def _protected(elbv2: Any, job: Job) -> Refused | None:
    answer = await elbv2.describe_load_balancer_attributes(LoadBalancerArn=job.resource_id)
    values = {a["Key"]: a["Value"] for a in answer.get("Attributes", [])}
    if values.get("deletion_protection.enabled") == "true":
        return Refused("deletion protection is on: CloudThrift does not delete a protected load balancer")
    return None


def _exclusive(job: Job) -> list[str]:
    return [g for g in str(job.facts.get("exclusive_target_groups") or "").split(_SEP) if g]


async def _delete_groups(elbv2: Any, job: Job) -> None:
    for group in _exclusive(job):
        await job.guard()
        try:
            await elbv2.delete_target_group(TargetGroupArn=group)
        except Exception as exc:
            if not is_error(exc, "TargetGroupNotFound"):
                raise  # ResourceInUse: listeners still going away; the retry resumes in `leftovers`


def _groups_record(job: Job) -> dict[str, Any]:
    return {
        "deleted_target_groups": _SEP.join(_exclusive(job)) or None,
        "dns_name": job.facts.get("dns_name"),
    }


async def _configuration(elbv2: Any, job: Job) -> dict[str, Any]:
    """What an undo needs, recorded with the decision before anything is deleted."""
    balancer = (await elbv2.describe_load_balancers(LoadBalancerArns=[job.resource_id]))["LoadBalancers"][0]
    listeners = (await elbv2.describe_listeners(LoadBalancerArn=job.resource_id)).get("Listeners", [])
    groups = []
    for arn in _exclusive(job):
        found = (await elbv2.describe_target_groups(TargetGroupArns=[arn]))["TargetGroups"][0]
        health = await elbv2.describe_target_health(TargetGroupArn=arn)
        targets = [d["Target"] for d in health.get("TargetHealthDescriptions", [])]
        groups.append({**_plain(found), "Targets": targets})
    configuration = {
        "Name": balancer.get("LoadBalancerName"),
        "Type": balancer.get("Type"),
        "Scheme": balancer.get("Scheme"),
        "Subnets": [z.get("SubnetId") for z in balancer.get("AvailabilityZones", [])],
        "SecurityGroups": balancer.get("SecurityGroups", []),
        "IpAddressType": balancer.get("IpAddressType"),
        "Listeners": [_plain(listener) for listener in listeners],
        "TargetGroups": groups,
        "Tags": dict(job.tags),
    }
    return {**_groups_record(job), "configuration": json.dumps(configuration, default=str, sort_keys=True)}


def _plain(record: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if not isinstance(value, datetime)}
