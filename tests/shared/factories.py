"""Small builders of valid domain objects for tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from shared.events import CostEstimate, DecisionKey, Finding


def finding(
    resource_id: str = "vol-0123456789abcdef0",
    *,
    region: str = "us-east-1",
    size: int = 100,
    tags: dict[str, str] | None = None,
    scan_id: str = "scan-1",
) -> Finding:
    return Finding(
        key=DecisionKey(
            account_id="123456789012",
            region=region,
            kind="ebs-volume",
            check="unattached",
            resource_id=resource_id,
        ),
        facts={"volume_type": "gp3", "size_gib": size, "state": "available"},
        tags=tags or {},
        idle_since=datetime(2026, 11, 1, tzinfo=UTC),
        idle_reason="unattached",
        cost=CostEstimate(
            monthly_usd=Decimal("8.00"),
            net_monthly_saving_usd=Decimal("3.00"),
            snapshot_monthly_usd=Decimal("5.00"),
            price_source="test table",
            price_date="2026-11-01",
        ),
        scan_id=scan_id,
    )
