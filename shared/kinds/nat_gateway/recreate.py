"""The undo of a deleted NAT gateway: a new one in the recorded subnet (remedies.py)."""

from __future__ import annotations

from typing import Any

from shared.aws import is_error
from shared.kinds.base import Clients, Restored, UndoJob, tags_of
from shared.kinds.nat_gateway.kind import SEP


async def recreate(clients: Clients, job: UndoJob) -> Restored:
    """A new gateway in the recorded subnet (a new id) with the kept address, or a new one when it
    was released (the public IP changes), its tags, and the recorded routes pointed at it. An
    earlier attempt's gateway and address (tagged with the decision) are reused."""
    ec2 = await clients("ec2")
    subnet = str(job.record.get("subnet_id") or job.facts.get("subnet_id"))
    kept = [a for a in str(job.record.get("kept_allocation_ids") or "").split(SEP) if a]
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
    routes = [r for r in str(job.record.get("routes") or "").split(SEP) if r]
    for route in routes:
        table, destination = route.split(" ", 1)
        await job.guard()
        try:
            await ec2.replace_route(RouteTableId=table, DestinationCidrBlock=destination, NatGatewayId=new_id)
        except Exception as exc:
            if not is_error(exc, "InvalidRoute.NotFound"):
                raise
            await ec2.create_route(RouteTableId=table, DestinationCidrBlock=destination, NatGatewayId=new_id)
    return Restored(
        "recreate_nat_gateway",
        new_id,
        {"allocation_id": allocation, "same_address": bool(kept), "routes": SEP.join(routes) or None},
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
