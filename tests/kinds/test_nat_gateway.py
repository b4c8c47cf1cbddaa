"""NAT gateways idle by usage: the rules without AWS; listing, bulk usage, routes, the remedy in dry run
and for real (with the executor's fresh re-check), the kept address and the undo on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.executor.handler import handle_approval
from services.executor.restore import handle_restore
from services.scanner.rules import ScanPolicy, build_finding, classify
from shared.aws import AwsClients
from shared.events import DecisionKey
from shared.kinds import kind_named
from shared.kinds.base import Observation, Usage
from shared.kinds.nat_gateway import KEEP_ADDRESS_TAG, NAT_METRICS, NoTraffic
from shared.kinds.pricing import load_prices
from shared.kinds.signals import read_signals
from shared.ledger import State
from tests.executor.conftest import aws, botocore_session, clock, ledger, make_deps, metrics, reporter
from tests.executor.helpers import approve, restore_request, state_of
from tests.kinds.usage_helpers import REGION, backdate, finding_of, put, put_all, verdicts

__all__ = ["aws", "botocore_session", "clock", "ledger", "make_deps", "metrics", "reporter"]

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def _observation(age_days: int = 60) -> Observation:
    return Observation(
        "nat-1", {"subnet_id": "subnet-1", "route_count": 0}, {}, NOW - timedelta(days=age_days)
    )


def _usage(**values: float | None) -> Usage:
    numbers = {metric.name: 0.0 for metric in NAT_METRICS} | values
    return Usage(timedelta(days=32), numbers)


def test_no_traffic_is_idle_and_the_reason_gives_the_numbers() -> None:
    reason = NoTraffic().verdict(_observation(), _usage())
    assert reason is not None
    assert "0 active connections (peak)" in reason and "0 bytes out" in reason and "over 32 days" in reason


def test_a_rate_no_checked_source_covers_is_said_to_be_an_estimate_on_the_card() -> None:
    """The NAT gateway hour is sourced in us-east-1, estimated in eu-west-1: the card's footer says so."""
    check, observation = NoTraffic(), Observation("nat-1", {"address_count": 1}, {}, NOW - timedelta(days=60))
    notes = {}
    for region in ("us-east-1", "eu-west-1"):
        key = DecisionKey(
            account_id="123456789012",
            region=region,
            kind="nat-gateway",
            check="no-traffic",
            resource_id="nat-1",
        )
        finding = build_finding(check, observation, "no traffic", key, load_prices(), now=NOW, scan_id="s")
        notes[region] = finding.cost.note or ""
    assert "Estimated rates" not in notes["us-east-1"]
    assert "Estimated rates, no checked source: NAT gateway hours." in notes["eu-west-1"]


@pytest.mark.parametrize("metric", [m.name for m in NAT_METRICS])
def test_one_packet_or_connection_of_any_metric_is_use(metric: str) -> None:
    assert NoTraffic().verdict(_observation(), _usage(**{metric: 1.0})) is None


def test_missing_datapoints_are_unknown_and_a_young_gateway_is_never_idle() -> None:
    check, policy = NoTraffic(), ScanPolicy(min_age=timedelta(0))
    assert not any(m.missing_means_zero for m in NAT_METRICS)  # the VPC guide: 1-minute data, zeros too
    assert (
        classify(check, _observation(), _usage(BytesOutToDestination=None), policy, NOW)[0] == "usage-unknown"
    )
    assert classify(check, _observation(age_days=31), _usage(), policy, NOW)[0] == "too-young"
    assert classify(check, _observation(age_days=33), _usage(), policy, NOW)[0] == "idle"


def test_an_opted_out_gateway_counts_as_opted_out_not_unknown() -> None:
    """The scanner reads no usage for opted-out resources: the summary must still say why they were left."""
    opted = Observation("nat-1", {}, {"cloudthrift:keep": "dr"}, NOW - timedelta(days=60))
    assert classify(NoTraffic(), opted, None, ScanPolicy(), NOW)[0] == "opted-out"


async def _gateway(ec2: Any, subnet_id: str, tags: dict[str, str] | None = None) -> tuple[str, str]:
    allocation = await ec2.allocate_address(Domain="vpc")
    created = await ec2.create_nat_gateway(
        SubnetId=subnet_id,
        AllocationId=allocation["AllocationId"],
        TagSpecifications=[
            {"ResourceType": "natgateway", "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}
        ],
    )
    gateway_id = created["NatGateway"]["NatGatewayId"]
    backdate("nat_gateways", gateway_id, "_created_at", 60)
    return gateway_id, allocation["AllocationId"]


async def _network(ec2: Any) -> tuple[str, str]:
    vpc = (await ec2.create_vpc(CidrBlock="10.9.0.0/16"))["Vpc"]["VpcId"]
    subnet = (await ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24"))["Subnet"]["SubnetId"]
    return vpc, subnet


async def test_only_the_silent_gateway_is_idle_and_its_routes_are_facts(aws: AwsClients) -> None:
    ec2 = await aws.client("ec2", REGION)
    vpc, subnet = await _network(ec2)
    silent, _ = await _gateway(ec2, subnet, {"Name": "staging-nat"})
    late, _ = await _gateway(ec2, subnet)  # one connection on day 29 of 32: in use
    unread, _ = await _gateway(ec2, subnet)  # no datapoints at all: unknown, not idle
    young, _ = await _gateway(ec2, subnet)
    backdate("nat_gateways", young, "_created_at", 5)
    table = (await ec2.create_route_table(VpcId=vpc))["RouteTable"]["RouteTableId"]
    await ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=silent)
    await put_all(aws, NAT_METRICS, silent, 0, days_ago=2)
    await put_all(aws, NAT_METRICS, late, 0, days_ago=2)
    await put(aws, NAT_METRICS[0], late, 1, days_ago=29)
    await put_all(aws, NAT_METRICS, young, 0, days_ago=1)

    found = await verdicts(aws, "nat-gateway")

    assert found == {silent: "idle", late: "busy", unread: "usage-unknown", young: "too-young"}
    finding = await finding_of(aws, "nat-gateway", silent)
    assert finding.facts["routes"] == f"{table} 0.0.0.0/0" and finding.facts["route_count"] == 1
    assert finding.facts["vpc_id"] == vpc and finding.facts["subnet_id"] == subnet
    # NAT hour and its public IPv4 hour, 730 hours each (us-east-1).
    assert [ln.item for ln in finding.cost.lines] == ["NAT gateway hours", "public IPv4 address hours"]
    assert finding.cost.monthly_usd == Decimal("730") * (Decimal("0.045") + Decimal("0.005"))
    advice = NoTraffic().advise(finding, read_signals(finding), datetime.now(UTC))
    assert f"{table} 0.0.0.0/0" in advice.summary and "blackholes" in advice.summary
    assert advice.risk == "medium" and advice.recommendation == "investigate"


async def _idle_finding(aws: AwsClients, tags: dict[str, str] | None = None) -> tuple[Any, str, str, str]:
    ec2 = await aws.client("ec2", REGION)
    vpc, subnet = await _network(ec2)
    gateway, allocation = await _gateway(ec2, subnet, tags)
    table = (await ec2.create_route_table(VpcId=vpc))["RouteTable"]["RouteTableId"]
    await ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=gateway)
    await put_all(aws, NAT_METRICS, gateway, 0, days_ago=2)
    return await finding_of(aws, "nat-gateway", gateway), gateway, allocation, table


async def _state(ec2: Any, gateway: str) -> str:
    return str((await ec2.describe_nat_gateways(NatGatewayIds=[gateway]))["NatGateways"][0]["State"])


async def _allocated(ec2: Any, allocation: str) -> bool:
    answer = await ec2.describe_addresses(Filters=[{"Name": "allocation-id", "Values": [allocation]}])
    return bool(answer["Addresses"])


async def test_dry_run_deletes_nothing(aws: AwsClients, ledger, make_deps) -> None:
    finding, gateway, allocation, _ = await _idle_finding(aws)
    await handle_approval(await approve(ledger, finding), make_deps(dry_run=True))
    ec2 = await aws.client("ec2", REGION)
    assert await _state(ec2, gateway) == "available" and await _allocated(ec2, allocation)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED and decision.get("dry_run") is True
    assert decision.get("action") == "delete_nat_gateway"


async def test_delete_then_release_the_address(aws: AwsClients, ledger, make_deps) -> None:
    finding, gateway, allocation, table = await _idle_finding(aws)
    await handle_approval(await approve(ledger, finding), make_deps())
    ec2 = await aws.client("ec2", REGION)
    assert await _state(ec2, gateway) == "deleted" and not await _allocated(ec2, allocation)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED
    assert decision.get("released_allocation_ids") == allocation
    assert decision.get("routes") == f"{table} 0.0.0.0/0"
    assert Decimal(decision.get("realised_monthly_saving_usd")) == finding.cost.monthly_usd


async def test_the_undo_of_a_released_address_gets_a_new_one_and_the_routes(
    aws: AwsClients, ledger, make_deps
) -> None:
    finding, _, allocation, table = await _idle_finding(aws, {"Name": "staging-nat"})
    event = await approve(ledger, finding)
    await handle_approval(event, make_deps())
    request = restore_request(finding.key, event.payload.decision_id)
    await handle_restore(request, make_deps())

    restored = await state_of(ledger, finding.key)
    assert restored.state is State.RESTORED
    ec2 = await aws.client("ec2", REGION)
    [again] = (await ec2.describe_nat_gateways(NatGatewayIds=[restored.get("restored_resource_id")]))[
        "NatGateways"
    ]
    assert again["SubnetId"] == finding.facts["subnet_id"]
    assert again["NatGatewayAddresses"][0]["AllocationId"] != allocation  # the old IP was released
    assert {t["Key"]: t["Value"] for t in again["Tags"]}["Name"] == "staging-nat"
    routes = (await ec2.describe_route_tables(RouteTableIds=[table]))["RouteTables"][0]["Routes"]
    assert [r["NatGatewayId"] for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"] == [
        again["NatGatewayId"]
    ]


async def test_traffic_after_approval_skips_it(aws: AwsClients, ledger, make_deps) -> None:
    finding, gateway, allocation, _ = await _idle_finding(aws)
    event = await approve(ledger, finding)
    await put(aws, NAT_METRICS[1], gateway, 5_000, days_ago=0.01)  # bytes flowed after the approval
    await handle_approval(event, make_deps())
    ec2 = await aws.client("ec2", REGION)
    assert await _state(ec2, gateway) == "available" and await _allocated(ec2, allocation)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.SKIPPED and "traffic" in decision.get("skip_reason")


async def test_kept_address_makes_the_undo_exact(aws: AwsClients, ledger, make_deps) -> None:
    finding, gateway, allocation, table = await _idle_finding(aws, {KEEP_ADDRESS_TAG: "yes"})
    await handle_approval(await approve(ledger, finding), make_deps())
    ec2 = await aws.client("ec2", REGION)
    assert await _state(ec2, gateway) == "deleted" and await _allocated(ec2, allocation)
    decision = await state_of(ledger, finding.key)
    assert decision.get("kept_allocation_ids") == allocation

    # AWS disassociates the address of a deleted gateway; moto leaves it on the gateway's old interface.
    [address] = (await ec2.describe_addresses(AllocationIds=[allocation]))["Addresses"]
    if address.get("AssociationId"):
        await ec2.disassociate_address(AssociationId=address["AssociationId"])
    await handle_restore(restore_request(finding.key, decision.decision_id), make_deps())
    restored = await state_of(ledger, finding.key)
    assert restored.state is State.RESTORED, restored.get("restore_error")
    new_id = restored.get("restored_resource_id")

    again = (await ec2.describe_nat_gateways(NatGatewayIds=[new_id]))["NatGateways"][0]
    original = kind_named("nat-gateway").observe(
        {**again, "Routes": [f"{table} 0.0.0.0/0"]}
    )  # the recorded routes, re-read below from the table itself
    assert (again["SubnetId"], again["VpcId"]) == (finding.facts["subnet_id"], finding.facts["vpc_id"])
    assert original.facts["allocation_ids"] == finding.facts["allocation_ids"] == allocation
    assert original.facts["public_ips"] == finding.facts["public_ips"]
    routes = (await ec2.describe_route_tables(RouteTableIds=[table]))["RouteTables"][0]["Routes"]
    assert [r["NatGatewayId"] for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"] == [new_id]


async def test_the_card_offers_keeping_the_address_as_a_priced_choice(aws: AwsClients) -> None:
    """Two choices: release the address (the whole cost saved) or keep it (its IPv4 hour stays billed)."""
    finding, *_ = await _idle_finding(aws)
    assert [c.remedy for c in finding.cost.choices] == ["delete", "delete-keep-address"]
    release, keep = finding.cost.choices
    assert release.residual_monthly_usd == 0 and release.net_monthly_saving_usd == Decimal("36.50")
    assert keep.residual_monthly_usd == Decimal("3.65")  # 730 h x $0.005, us-east-1
    assert keep.net_monthly_saving_usd == Decimal("32.85") and keep.undo and "same public IP" in keep.undo
    assert finding.cost.net_monthly_saving_usd == Decimal("36.50")  # the default proposed: release

    tagged, *_ = await _idle_finding(aws, {KEEP_ADDRESS_TAG: "allow-listed"})
    assert tagged.cost.choices == ()  # the owner's tag: only keeping it is proposed
    assert tagged.cost.snapshot_monthly_usd == Decimal("3.65")
    assert tagged.cost.net_monthly_saving_usd == Decimal("32.85")


async def test_approving_keep_address_deletes_the_gateway_and_leaves_the_address(
    aws: AwsClients, ledger, make_deps
) -> None:
    finding, gateway, allocation, _ = await _idle_finding(aws)
    event = await approve(ledger, finding, remedy="delete-keep-address")
    await handle_approval(event, make_deps())

    ec2 = await aws.client("ec2", REGION)
    assert await _state(ec2, gateway) == "deleted" and await _allocated(ec2, allocation)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED and decision.get("remedy") == "delete-keep-address"
    assert decision.get("kept_allocation_ids") == allocation
    assert decision.get("released_allocation_ids") is None
    assert Decimal(decision.get("realised_monthly_saving_usd")) == Decimal("32.85")  # the IPv4 hour stays

    [address] = (await ec2.describe_addresses(AllocationIds=[allocation]))["Addresses"]
    if address.get("AssociationId"):  # moto leaves it on the deleted gateway's interface (see above)
        await ec2.disassociate_address(AssociationId=address["AssociationId"])
    await handle_restore(restore_request(finding.key, event.payload.decision_id), make_deps())
    restored = await state_of(ledger, finding.key)
    assert restored.state is State.RESTORED, restored.get("restore_error")
    [again] = (await ec2.describe_nat_gateways(NatGatewayIds=[restored.get("restored_resource_id")]))[
        "NatGateways"
    ]
    assert again["NatGatewayAddresses"][0]["AllocationId"] == allocation  # the same public IP
