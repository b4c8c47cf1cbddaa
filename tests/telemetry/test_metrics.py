"""DogStatsD datagrams as the Agent receives them: the real scanner against moto, the executor's ROI line,
and the promise that a missing Agent never slows or breaks anything."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.scanner.handler import ScannerDeps, ScanPolicy, handle_scan
from shared.config import Settings
from shared.events import Envelope, ScanRequested
from shared.kinds.pricing import load_prices
from shared.telemetry import (
    DogStatsdMetrics,
    Telemetry,
    record_approval,
    record_execution,
    record_gemini_usage,
)
from shared.worker import Runtime
from tests.telemetry.conftest import ENV, VERSION, StatsdListener

ACCOUNT = "123456789012"


def _identity(service: str) -> dict[str, str]:
    return {"env": ENV, "version": VERSION, "service": service}


async def _seed_volumes(runtime: Runtime) -> list[str]:
    ec2 = await runtime.aws.client("ec2", "us-east-1")
    ids = []
    for volume_type, size in (("gp3", 100), ("gp2", 8)):
        made = await ec2.create_volume(AvailabilityZone="us-east-1a", Size=size, VolumeType=volume_type)
        ids.append(made["VolumeId"])
    return ids


async def test_a_scan_reports_idle_resources_and_waste_by_kind_region_account(
    runtime: Runtime, statsd: StatsdListener, make_settings: Callable[..., Settings]
) -> None:
    await _seed_volumes(runtime)
    telemetry = Telemetry.from_settings(make_settings())
    deps = ScannerDeps(
        aws=runtime.aws,
        ledger=runtime.ledger,
        prices=load_prices(),
        policy=ScanPolicy(regions=("us-east-1",), kinds=("ebs-volume", "elastic-ip")),
        clock=lambda: datetime.now(UTC) + timedelta(days=30),  # the volumes are old enough by then
        metrics=telemetry.stage("scanner").metrics,
    )
    found = await handle_scan(Envelope.wrap(ScanRequested()), deps)
    telemetry.close()
    statsd.wait_for(lambda got: any(d.name == "cloudthrift.scan.duration" for d in got))

    # gp3 100 GiB at $0.08 + gp2 8 GiB at $0.10 (prices.json, us-east-1)
    assert sum(f.finding.cost.monthly_usd for f in found) == Decimal("8.80")
    scanner = _identity("cloudthrift-scanner")
    volumes = {"kind": "ebs-volume", "region": "us-east-1", "account_id": ACCOUNT} | scanner
    addresses = volumes | {"kind": "elastic-ip"}
    gauges = {
        (d.name, d.tag_map["kind"]): d
        for d in statsd.datagrams
        if d.name.startswith("cloudthrift.scan.") and d.type == "g"
    }
    assert gauges[("cloudthrift.scan.idle_resources", "ebs-volume")].value == 2
    assert gauges[("cloudthrift.scan.waste_monthly_usd", "ebs-volume")].value == 8.8
    # A clean combination reports zero, so waste that was cleaned up falls to 0 on the dashboard.
    assert gauges[("cloudthrift.scan.idle_resources", "elastic-ip")].value == 0
    assert gauges[("cloudthrift.scan.waste_monthly_usd", "elastic-ip")].value == 0
    for (_, kind), datagram in gauges.items():
        assert datagram.tag_map == (volumes if kind == "ebs-volume" else addresses), datagram.raw
        assert len(datagram.tags) == len(datagram.tag_map)  # no duplicated env/service/version tags
    [announced] = statsd.named("cloudthrift.scan.announced")
    assert (announced.type, announced.value, announced.tag_map) == ("c", 2, volumes)
    [duration] = statsd.named("cloudthrift.scan.duration")
    assert duration.type == "d" and 0 < duration.value < 30
    assert duration.tag_map == {"account_id": ACCOUNT} | scanner
    assert not statsd.named("cloudthrift.scan.region_failures")


def test_an_execution_reports_its_outcome_and_the_monthly_cost_avoided(statsd: StatsdListener) -> None:
    metrics = DogStatsdMetrics.from_environment(env=ENV, version=VERSION).tagged(
        service="cloudthrift-executor"
    )
    record_execution(
        metrics,
        "executed",
        kind="ebs-volume",
        region="eu-west-1",
        account_id=ACCOUNT,
        dry_run=False,
        monthly_saving_usd=Decimal("36.25"),
    )
    record_execution(
        metrics,
        "skipped",
        kind="elastic-ip",
        region="eu-west-1",
        account_id=ACCOUNT,
        dry_run=False,
        monthly_saving_usd=Decimal("3.65"),
    )
    metrics.flush()
    statsd.wait_for(lambda got: len(got) >= 3)

    where = {"kind": "ebs-volume", "region": "eu-west-1", "account_id": ACCOUNT, "dry_run": "false"}
    executor = _identity("cloudthrift-executor")
    [avoided] = statsd.named("cloudthrift.cost_avoided.monthly_usd")  # only what was really executed
    assert avoided.raw.startswith("cloudthrift.cost_avoided.monthly_usd:36.25|c|#")
    assert avoided.tag_map == where | executor
    outcomes = {d.tag_map["outcome"]: d for d in statsd.named("cloudthrift.executions")}
    assert set(outcomes) == {"executed", "skipped"}
    assert outcomes["skipped"].tag_map == where | {"kind": "elastic-ip", "outcome": "skipped"} | executor
    assert all(d.value == 1 and d.type == "c" for d in outcomes.values())


def test_approvals_and_gemini_usage_are_one_line_each(statsd: StatsdListener) -> None:
    metrics = DogStatsdMetrics.from_environment(env=ENV, version=VERSION)
    record_approval(
        metrics.tagged(service="cloudthrift-interactions"), "snoozed", via="discord", kind="ebs-volume"
    )
    record_gemini_usage(
        metrics.tagged(service="cloudthrift-analyzer"),
        model="gemini-3.5-flash-lite",
        input_tokens=812,
        output_tokens=143,
        cost_usd=Decimal("0.000138"),
    )
    metrics.flush()
    got = statsd.wait_for(lambda got: len(got) >= 5)

    lines = sorted(d.raw.split("|#")[0] for d in got)
    assert lines == [
        "cloudthrift.approvals:1|c",
        "cloudthrift.gemini.calls:1|c",
        "cloudthrift.gemini.cost_usd:0.000138|c",
        "cloudthrift.gemini.tokens:143|c",
        "cloudthrift.gemini.tokens:812|c",
    ]
    [approval] = statsd.named("cloudthrift.approvals")
    assert approval.tag_map == {"decision": "snoozed", "via": "discord", "kind": "ebs-volume"} | _identity(
        "cloudthrift-interactions"
    )
    tokens = {d.tag_map["direction"]: d.value for d in statsd.named("cloudthrift.gemini.tokens")}
    assert tokens == {"input": 812, "output": 143}


def test_no_agent_listening_costs_nothing_and_raises_nothing(monkeypatch) -> None:
    """Datadog absent or down: a closed port, then a name that does not resolve."""
    monkeypatch.delenv("DD_DOGSTATSD_DISABLE", raising=False)
    for address in ("udp://127.0.0.1:9", "udp://agent.cloudthrift.invalid:8125"):
        monkeypatch.setenv("DD_DOGSTATSD_URL", address)
        metrics = DogStatsdMetrics.from_environment(env=ENV, version=VERSION).tagged(
            service="cloudthrift-scanner"
        )
        started = time.perf_counter()
        for index in range(2_000):
            metrics.increment("cloudthrift.stage.messages", tags={"stage": "scanner", "n": index % 7})
            metrics.distribution("cloudthrift.queue.lag", 0.25, tags={"queue": "scan"})
        elapsed = time.perf_counter() - started
        metrics.close(timeout=0.5)
        closed = time.perf_counter() - started - elapsed
        # 4,000 calls only enqueue for the sender thread: well under a millisecond each, even on a busy box;
        # and shutting down does not wait out a DNS timeout (5 s here) for an Agent that is not there.
        assert elapsed < 2.0, (address, elapsed)
        assert closed < 1.5, (address, closed)
