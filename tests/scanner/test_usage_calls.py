"""The kinds idle by usage read CloudWatch in bulk (issue 16): one scan of the demo estate makes one
GetMetricData call per region and usage check, whatever the number of resources, counted at a proxy
in front of moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.estate import DEMO_REGIONS, moto_backdater, seed_estate
from services.scanner.handler import ScannerDeps, ScanPolicy, handle_scan
from shared.events import Envelope, ScanRequested
from shared.kinds import discover
from shared.kinds.pricing import load_prices
from shared.worker import Runtime
from tests.fakes.aws_proxy import AwsProxy

USAGE_KINDS = ("nat-gateway", "load-balancer", "classic-load-balancer", "rds-instance")


@pytest.mark.timeout(300)  # three regions of the demo's usage kinds on a shared 2-core machine
async def test_a_demo_scan_reads_usage_with_one_call_per_region_and_usage_check(
    counted: tuple[Runtime, AwsProxy],
) -> None:
    runtime, proxy = counted
    now = datetime.now(UTC)
    estate = await seed_estate(
        runtime.aws, DEMO_REGIONS, backdate=moto_backdater(), now=now, kinds=USAGE_KINDS
    )
    proxy.by_region.clear()
    deps = ScannerDeps(
        aws=runtime.aws,
        ledger=runtime.ledger,
        prices=load_prices(),
        policy=ScanPolicy(regions=DEMO_REGIONS, kinds=USAGE_KINDS, min_age=timedelta(days=7)),
        clock=lambda: now,
    )

    found = await handle_scan(Envelope.wrap(ScanRequested()), deps)

    usage_checks = [c for k in USAGE_KINDS for _, c in discover().get(k).checks if c.metrics]
    assert len(usage_checks) == 4  # nat no-traffic, alb/nlb and clb no-requests, rds no-connections
    for region in DEMO_REGIONS:
        resources = sum(1 for seeded in estate if seeded.region == region)
        calls = proxy.by_region[f"{region} monitoring:GetMetricData"]
        assert calls == len(usage_checks), region  # one bulk call a check (under 500 queries each)
        assert calls < resources / 3, region  # never one a resource
    assert {f.finding.kind for f in found} == set(USAGE_KINDS)
