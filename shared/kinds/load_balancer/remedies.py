"""Delete a load balancer, then the target groups only it used; refused under deletion protection.

A load balancer with deletion protection is reported as such (a fact, and the card's analysis says
so) but never deleted: the remedy refuses it, in a dry run as for real. AWS refuses too; moto does not
(it deletes a protected one), so the refusal is ours, read from the attributes right before acting.

Undo: recreate it from the configuration recorded with the decision (scheme, subnets, security groups,
listeners with their default actions, rules and certificates, target groups with health checks and targets).
The DNS name changes: the card says so. Listener rules beyond the default action and additional
(SNI) certificates are recorded and recreated too (listeners.py).
"""

from __future__ import annotations

import json
from typing import Any

from shared.aws import is_error
from shared.kinds.base import Clients, Done, Job, Refused, Remedy, Restored, UndoJob
from shared.kinds.load_balancer import listeners
from shared.kinds.load_balancer.kind import SEP, LoadBalancer
from shared.kinds.load_balancer.recreate import recreate


@LoadBalancer.remedy("delete")
class Delete(Remedy):
    action = "delete_load_balancer"
    summary = (
        "delete the load balancer (refused when deletion protection is on), then the target groups "
        "only it used"
    )
    permissions = (
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeListenerCertificates",
        "elasticloadbalancing:DeleteLoadBalancer",
        "elasticloadbalancing:DeleteTargetGroup",
        # the undo
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:RegisterTargets",
        "elasticloadbalancing:CreateListener",
        "elasticloadbalancing:CreateRule",
        "elasticloadbalancing:AddListenerCertificates",
        "elasticloadbalancing:AddTags",
    )
    undo = (
        "recreate it from the recorded configuration (scheme, subnets, security groups, listeners with "
        "their rules and certificates, target groups with health checks and targets); its DNS name "
        "will change"
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
        checks, targets) and listeners pointed at them; a new ARN and DNS name (recreate.py)."""
        return await recreate(clients, job)


async def _protected(elbv2: Any, job: Job) -> Refused | None:
    answer = await elbv2.describe_load_balancer_attributes(LoadBalancerArn=job.resource_id)
    values = {a["Key"]: a["Value"] for a in answer.get("Attributes", [])}
    if values.get("deletion_protection.enabled") == "true":
        return Refused("deletion protection is on: CloudThrift does not delete a protected load balancer")
    return None


def _exclusive(job: Job) -> list[str]:
    return [g for g in str(job.facts.get("exclusive_target_groups") or "").split(SEP) if g]


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
        "deleted_target_groups": SEP.join(_exclusive(job)) or None,
        "dns_name": job.facts.get("dns_name"),
    }


async def _configuration(elbv2: Any, job: Job) -> dict[str, Any]:
    """What an undo needs, recorded with the decision before anything is deleted."""
    balancer = (await elbv2.describe_load_balancers(LoadBalancerArns=[job.resource_id]))["LoadBalancers"][0]
    groups = []
    for arn in _exclusive(job):
        found = (await elbv2.describe_target_groups(TargetGroupArns=[arn]))["TargetGroups"][0]
        health = await elbv2.describe_target_health(TargetGroupArn=arn)
        targets = [d["Target"] for d in health.get("TargetHealthDescriptions", [])]
        groups.append({**listeners.plain(found), "Targets": targets})
    configuration = {
        "Name": balancer.get("LoadBalancerName"),
        "Type": balancer.get("Type"),
        "Scheme": balancer.get("Scheme"),
        "Subnets": [z.get("SubnetId") for z in balancer.get("AvailabilityZones", [])],
        "SecurityGroups": balancer.get("SecurityGroups", []),
        "IpAddressType": balancer.get("IpAddressType"),
        "Listeners": await listeners.record(elbv2, job.resource_id),
        "TargetGroups": groups,
        "Tags": dict(job.tags),
    }
    return {**_groups_record(job), "configuration": json.dumps(configuration, default=str, sort_keys=True)}
