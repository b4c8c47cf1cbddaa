"""Executor test helpers: real resources on moto, decisions driven through the ledger's real transitions.

The EC2 client is an external dependency, so tests may wrap it (`Wrapped`) to inject a crash, a
throttle or a permission error at a chosen call; nothing of ours is patched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from services.executor.outcome import Outcome
from services.scanner.rules import build_finding
from shared.aws import AwsClients
from shared.events import (
    Analysis,
    ApprovalGranted,
    Approver,
    CostEstimate,
    DecisionKey,
    Envelope,
    Finding,
    RestoreRequested,
)
from shared.kinds import kind_named
from shared.kinds.pricing import load_prices
from shared.ledger import Decision, Ledger, State

ACCOUNT = "123456789012"
REGION = "us-east-1"
ALICE = Approver(id="1001", name="alice", via="discord")
ANALYSIS = Analysis(
    summary="Unattached for weeks.",
    likely_cause="Left behind by a terminated instance.",
    risk="low",
    risk_reason="No attachment history.",
    recommendation="snapshot_then_delete",
    confidence=0.9,
    source="rules",
)


def sample_finding(
    resource_id: str = "vol-0123456789abcdef0", *, tags: dict[str, str] | None = None
) -> Finding:
    """A finding built by hand, for the pure tests that need no AWS at all."""
    return Finding(
        key=DecisionKey(
            account_id=ACCOUNT, region=REGION, kind="ebs-volume", check="unattached", resource_id=resource_id
        ),
        facts={"volume_type": "gp3", "size_gib": 100, "state": "available"},
        tags=tags or {},
        idle_since=datetime(2026, 11, 1, tzinfo=UTC),
        idle_reason="unattached",
        cost=CostEstimate(
            monthly_usd=Decimal("8.00"),
            snapshot_monthly_usd=Decimal("5.00"),
            net_monthly_saving_usd=Decimal("3.00"),
            price_source="test table",
            price_date="2026-11-01",
        ),
        scan_id="scan-1",
    )


class Crash(BaseException):
    """A process dying mid-call: not an Exception, so no handler code gets to clean up after it."""


@dataclass
class Wrapped:
    """A proxy around a real aiobotocore EC2 client that misbehaves at one named call."""

    client: Any
    method: str
    when: str = "before"  # "before": the call never reaches AWS; "after": it did, then we died
    raise_: Callable[[], BaseException] | None = Crash
    # Instead of raising: run this (e.g. a second delivery) at that moment, then carry on.
    meanwhile: Callable[[], Awaitable[Any]] | None = None
    times: int = 1
    calls: dict[str, int] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.client, name)
        if not callable(real) or name.startswith("_") or name in ("get_waiter", "get_paginator"):
            return real

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            misbehave = name == self.method and self.times > 0 and not kwargs.get("DryRun")
            if misbehave and self.when == "before":
                await self._misbehave()
            answer = await real(*args, **kwargs)
            if misbehave and self.when == "after":
                await self._misbehave()
            return answer

        return call

    async def _misbehave(self) -> None:
        self.times -= 1
        if self.meanwhile is not None:
            await self.meanwhile()
        elif self.raise_ is not None:
            raise self.raise_()


def client_error(code: str, operation: str = "DeleteVolume", status: int = 400) -> Callable[[], ClientError]:
    def build() -> ClientError:
        return ClientError(
            {
                "Error": {"Code": code, "Message": f"test: {code}"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            },
            operation,
        )

    return build


@dataclass
class Clients:
    """The handler's client factory: real clients, the EC2 one optionally wrapped by a test proxy
    (which injects AWS errors the way AWS would answer them)."""

    aws: AwsClients
    wrap: Callable[[Any], Any] | None = None

    async def client(self, service: str, region: str | None = None, *, role_arn: str | None = None) -> Any:
        real = await self.aws.client(service, region, role_arn=role_arn)
        return self.wrap(real) if self.wrap and service == "ec2" else real

    async def account_id(self, role_arn: str | None = None) -> str:
        return await self.aws.account_id(role_arn)


@dataclass
class Reporter:
    outcomes: list[Outcome] = field(default_factory=list)

    async def report(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


@dataclass
class Clock:
    """A clock the test moves forward, to let a crashed attempt's claim expire without waiting."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def idle_volume(
    ec2: Any, *, size: int = 100, tags: Mapping[str, str] | None = None, volume_type: str = "gp3"
) -> str:
    tags = {"Name": "jenkins-workspace-2023"} | dict(tags or {})
    answer = await ec2.create_volume(
        AvailabilityZone=f"{REGION}a",
        Size=size,
        VolumeType=volume_type,
        TagSpecifications=[
            {"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
    )
    return str(answer["VolumeId"])


async def idle_address(ec2: Any) -> tuple[str, str]:
    answer = await ec2.allocate_address(Domain="vpc")
    return str(answer["AllocationId"]), str(answer["PublicIp"])


async def instance(ec2: Any) -> str:
    answer = await ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro")
    return str(answer["Instances"][0]["InstanceId"])


async def observe(ec2: Any, kind: str, resource_id: str, check_name: str | None = None) -> Finding:
    """The finding the scanner would make of this resource now (its kind's own reading and prices),
    by the named check, or the kind's one check that is not about gp2 (unattached, unassociated)."""
    if kind == "ebs-volume":
        raw = (await ec2.describe_volumes(VolumeIds=[resource_id]))["Volumes"][0]
    else:
        raw = (await ec2.describe_addresses(AllocationIds=[resource_id]))["Addresses"][0]
    owner = kind_named(kind)
    observation = owner.observe(raw)
    names = [name for name in owner.checks.names() if name != "in-use-gp2"]
    check = owner.checks.get(check_name or names[0])()
    reason = check.verdict(observation, None)
    assert reason is not None, f"{resource_id} is not waste by {kind}/{check.name}"
    key = DecisionKey(
        account_id=ACCOUNT, region=REGION, kind=kind, check=check.name, resource_id=observation.resource_id
    )
    return build_finding(
        check, observation, reason, key, load_prices(), now=datetime.now(UTC), scan_id="scan-test"
    )


async def approve(
    ledger: Ledger,
    finding: Finding,
    *,
    card: tuple[str, str] | None = None,
    card_id: str | None = None,
    stop_at: State = State.APPROVED,
    create: bool = True,
    remedy: str | None = None,
) -> Envelope[ApprovalGranted]:
    """Drive a decision through the real transitions (create → ANALYZED → AWAITING_APPROVAL → APPROVED).

    `create=False` starts from the FOUND item a real scan already recorded.
    """
    if create:
        created = await ledger.create(finding)
        assert created.applied
        decision = created.current
    else:
        decision = await ledger.get(finding.key)
    assert decision is not None and decision.state is State.FOUND
    await ledger.transition(finding.key, State.FOUND, State.ANALYZED, fields={"analysis": ANALYSIS})
    if stop_at is not State.ANALYZED:
        fields = {"channel_id": card[0], "message_id": card[1]} if card else {}
        if card:  # the notifier names a single card after its decision, a group card after the group
            fields["card_id"] = card_id or decision.decision_id
        await ledger.transition(finding.key, State.ANALYZED, State.AWAITING_APPROVAL, fields=fields)
    approved_at = datetime.now(UTC)
    if stop_at is State.APPROVED:
        await ledger.transition(
            finding.key,
            State.AWAITING_APPROVAL,
            State.APPROVED,
            fields={"approver": ALICE, "approved_at": approved_at} | ({"remedy": remedy} if remedy else {}),
            actor="discord:alice",
        )
    return Envelope.wrap(
        ApprovalGranted(
            decision_id=decision.decision_id,
            key=finding.key,
            approver=ALICE,
            approved_at=approved_at,
            finding=finding,
            fingerprint=finding.fingerprint,
        )
    )


async def state_of(ledger: Ledger, key: DecisionKey) -> Decision:
    decision = await ledger.get(key)
    assert decision is not None
    return decision


async def snapshots_of(ec2: Any, volume_id: str) -> list[dict[str, Any]]:
    answer = await ec2.describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "volume-id", "Values": [volume_id]}]
    )
    return list(answer["Snapshots"])


async def volume_exists(ec2: Any, volume_id: str) -> bool:
    answer = await ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [volume_id]}])
    return bool(answer["Volumes"])


async def address_exists(ec2: Any, allocation_id: str) -> bool:
    answer = await ec2.describe_addresses(Filters=[{"Name": "allocation-id", "Values": [allocation_id]}])
    return bool(answer["Addresses"])


async def wait_until_executed(runtime: Any, key: DecisionKey, *, attempts: int) -> Decision | None:
    """Poll (every 0.1 s) until the decision is EXECUTED and the execute queue is empty; the last read."""
    import asyncio

    decision = None
    for _ in range(attempts):
        decision = await runtime.ledger.get(key)
        depth = await runtime.sqs.get_queue_attributes(
            QueueUrl=runtime.queues["execute"].url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        empty = not any(int(v) for v in depth["Attributes"].values())
        if decision and decision.state is State.EXECUTED and empty:
            break
        await asyncio.sleep(0.1)
    return decision


def restore_request(key: DecisionKey, decision_id: str, who: Approver = ALICE) -> Envelope[RestoreRequested]:
    """The undo request the CLI or the Undo button sends (issue 14)."""
    return Envelope.wrap(
        RestoreRequested(decision_id=decision_id, key=key, requested_by=who, requested_at=datetime.now(UTC))
    )
