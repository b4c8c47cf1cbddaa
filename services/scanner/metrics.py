"""What a scan tells Datadog: idle resources and their monthly cost per kind, region and account.

Gauges are sent for every (region, kind) the scan covered, zeros included: a combination whose waste
was cleaned up must fall to 0 on the dashboard, not keep showing its last non-zero value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal

from shared.events import Finding
from shared.telemetry import Metrics


def report_scan(
    metrics: Metrics,
    *,
    account_id: str,
    scanned: Iterable[tuple[str, str]],
    found: Mapping[tuple[str, str], int],
    waste: Mapping[tuple[str, str], Decimal],
    failed_regions: Iterable[str],
    announced: Iterable[Finding],
    duration_s: float,
) -> None:
    """`scanned` holds (region, kind) pairs; `found` and `waste` are keyed by (kind, region)."""
    for region, kind in sorted(scanned):
        tags = {"kind": kind, "region": region, "account_id": account_id}
        metrics.gauge("cloudthrift.scan.idle_resources", found.get((kind, region), 0), tags)
        metrics.gauge("cloudthrift.scan.waste_monthly_usd", waste.get((kind, region), Decimal(0)), tags)
    for (kind, region), count in sorted(Counter((f.kind, f.key.region) for f in announced).items()):
        tags = {"kind": kind, "region": region, "account_id": account_id}
        metrics.increment("cloudthrift.scan.announced", count, tags)
    for region in sorted(failed_regions):
        metrics.increment(
            "cloudthrift.scan.region_failures", tags={"region": region, "account_id": account_id}
        )
    metrics.distribution("cloudthrift.scan.duration", duration_s, {"account_id": account_id})
