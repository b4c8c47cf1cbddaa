"""Delete a NAT gateway, wait until it is deleted, then release its Elastic IP(s) (`delete`) or keep
them (`delete-keep-address`: the card's second choice, the proposed one when the gateway carries the
`cloudthrift:keep-address` tag; `delete` keeps them too on a tagged gateway).

The wait for `deleted` (about a minute on AWS) is bounded by the executor's wait setting; past it the
delivery is retried, finds the gateway `deleting`/`deleted` and `leftovers` finishes: wait, then
release. Undo (`Delete.restore`, recreate.py): a new gateway in the same subnet with the kept address
(tag the gateway `cloudthrift:keep-address`), or a new address when it was released (the public IP
changes), and the recorded routes pointed at it.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from shared.aws import is_error
from shared.events import CostLine
from shared.kinds.base import (
    Clients,
    Done,
    Job,
    Observation,
    Remedy,
    Restored,
    UndoJob,
    expect_dry_run_ok,
)
from shared.kinds.nat_gateway.kind import KEEP_ADDRESS_TAG, SEP, NatGateway
from shared.kinds.nat_gateway.recreate import recreate
from shared.kinds.pricing import Rates, line

_WAIT_DELAY_SECONDS = 15  # botocore's own delay for nat_gateway_deleted


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
    # Keeps the address whatever the gateway's tags say (`delete-keep-address`).
    always_keeps_address: ClassVar[bool] = False

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
        for allocation_id in self._released(job):
            await expect_dry_run_ok(ec2.release_address(AllocationId=allocation_id, DryRun=True))
        return Done(self.action, keeps_snapshot=self._keeps_billed(job), record=self._record(job))

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
        for allocation_id in self._released(job):
            await job.guard()
            try:
                await ec2.release_address(AllocationId=allocation_id)
            except Exception as exc:
                if not is_error(exc, "InvalidAllocationID.NotFound"):
                    raise  # InUse: still detaching; the retry resumes
        return Done(
            self.action,
            keeps_snapshot=self._keeps_billed(job),
            already_gone=already_gone,
            record=self._record(job),
        )

    async def restore(self, clients: Clients, job: UndoJob) -> Restored:
        """A new gateway in the recorded subnet (a new id) with the kept address, or a new one when it
        was released (the public IP changes), its tags, and the recorded routes pointed at it. An
        earlier attempt's gateway and address (tagged with the decision) are reused."""
        return await recreate(clients, job)

    def _kept(self, job: Job) -> bool:
        return self.always_keeps_address or KEEP_ADDRESS_TAG in job.tags

    def _keeps_billed(self, job: Job) -> bool:
        """A kept address stays billed: the executor subtracts the remedy's residual from the saving
        (`Done.keeps_snapshot` means "keeps something billed", as for gp2 to gp3)."""
        return self._kept(job) and bool(_allocations(job))

    def _released(self, job: Job) -> list[str]:
        return [] if self._kept(job) else _allocations(job)

    def _record(self, job: Job) -> dict[str, Any]:
        kept = "kept_allocation_ids" if self._kept(job) else "released_allocation_ids"
        return {
            "subnet_id": job.facts.get("subnet_id"),
            "routes": job.facts.get("routes"),
            "public_ips": job.facts.get("public_ips"),
            kept: SEP.join(_allocations(job)) or None,
        }


@NatGateway.remedy("delete-keep-address")
class DeleteKeepAddress(Delete):
    """The gateway goes, its Elastic IP(s) stay allocated: billed by the public IPv4 hour, but an undo
    gets the same public IP back (allow-lists that name it keep working)."""

    action = "delete_nat_gateway_keep_address"
    summary = "delete the NAT gateway, wait until it is deleted, and keep its Elastic IP(s) allocated"
    undo = (
        "create a NAT gateway in the recorded subnet with the kept Elastic IP (a new id, the same public "
        "IP) and point the recorded routes at it"
    )
    always_keeps_address = True

    def residual(self, observation: Observation, rates: Rates) -> CostLine | None:
        """Each kept address bills its public IPv4 hour."""
        count = int(observation.facts.get("address_count") or 0)
        if not count:
            return None
        hours = rates.hours_per_month * count
        return line("kept public IPv4 address hours", hours, "hour", rates["vpc.public_ipv4.hour"])


def _allocations(job: Job) -> list[str]:
    return [a for a in str(job.facts.get("allocation_ids") or "").split(SEP) if a]
