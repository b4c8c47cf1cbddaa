"""Elastic IP addresses. Check: unassociated. Remedy: release (undone only if AWS still allows it).

"No InstanceId" is not the test: addresses on NAT gateways or bare network interfaces have no instance
and are in use. Only a missing AssociationId means idle. The ledger keeps the public IP, the allocation
id and the address's tags, so the history says which address it was and an undo can ask for it back:
AllocateAddress with `Address=` recovers a released public IP only while AWS has not given it to
another account (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/working-with-eips.html, "Recover
an Elastic IP address"); when AWS refuses, the undo fails with AWS's reason, said plainly. The card
says so before anyone approves. moto releases an associated address without complaint (AWS refuses):
the executor's re-check is what keeps it safe, never AWS refusing. moto also hands back any address
asked for (it never refuses a recovery): the refusal is tested with the error AWS answers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.aws import is_error
from shared.events import FactValue, Finding, Recommendation, Risk
from shared.kinds import register
from shared.kinds.advice import Advice, confidence, idle_days, idle_text, usd
from shared.kinds.base import (
    Check,
    Clients,
    Done,
    Job,
    Kind,
    Observation,
    Priced,
    Refused,
    Remedy,
    Restored,
    UndoJob,
    Usage,
    expect_dry_run_ok,
    tags_of,
)
from shared.kinds.estate import Estate, Expectation, tag_spec
from shared.kinds.pricing import Rates, line
from shared.kinds.signals import Signals


def _target(resource_id: str) -> dict[str, str]:
    """VPC addresses are named by allocation id; EC2-Classic ones only had their public IP."""
    if resource_id.startswith("eipalloc-"):
        return {"AllocationId": resource_id}
    return {"PublicIp": resource_id}


@register
class ElasticIp(Kind):
    name = "elastic-ip"
    summary = "Elastic IP address"
    permissions = ("ec2:DescribeAddresses",)
    gone_codes = frozenset({"InvalidAllocationID.NotFound", "InvalidAddress.NotFound"})
    # The address and its ids identify rather than describe: they never leave AWS.
    gemini_facts = frozenset({"domain", "network_border_group", "public_ipv4_pool", "associated", "name"})
    dimensions = ("vpc.public_ipv4.hour",)

    async def list(
        self, clients: Clients, filters: tuple[Mapping[str, Any], ...]
    ) -> AsyncIterator[Mapping[str, Any]]:
        # DescribeAddresses is not paginated and cannot filter on a missing association.
        answer = await (await clients("ec2")).describe_addresses(Filters=list(filters))
        for address in answer.get("Addresses", []):
            yield address

    async def describe(self, clients: Clients, resource_id: str) -> Mapping[str, Any] | None:
        target = _target(resource_id)
        query = {"AllocationIds": [resource_id]} if "AllocationId" in target else {"PublicIps": [resource_id]}
        try:
            answer = await (await clients("ec2")).describe_addresses(**query)
        except Exception as exc:
            if self.is_gone(exc):
                return None
            raise
        addresses = answer.get("Addresses") or []
        return addresses[0] if addresses else None

    def observe(self, raw: Mapping[str, Any]) -> Observation:
        tags = tags_of(raw)
        facts: dict[str, FactValue] = {
            "public_ip": raw.get("PublicIp"),
            "allocation_id": raw.get("AllocationId"),
            "domain": raw.get("Domain"),
            "network_border_group": raw.get("NetworkBorderGroup"),
            "public_ipv4_pool": raw.get("PublicIpv4Pool"),
            "associated": bool(raw.get("AssociationId")),
            "name": tags.get("Name"),
        }
        # The API does not say when an address was allocated.
        return Observation(raw.get("AllocationId") or raw["PublicIp"], facts, tags, None)

    def price(self, observation: Observation, rates: Rates) -> Priced:
        hours = Decimal(rates.hours_per_month)
        return Priced(
            [line("public IPv4 address", hours, "hour", rates["vpc.public_ipv4.hour"])],
            note="a released address can be recovered only while AWS has not reassigned it",
        )

    def details(self, facts: Mapping[str, FactValue]) -> str:
        return str(facts.get("public_ip"))

    async def seed(self, estate: Estate) -> None:
        ec2 = await estate.clients("ec2")

        async def address(tags: dict[str, str], expect: Expectation) -> str:
            allocated = await ec2.allocate_address(
                Domain="vpc", TagSpecifications=tag_spec("elastic-ip", tags)
            )
            estate.add(self.name, allocated["AllocationId"], expect, ip=allocated["PublicIp"])
            return str(allocated["AllocationId"])

        await address({"Name": "old-vpn-endpoint"}, "idle")
        await address({"Name": "released-nat-leftover"}, "idle")
        await address(
            {"Name": "partner-allowlisted", "cloudthrift:keep": "whitelisted by partner"}, "opted-out"
        )
        on_instance = await address({"Name": "web-frontend"}, "busy")
        await ec2.associate_address(AllocationId=on_instance, InstanceId=estate.instance_id)
        # Associated to a bare network interface: no InstanceId, but in use (think NAT gateway).
        eni = (await ec2.create_network_interface(SubnetId=estate.subnet_id))["NetworkInterface"]
        on_eni = await address({"Name": "nat-egress"}, "busy")
        await ec2.associate_address(AllocationId=on_eni, NetworkInterfaceId=eni["NetworkInterfaceId"])


@ElasticIp.check("unassociated")
class Unassociated(Check):
    summary = "no AssociationId: attached to no instance or network interface, yet public IPv4 bills hourly"
    filters = ({"Name": "domain", "Values": ["vpc"]},)
    remedies = ("release",)

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        if observation.facts.get("associated"):
            return None
        return "Elastic IP is associated with no instance or network interface, and public IPv4 bills hourly"

    def busy_reason(self, observation: Observation) -> str:
        return "address is associated again: it is in use"

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        """A released address is gone for good (allow-lists, DNS): the risk is never low unless the
        address is plainly disposable."""
        name = str(finding.facts.get("name") or "")
        summary = (
            f"Elastic IP{f' named {name[:60]!r}' if name else ''} in {finding.key.region}, associated with "
            f"nothing, {idle_text(finding, now)}. Public IPv4 addresses are billed hourly, "
            f"{usd(finding.cost.monthly_usd)}/month; releasing it saves all of it. A released address "
            "can be recovered only until AWS gives it to someone else."
        )
        cause = (
            "Allocated for an instance, NAT gateway or load balancer that was later removed; an address "
            "stays allocated (and billed) until someone releases it."
        )
        risk: Risk
        recommendation: Recommendation
        if s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif s.prod or s.referenced:
            risk, recommendation = "high", "investigate"
            signal = s.prod or s.referenced
            reason = (
                f"{signal}: the address may be on a partner allow-list or in DNS, and may not be recoverable"
            )
        elif s.disposable:
            risk, reason, recommendation = "low", f"looks disposable ({s.disposable})", "delete"
        else:
            risk = "medium"
            reason = "a released address is gone for good: check DNS records and allow-lists first"
            recommendation = "delete" if idle_days(finding, now) >= 30 else "investigate"
        return Advice(summary, cause, risk, reason, recommendation, confidence(s, risk))


@ElasticIp.remedy("release")
class Release(Remedy):
    action = "release"
    summary = "release the address"
    permissions = ("ec2:DescribeAddresses", "ec2:ReleaseAddress", "ec2:AllocateAddress", "ec2:CreateTags")
    undo = (
        "allocate the same public IP again (AllocateAddress with Address), with its tags, if AWS has not "
        "given it to another account meanwhile; otherwise the undo fails and says so"
    )

    async def apply(self, clients: Clients, job: Job) -> Done | Refused:
        ec2 = await clients("ec2")
        await job.guard()
        try:
            await ec2.release_address(**_target(job.resource_id))
        except Exception as exc:
            if is_error(exc, *ElasticIp.gone_codes):
                return Done(self.action, already_gone=True, record=_record(job))
            if is_error(exc, "InvalidIPAddress.InUse"):
                return Refused("address was associated again while executing (InvalidIPAddress.InUse)")
            raise
        return Done(self.action, record=_record(job))

    async def rehearse(self, clients: Clients, job: Job) -> Done:
        ec2 = await clients("ec2")
        await expect_dry_run_ok(ec2.release_address(**_target(job.resource_id), DryRun=True))
        return Done(self.action, record=_record(job))

    async def leftovers(self, clients: Clients, job: Job) -> Done:
        return Done(self.action, already_gone=True, record=_record(job))

    async def restore(self, clients: Clients, job: UndoJob) -> Restored | Refused:
        """The same public IP again, if AWS still allows it; one this account already holds again (an
        earlier attempt that crashed after allocating) is reused."""
        ip = str(job.record.get("public_ip") or job.facts.get("public_ip") or "")
        if not ip:
            return Refused("the released public IP was not recorded: nothing to ask AWS for")
        ec2 = await clients("ec2")
        held = (await ec2.describe_addresses(Filters=[{"Name": "public-ip", "Values": [ip]}])).get(
            "Addresses"
        )
        if held:
            return Restored(
                "allocate_same_address", str(held[0].get("AllocationId") or ip), {"public_ip": ip}
            )
        tags = _tags(job)
        await job.guard()
        try:
            answer = await ec2.allocate_address(
                Domain="vpc",
                Address=ip,
                **({"TagSpecifications": [{"ResourceType": "elastic-ip", "Tags": tags}]} if tags else {}),
            )
        except Exception as exc:
            if _refusal(exc):
                return Refused(f"AWS no longer lets this account have {ip} back: {exc}")
            raise
        return Restored("allocate_same_address", str(answer["AllocationId"]), {"public_ip": ip})


# What AWS answers when a released address cannot be had back (taken by another account, or never
# recoverable); the other codes (permissions, throttling, outages) are the executor's to classify.
RECOVERY_REFUSED = frozenset(
    {"InvalidAddress.NotFound", "InvalidParameterValue", "AddressLimitExceeded", "InvalidAddress.InUse",
     "InvalidAddress.Malformed", "UnsupportedOperation"}
)  # fmt: skip


def _refusal(exc: BaseException) -> bool:
    return is_error(exc, *RECOVERY_REFUSED)


def _tags(job: UndoJob) -> list[dict[str, str]]:
    raw = job.record.get("address_tags")
    tags: Mapping[str, str] = json.loads(str(raw)) if raw else job.tags
    return [{"Key": k, "Value": v} for k, v in tags.items() if not k.startswith(("aws:", "cloudthrift:"))]


def _record(job: Job) -> dict[str, Any]:
    return {
        "public_ip": job.facts.get("public_ip"),
        "allocation_id": job.facts.get("allocation_id") or job.resource_id,
        "address_tags": json.dumps(dict(job.tags), sort_keys=True),
    }
