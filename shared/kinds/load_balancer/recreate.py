"""The undo of a deleted ALB/NLB: recreated from the configuration its remedy recorded (remedies.py),
its listeners with their rules and certificates (listeners.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shared.aws import is_error
from shared.kinds.base import Clients, Refused, Restored, UndoJob
from shared.kinds.load_balancer import listeners
from shared.kinds.load_balancer.kind import LoadBalancer


async def recreate(clients: Clients, job: UndoJob) -> Restored | Refused:
    """The same name, type, scheme, subnets, security groups, target groups it alone used (health
    checks, targets) and listeners (rules, certificates) pointed at them; a new ARN and DNS name.
    What an earlier attempt made (found by name, by port, by priority) is reused."""
    raw = job.record.get("configuration")
    if not raw:
        return Refused("the load balancer's configuration was not recorded: nothing to recreate it from")
    config = json.loads(str(raw))
    elbv2 = await clients("elbv2")
    arn = await _recreate_balancer(elbv2, config, job)
    groups = {g["TargetGroupArn"]: await _recreate_group(elbv2, g, job) for g in config["TargetGroups"]}
    await listeners.recreate(elbv2, arn, config["Listeners"], groups, job)
    return Restored("recreate_load_balancer", arn, {"old_dns_name": job.record.get("dns_name")})


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
