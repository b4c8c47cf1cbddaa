"""Classic Load Balancers: idle by usage (`no-requests`) or with no instance behind them
(`no-instances`): the rules without AWS; listing, bulk usage, the remedy (dry run, real, re-check, undo)
on moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.executor.handler import handle_approval
from services.executor.restore import handle_restore
from shared.aws import AwsClients
from shared.kinds.base import Observation, Usage
from shared.kinds.classic_load_balancer import REQUESTS, NoInstances, NoRequests
from shared.kinds.signals import read_signals
from shared.ledger import State
from tests.executor.conftest import aws, botocore_session, clock, ledger, make_deps, metrics, reporter
from tests.executor.helpers import approve, restore_request, state_of
from tests.kinds.usage_helpers import REGION, backdate, finding_of, put, verdicts

__all__ = ["aws", "botocore_session", "clock", "ledger", "make_deps", "metrics", "reporter"]


async def _balancer(aws: AwsClients, name: str, *, days: int = 60, instance: bool = True) -> str:
    """A Classic Load Balancer `days` old, with one instance registered unless `instance` is False."""
    elb = await aws.client("elb", REGION)
    await elb.create_load_balancer(
        LoadBalancerName=name,
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}],
        AvailabilityZones=[f"{REGION}a"],
    )
    backdate("load_balancers", name, "created_time", days, service="elb")
    if instance:
        await _register(aws, name)
    return name


async def _register(aws: AwsClients, name: str) -> None:
    ec2, elb = await aws.client("ec2", REGION), await aws.client("elb", REGION)
    instance = await ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro"
    )
    await elb.register_instances_with_load_balancer(
        LoadBalancerName=name, Instances=[{"InstanceId": instance["Instances"][0]["InstanceId"]}]
    )


async def _exists(aws: AwsClients, name: str) -> bool:
    elb = await aws.client("elb", REGION)
    found = (await elb.describe_load_balancers())["LoadBalancerDescriptions"]
    return any(b["LoadBalancerName"] == name for b in found)


async def test_only_the_silent_one_is_idle(aws: AwsClients) -> None:
    quiet = await _balancer(aws, "legacy-api-elb")
    late = await _balancer(aws, "monthly-report-elb")  # one request on day 29 of 32
    young = await _balancer(aws, "fresh-elb", days=2)
    await put(aws, REQUESTS, late, 1, days_ago=29)

    assert await verdicts(aws, "classic-load-balancer", check_name="no-requests") == {
        quiet: "idle",
        late: "busy",
        young: "too-young",
    }
    finding = await finding_of(aws, "classic-load-balancer", quiet, check_name="no-requests")
    assert finding.idle_reason == "no traffic: 0 requests over 32 days"
    assert finding.cost.monthly_usd == Decimal("730") * Decimal("0.025")


async def test_dry_run_deletes_nothing(aws: AwsClients, ledger: Any, make_deps: Any) -> None:
    name = await _balancer(aws, "legacy-api-elb")
    finding = await finding_of(aws, "classic-load-balancer", name, check_name="no-requests")
    await handle_approval(await approve(ledger, finding), make_deps(dry_run=True))
    assert await _exists(aws, name)
    assert (await state_of(ledger, finding.key)).get("dry_run") is True


async def test_delete_records_the_configuration(aws: AwsClients, ledger: Any, make_deps: Any) -> None:
    name = await _balancer(aws, "legacy-api-elb")
    finding = await finding_of(aws, "classic-load-balancer", name, check_name="no-requests")
    await handle_approval(await approve(ledger, finding), make_deps())
    assert not await _exists(aws, name)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED and decision.get("action") == "delete_classic_load_balancer"
    configuration = json.loads(decision.get("configuration"))
    assert configuration["LoadBalancerName"] == name
    [listener] = configuration["ListenerDescriptions"]
    assert listener["Listener"]["InstancePort"] == 8080


async def test_the_undo_recreates_it_from_the_recorded_configuration(
    aws: AwsClients, ledger: Any, make_deps: Any
) -> None:
    name = await _balancer(aws, "legacy-web-elb")
    elb = await aws.client("elb", REGION)
    health = {"Target": "HTTP:8080/health", "Interval": 15, "Timeout": 5, "UnhealthyThreshold": 3,
              "HealthyThreshold": 4}  # fmt: skip
    await elb.configure_health_check(LoadBalancerName=name, HealthCheck=health)
    await elb.add_tags(LoadBalancerNames=[name], Tags=[{"Key": "team", "Value": "web"}])
    [before] = (await elb.describe_load_balancers(LoadBalancerNames=[name]))["LoadBalancerDescriptions"]
    assert before["Subnets"] and before["HealthCheck"]["Target"] == "HTTP:8080/health"
    finding = await finding_of(aws, "classic-load-balancer", name, check_name="no-requests")
    event = await approve(ledger, finding)
    await handle_approval(event, make_deps())
    assert not await _exists(aws, name)

    await handle_restore(restore_request(finding.key, event.payload.decision_id), make_deps())

    decision = await state_of(ledger, finding.key)
    assert decision.state is State.RESTORED and decision.get("restored_resource_id") == name
    [after] = (await elb.describe_load_balancers(LoadBalancerNames=[name]))["LoadBalancerDescriptions"]
    # Subnets, not zones: moto leaves AvailabilityZones empty on a balancer created in subnets, as every
    # Classic Load Balancer now is (EC2-Classic is retired); AWS derives the zones from the subnets.
    for field in ("ListenerDescriptions", "Subnets", "Scheme", "HealthCheck"):
        assert after[field] == before[field], field
    tags = (await elb.describe_tags(LoadBalancerNames=[name]))["TagDescriptions"][0]["Tags"]
    assert {"Key": "team", "Value": "web"} in tags


async def test_requests_after_approval_skip_it(aws: AwsClients, ledger: Any, make_deps: Any) -> None:
    name = await _balancer(aws, "revived-elb")
    finding = await finding_of(aws, "classic-load-balancer", name, check_name="no-requests")
    event = await approve(ledger, finding)
    await put(aws, REQUESTS, name, 3, days_ago=0.01)
    await handle_approval(event, make_deps())
    assert await _exists(aws, name)
    assert (await state_of(ledger, finding.key)).state is State.SKIPPED


# --- nothing behind it: the `no-instances` check -------------------------------------------------


def _usage(requests: float = 0) -> Usage:
    return Usage(timedelta(days=32), {REQUESTS.name: requests})


def _observed(instances: int) -> Observation:
    facts = {"name": "elb", "instances": instances, "healthy_instances": 0}
    return Observation("elb", facts, {}, datetime.now(UTC) - timedelta(days=90))


def test_no_instance_is_no_instances_waste_whatever_its_traffic_and_not_also_no_requests() -> None:
    empty = _observed(instances=0)
    reason = "nothing behind it: no instance registered, so every request it gets fails"
    assert NoInstances().verdict(empty, None) == reason
    assert NoInstances().verdict(empty, _usage(4200)) == reason  # the traffic is errors
    assert NoRequests().verdict(empty, _usage()) is None  # one card per load balancer
    assert NoInstances().verdict(_observed(instances=1), None) is None
    assert NoRequests().verdict(_observed(instances=1), _usage()) is not None
    assert NoInstances.min_age == timedelta(days=7)


async def test_no_instances_is_judged_on_what_is_registered(aws: AwsClients) -> None:
    empty = await _balancer(aws, "legacy-api-elb", instance=False)
    await put(aws, REQUESTS, empty, 4200, days_ago=1)  # called: its callers get 503s
    served = await _balancer(aws, "intranet-elb")
    await put(aws, REQUESTS, served, 950, days_ago=4)
    young = await _balancer(aws, "fresh-elb", days=3, instance=False)

    found = await verdicts(aws, "classic-load-balancer", check_name="no-instances")
    by_usage = await verdicts(aws, "classic-load-balancer", check_name="no-requests")

    assert found == {empty: "idle", served: "busy", young: "too-young"}  # a week's grace
    assert by_usage[empty] == "busy" and by_usage[served] == "busy"  # no second card for the empty one
    finding = await finding_of(aws, "classic-load-balancer", empty, check_name="no-instances")
    assert finding.facts["instances"] == 0
    assert finding.cost.monthly_usd == Decimal("730") * Decimal("0.025")
    advice = NoInstances().advise(finding, read_signals(finding), datetime.now(UTC))
    assert advice.recommendation == "delete" and "fails" in advice.summary


async def test_an_approved_balancer_with_no_instance_is_deleted(
    aws: AwsClients, ledger: Any, make_deps: Any
) -> None:
    name = await _balancer(aws, "legacy-api-elb", instance=False)
    finding = await finding_of(aws, "classic-load-balancer", name, check_name="no-instances")
    await handle_approval(await approve(ledger, finding), make_deps())
    assert not await _exists(aws, name)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED and decision.get("action") == "delete_classic_load_balancer"


async def test_an_instance_registered_after_approval_skips_it(
    aws: AwsClients, ledger: Any, make_deps: Any
) -> None:
    name = await _balancer(aws, "coming-back-elb", instance=False)
    finding = await finding_of(aws, "classic-load-balancer", name, check_name="no-instances")
    event = await approve(ledger, finding)
    await _register(aws, name)
    await handle_approval(event, make_deps())
    assert await _exists(aws, name)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.SKIPPED and "instance was registered" in decision.get("skip_reason")
