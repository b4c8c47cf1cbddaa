"""The `delete` remedy of Classic Load Balancers: record the configuration (scheme, subnets, security
groups, listeners, health check, instances) so an undo can recreate it, then delete it; the DNS name
changes."""

from __future__ import annotations

import json
from typing import Any

from shared.aws import is_error
from shared.kinds.base import Clients, Done, Job, Refused, Remedy, Restored, UndoJob
from shared.kinds.classic_load_balancer.kind import ClassicLoadBalancer


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
