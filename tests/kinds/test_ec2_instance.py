"""Long-stopped EC2 instances: the stop time, exclusions and price without AWS; the listing on a
seeded estate with near misses, the remedy in dry run and for real, its re-check and its undo on moto."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.estate import moto_backdater, seed_estate
from services.executor.handler import ExecutorDeps, handle_approval
from services.scanner.handler import ScannerDeps, ScanPolicy, handle_scan
from services.scanner.rules import build_finding
from shared.aws import AwsClients, RegionClients
from shared.events import DecisionKey, Envelope, Finding, ScanRequested
from shared.kinds import check_named, kind_named
from shared.kinds.base import Observation, Refused, Restored, UndoJob
from shared.kinds.ec2_instance.kind import stopped_at
from shared.kinds.ec2_instance.remedies import ImageThenTerminate
from shared.kinds.pricing import load_prices
from shared.ledger import Ledger, State
from tests.executor.helpers import ACCOUNT, ALICE, REGION, approve, state_of

NOW = datetime.now(UTC)
RATES = load_prices().rates("us-east-1")
KIND, CHECK = "ec2-instance", "long-stopped"


def test_the_stop_time_is_read_from_the_state_transition_reason() -> None:
    assert stopped_at("User initiated (2026-01-02 10:00:00 GMT)") == datetime(2026, 1, 2, 10, tzinfo=UTC)
    assert stopped_at("User initiated (2026-01-02 10:00:00 UTC)") == datetime(2026, 1, 2, 10, tzinfo=UTC)
    assert stopped_at("Server.ScheduledStop: Stopped due to scheduled retirement") is None
    assert stopped_at(None) is None
    raw = {"InstanceId": "i-1", "State": {"Name": "stopped"}, "StateTransitionReason": "odd"}
    assert kind_named(KIND).observe(raw).created_at is None  # age unknown: the ledger's first sighting


@pytest.mark.parametrize(
    ("extra", "spared"),
    [
        ({}, False),
        ({"termination_protection": True}, True),
        ({"in_auto_scaling_group": True}, True),
        ({"state": "running"}, True),
    ],
)
def test_protected_grouped_or_running_instances_are_never_waste(extra: dict[str, Any], spared: bool) -> None:
    facts = {"state": "stopped", "instance_type": "t3.large", "volume_count": 1, "volume_gib": 100}
    verdict = check_named(KIND, CHECK).verdict(Observation("i-1", facts | extra), None)
    assert (verdict is None) is spared


def test_priced_on_its_volumes_and_addresses_net_of_the_image_it_keeps() -> None:
    facts = {
        "volumes": "vol-1:gp3:500:3000:125:delete,vol-2:gp2:100:300:0:keep",
        "elastic_ips": "eipalloc-1=198.51.100.1",
    }
    observation = Observation("i-1", facts)
    priced = kind_named(KIND).price(observation, RATES)
    # 500 GiB gp3 $40 + 100 GiB gp2 $10 + one public IPv4 730 h x $0.005 = $3.65
    assert sum(line.monthly_usd for line in priced.lines) == Decimal("53.65")
    assert ImageThenTerminate().residual(observation, RATES).monthly_usd == Decimal("30.00")  # 600 GiB


def test_thirty_days_stopped_unless_the_operator_says_otherwise() -> None:
    check = check_named(KIND, CHECK)
    assert ScanPolicy().min_age_for(check) == timedelta(days=30)
    assert ScanPolicy(check_min_age_days={f"{KIND}/{CHECK}": 90}).min_age_for(check) == timedelta(days=90)


async def test_the_scan_finds_exactly_the_long_stopped_instances(runtime: Any) -> None:
    manifest = await seed_estate(runtime.aws, (REGION,), backdate=moto_backdater(), now=NOW, kinds=(KIND,))
    deps = ScannerDeps(
        aws=runtime.aws,
        ledger=runtime.ledger,
        prices=load_prices(),
        policy=ScanPolicy(regions=(REGION,), kinds=(KIND,)),
        clock=lambda: NOW,
    )
    found = await handle_scan(Envelope.wrap(ScanRequested()), deps)
    reported = {event.finding.key.resource_id for event in found}
    expected = {s.resource_id for s in manifest if s.expectation == "idle"}
    by_id = {e.finding.key.resource_id: e.finding.facts for e in found}
    assert reported == expected and len(expected) == 3, [by_id[i] for i in reported - expected]
    spared = {s.expectation for s in manifest if s.resource_id not in reported}
    assert spared == {"busy", "opted-out", "too-young"}  # protected, in an ASG, kept, stopped last week
    by_name = {event.finding.facts["name"]: event.finding for event in found}
    agent = by_name["old-build-agent"]
    # 8 GiB root (gp2, moto's) $0.80 + 500 GiB gp3 $40 + an address $3.65; the image keeps 508 GiB.
    assert agent.cost.monthly_usd == Decimal("44.45") and agent.cost.net_monthly_saving_usd == Decimal(
        "19.05"
    )
    assert agent.facts["elastic_ip_count"] == 1 and (NOW - agent.created_at).days == 120  # type: ignore[operator]


async def stopped_instance(ec2: Any, *, protect: bool = False, eip: bool = True) -> str:
    made = await ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m5.large",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "old-agent"}]}],
    )  # fmt: skip
    instance_id = str(made["Instances"][0]["InstanceId"])
    if protect:  # moto's RunInstances ignores DisableApiTermination
        await ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": True})
    volume = await ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=200, VolumeType="gp3")
    await ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=instance_id, Device="/dev/sdf")
    if eip:
        address = await ec2.allocate_address(Domain="vpc")
        await ec2.associate_address(AllocationId=address["AllocationId"], InstanceId=instance_id)
    await ec2.stop_instances(InstanceIds=[instance_id])
    moto_backdater()(REGION, "instances", instance_id, "_reason", NOW - timedelta(days=90))
    return instance_id


async def finding_for(aws: AwsClients, instance_id: str) -> Finding:
    kind, check = kind_named(KIND), check_named(KIND, CHECK)
    raw = await kind.describe(RegionClients(aws, REGION), instance_id)
    assert raw is not None
    observation = kind.observe(raw)
    reason = check.verdict(observation, None)
    assert reason is not None, observation.facts
    key = DecisionKey(account_id=ACCOUNT, region=REGION, kind=KIND, check=CHECK, resource_id=instance_id)
    return build_finding(check, observation, reason, key, load_prices(), now=NOW, scan_id="scan-test")


async def state_name(ec2: Any, instance_id: str) -> str:
    answer = await ec2.describe_instances(InstanceIds=[instance_id])
    return str(answer["Reservations"][0]["Instances"][0]["State"]["Name"])


async def test_approved_instance_is_imaged_terminated_its_address_released_and_can_be_launched_again(
    ec2: Any, aws: AwsClients, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    instance_id = await stopped_instance(ec2)
    finding = await finding_for(aws, instance_id)
    allocation = str(finding.facts["elastic_ips"]).split("=")[0]
    await handle_approval(await approve(ledger, finding), make_deps())

    done = await state_of(ledger, finding.key)
    assert done.state is State.EXECUTED and done.get("action") == "image_then_terminate"
    assert await state_name(ec2, instance_id) == "terminated"
    image_id = str(done.get("image_id"))
    [image] = (await ec2.describe_images(ImageIds=[image_id]))["Images"]
    assert {t["Key"]: t["Value"] for t in image["Tags"]}["cloudthrift:decision-id"] == done.decision_id
    assert (await ec2.describe_addresses(Filters=[{"Name": "allocation-id", "Values": [allocation]}]))[
        "Addresses"
    ] == []
    saved = Decimal(str(done.get("realised_monthly_saving_usd")))
    assert saved == finding.cost.net_monthly_saving_usd > 0

    async def guard() -> None:
        return None

    undo = UndoJob(decision_id=done.decision_id, resource_id=instance_id, approver=ALICE,
                   facts=finding.facts, tags=finding.tags, record={"image_id": image_id},
                   snapshot_id=None, guard=guard)  # fmt: skip
    clients = RegionClients(aws, REGION)
    restored = await ImageThenTerminate().restore(clients, undo)
    assert isinstance(restored, Restored) and restored.resource_id != instance_id
    answer = await ec2.describe_instances(InstanceIds=[restored.resource_id])
    again = answer["Reservations"][0]["Instances"][0]
    assert (again["ImageId"], again["InstanceType"], again["SubnetId"]) == (
        image_id, "m5.large", finding.facts["subnet_id"]
    )  # fmt: skip
    assert again["State"]["Name"] in ("stopping", "stopped")  # back as it was
    assert {t["Key"]: t["Value"] for t in again["Tags"]}["Name"] == "old-agent"
    # A repeated undo finds the instance it launched instead of launching another.
    twice = await ImageThenTerminate().restore(clients, undo)
    assert isinstance(twice, Restored) and twice.resource_id == restored.resource_id


async def test_dry_run_rehearses_and_touches_nothing(
    ec2: Any, aws: AwsClients, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    instance_id = await stopped_instance(ec2)
    finding = await finding_for(aws, instance_id)
    await handle_approval(await approve(ledger, finding), make_deps(dry_run=True))
    done = await state_of(ledger, finding.key)
    assert done.state is State.EXECUTED and done.get("dry_run") is True
    assert await state_name(ec2, instance_id) == "stopped"
    assert (await ec2.describe_images(Owners=["self"]))["Images"] == []


async def test_protection_turned_on_after_approval_is_skipped_untouched(
    ec2: Any, aws: AwsClients, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    instance_id = await stopped_instance(ec2, eip=False)
    finding = await finding_for(aws, instance_id)
    event = await approve(ledger, finding)
    await ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": True})
    await handle_approval(event, make_deps())
    skipped = await state_of(ledger, finding.key)
    assert skipped.state is State.SKIPPED and "termination protection" in str(skipped.get("skip_reason"))
    assert await state_name(ec2, instance_id) == "stopped"


async def test_a_started_instance_is_skipped_and_a_protected_one_refused_even_in_a_rehearsal(
    ec2: Any, aws: AwsClients, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    instance_id = await stopped_instance(ec2, eip=False)
    finding = await finding_for(aws, instance_id)
    event = await approve(ledger, finding)
    await ec2.start_instances(InstanceIds=[instance_id])
    await handle_approval(event, make_deps())
    skipped = await state_of(ledger, finding.key)
    assert skipped.state is State.SKIPPED and "not stopped" in str(skipped.get("skip_reason"))

    protected = await stopped_instance(ec2, protect=True, eip=False)
    from tests.kinds.test_ebs_gp2 import job_for

    job = job_for(protected, RegionClients(aws, REGION))
    refused = await ImageThenTerminate().rehearse(job.clients, job.job)
    assert isinstance(refused, Refused) and "termination protection" in refused.reason
    assert isinstance(await ImageThenTerminate().apply(job.clients, job.job), Refused)
    assert await state_name(ec2, protected) == "stopped"


async def test_a_stop_time_aws_does_not_say_counts_from_the_ledgers_first_sighting(
    ec2: Any, runtime: Any
) -> None:
    from moto.ec2.models import ec2_backends

    instance_id = await stopped_instance(ec2, eip=False)
    ec2_backends[ACCOUNT][REGION].get_instance(instance_id)._reason = "Server.ScheduledStop: retirement"

    async def scan(when: datetime) -> set[str]:
        deps = ScannerDeps(
            aws=runtime.aws,
            ledger=runtime.ledger,
            prices=load_prices(),
            policy=ScanPolicy(regions=(REGION,), kinds=(KIND,)),
            clock=lambda: when,
        )
        return {
            event.finding.key.resource_id for event in await handle_scan(Envelope.wrap(ScanRequested()), deps)
        }

    assert instance_id not in await scan(NOW)  # first seen stopped now: not yet 30 days
    assert instance_id not in await scan(NOW + timedelta(days=29))
    assert instance_id in await scan(NOW + timedelta(days=31))


async def test_a_crash_after_disassociating_the_address_finishes_on_resume(
    ec2: Any, aws: AwsClients, ledger: Ledger, make_deps: Callable[..., ExecutorDeps], clock: Any
) -> None:
    from tests.executor.helpers import Crash, Wrapped

    instance_id = await stopped_instance(ec2)
    finding = await finding_for(aws, instance_id)
    event = await approve(ledger, finding)
    with pytest.raises(Crash):  # imaged, address disassociated, then the executor died
        await handle_approval(
            event, make_deps(wrap=lambda c: Wrapped(c, "disassociate_address", when="after"))
        )
    clock.advance(31)
    await handle_approval(event, make_deps())

    done = await state_of(ledger, finding.key)
    assert done.state is State.EXECUTED, done.get("skip_reason")
    assert await state_name(ec2, instance_id) == "terminated"
    assert len((await ec2.describe_images(Owners=["self"]))["Images"]) == 1  # one image, reused
