"""Unassociated Elastic IPs: release the address.

A released public IP cannot be recovered (the card says so before anyone approves); the ledger keeps
the public IP and the allocation id so the history still says which address it was. moto releases an
associated address without complaint (AWS refuses): the handler's re-check is what keeps it safe,
never AWS refusing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.executor.actions.base import RELEASE, Action, Done, Job, Refused, actions, expect_dry_run_ok
from services.scanner.resources import Observation
from shared.aws import is_error


def _target(resource_id: str) -> dict[str, str]:
    """VPC addresses are named by allocation id; EC2-Classic ones only had their public IP."""
    if resource_id.startswith("eipalloc-"):
        return {"AllocationId": resource_id}
    return {"PublicIp": resource_id}


@actions.register("elastic-ip")
class ReleaseAddress(Action):
    kind = "elastic-ip"
    permissions = ("ec2:DescribeAddresses", "ec2:ReleaseAddress")
    gone_codes = frozenset({"InvalidAllocationID.NotFound", "InvalidAddress.NotFound"})

    async def describe(self, client: Any, resource_id: str) -> Mapping[str, Any] | None:
        target = _target(resource_id)
        query = {"AllocationIds": [resource_id]} if "AllocationId" in target else {"PublicIps": [resource_id]}
        try:
            answer = await client.describe_addresses(**query)
        except Exception as exc:
            if self.is_gone(exc):
                return None
            raise
        addresses = answer.get("Addresses") or []
        return addresses[0] if addresses else None

    def busy_reason(self, observation: Observation) -> str:
        return "address is associated again: it is in use"

    async def apply(self, client: Any, job: Job) -> Done | Refused:
        await job.guard()
        try:
            await client.release_address(**_target(job.resource_id))
        except Exception as exc:
            if self.is_gone(exc):
                return Done(RELEASE, already_gone=True, record=self._record(job))
            if is_error(exc, "InvalidIPAddress.InUse"):
                return Refused("address was associated again while executing (InvalidIPAddress.InUse)")
            raise
        return Done(RELEASE, record=self._record(job))

    async def rehearse(self, client: Any, job: Job) -> Done:
        await expect_dry_run_ok(client.release_address(**_target(job.resource_id), DryRun=True))
        return Done(RELEASE, record=self._record(job))

    async def leftovers(self, client: Any, job: Job) -> Done:
        return Done(RELEASE, already_gone=True, record=self._record(job))

    @staticmethod
    def _record(job: Job) -> dict[str, Any]:
        return {
            "public_ip": job.facts.get("public_ip"),
            "allocation_id": job.facts.get("allocation_id") or job.resource_id,
        }
