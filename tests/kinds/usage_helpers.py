"""Helpers for the usage kinds' tests: CloudWatch datapoints put on moto, the scanner's verdict on
every resource of a kind (its own listing, bulk usage read and classification), and a finding built
the way the scanner builds it, for the executor to act on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.scanner.rules import ScanPolicy, Verdict, build_finding, classify
from shared.aws import AwsClients, RegionClients
from shared.events import DecisionKey, Finding
from shared.kinds import Kind, kind_named
from shared.kinds.base import Check, Metric
from shared.kinds.pricing import load_prices
from shared.kinds.usage import read_usage

ACCOUNT, REGION = "123456789012", "us-east-1"


async def put(aws: AwsClients, metric: Metric, value_of: str, value: float, days_ago: float) -> None:
    """One datapoint of `metric` for the resource whose dimension value is `value_of`."""
    cloudwatch = await aws.client("cloudwatch", REGION)
    await cloudwatch.put_metric_data(
        Namespace=metric.namespace,
        MetricData=[
            {
                "MetricName": metric.name,
                "Dimensions": [{"Name": metric.dimension, "Value": value_of}],
                "Timestamp": datetime.now(UTC) - timedelta(days=days_ago),
                "Value": value,
            }
        ],
    )


async def put_all(
    aws: AwsClients, metrics: Sequence[Metric], value_of: str, value: float, days_ago: float
) -> None:
    for metric in metrics:
        await put(aws, metric, value_of, value, days_ago)


def the_check(kind: Kind, name: str | None = None) -> Check:
    """The named check of the kind, or its only one."""
    if name is not None:
        return kind.checks.get(name)()
    [(_, check_class)] = list(kind.checks)
    return check_class()


async def verdicts(
    aws: AwsClients, kind_name: str, now: datetime | None = None, *, check_name: str | None = None
) -> dict[str, Verdict]:
    """What the scanner would say of every resource of the kind in REGION, with its own reads."""
    kind = kind_named(kind_name)
    check = the_check(kind, check_name)
    clients = RegionClients(aws, REGION)
    now = now or datetime.now(UTC)
    observations = [kind.observe(raw) async for raw in kind.list(clients, check.filters)]
    usage = await read_usage(clients, check.metrics, observations, window=check.window, now=now)
    policy = ScanPolicy(min_age=timedelta(0))
    return {o.resource_id: classify(check, o, usage.get(o.resource_id), policy, now)[0] for o in observations}


async def finding_of(
    aws: AwsClients, kind_name: str, resource_id: str, *, check_name: str | None = None
) -> Finding:
    """The finding the scanner makes of an idle resource now (kind's reading, usage, prices)."""
    kind = kind_named(kind_name)
    check = the_check(kind, check_name)
    clients = RegionClients(aws, REGION)
    raw = await kind.describe(clients, resource_id)
    assert raw is not None
    observation = kind.observe(raw)
    now = datetime.now(UTC)
    usage = await read_usage(clients, check.metrics, [observation], window=check.window, now=now)
    reason = check.verdict(observation, usage.get(resource_id))
    assert reason is not None, f"{resource_id} is not idle by {kind_name}"
    key = DecisionKey(
        account_id=ACCOUNT, region=REGION, kind=kind_name, check=check.name, resource_id=resource_id
    )
    return build_finding(check, observation, reason, key, load_prices(), now=now, scan_id="scan-test")


def backdate(collection: str, resource_id: str, attribute: str, days: int, service: str = "ec2") -> None:
    """Make a resource look `days` old in the in-process moto (the API cannot backdate)."""
    backends: Any
    if service == "ec2":
        from moto.ec2.models import ec2_backends as backends
    elif service == "elbv2":
        from moto.elbv2.models import elbv2_backends as backends
    elif service == "elb":
        from moto.elb.models import elb_backends as backends
    else:
        from moto.rds.models import rds_backends as backends
    resource = getattr(backends[ACCOUNT][REGION], collection)[resource_id]
    when = (datetime.now(UTC) - timedelta(days=days)).replace(tzinfo=None)
    setattr(resource, attribute, when)
