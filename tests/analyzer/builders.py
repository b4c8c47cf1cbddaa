"""Realistic findings for analyzer tests, shaped like the scanner's (same facts, tags and cost lines)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.events import CostEstimate, CostLine, DecisionKey, Finding
from shared.kinds.base import Observation
from shared.kinds.ebs_volume.unattached import Unattached
from shared.kinds.elastic_ip import Unassociated

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# The checks' own reasons, as the scanner records them.
VOLUME_IDLE = Unattached().verdict(Observation("vol-x", {"state": "available"}), None)
ADDRESS_IDLE = Unassociated().verdict(Observation("eipalloc-x", {"associated": False}), None)
SNAPSHOT_GB_MONTH = Decimal("0.05")
GB_MONTH = {"gp2": "0.10", "gp3": "0.08", "io1": "0.125", "io2": "0.125", "st1": "0.045", "sc1": "0.015"}


def volume(
    resource_id: str = "vol-0a1b2c3d4e5f60718",
    *,
    volume_type: str = "gp3",
    size: int = 200,
    iops: int | None = 3000,
    name: str | None = "app-data-1",
    tags: dict[str, str] | None = None,
    source_snapshot_id: str | None = None,
    idle_days: int = 20,
    age_days: int = 120,
    scan_id: str = "scan-1",
    region: str = "us-east-1",
) -> Finding:
    all_tags = dict(tags or {})
    if name is not None:
        all_tags.setdefault("Name", name)
    storage = Decimal(size) * Decimal(GB_MONTH[volume_type])
    lines = [
        CostLine(
            item=f"{volume_type} storage",
            quantity=Decimal(size),
            unit="GB-month",
            unit_price_usd=Decimal(GB_MONTH[volume_type]),
            monthly_usd=storage,
        )
    ]
    if volume_type in ("io1", "io2") and iops:
        iops_cost = Decimal(iops) * Decimal("0.065")
        lines.append(
            CostLine(
                item=f"{volume_type} provisioned IOPS",
                quantity=Decimal(iops),
                unit="IOPS-month",
                unit_price_usd=Decimal("0.065"),
                monthly_usd=iops_cost,
            )
        )
    monthly = sum((line.monthly_usd for line in lines), Decimal(0))
    snapshot = Decimal(size) * SNAPSHOT_GB_MONTH
    facts: dict[str, Any] = {
        "volume_type": volume_type,
        "size_gib": size,
        "iops": iops,
        "throughput_mibps": None,
        "availability_zone": f"{region}a",
        "encrypted": True,
        "source_snapshot_id": source_snapshot_id,
        "multi_attach": False,
        "state": "available",
        "name": all_tags.get("Name"),
    }
    return Finding(
        key=DecisionKey(
            account_id="123456789012",
            region=region,
            kind="ebs-volume",
            check="unattached",
            resource_id=resource_id,
        ),
        facts=facts,
        tags=all_tags,
        created_at=NOW - timedelta(days=age_days),
        idle_since=NOW - timedelta(days=idle_days),
        idle_reason=VOLUME_IDLE,
        cost=CostEstimate(
            monthly_usd=monthly,
            lines=tuple(lines),
            snapshot_monthly_usd=snapshot,
            net_monthly_saving_usd=monthly - snapshot,
            price_source="AWS public price list",
            price_date="2026-11-01",
            note="EBS snapshot storage is billed on data written, so size x price is an upper bound.",
        ),
        scan_id=scan_id,
    )


def address(
    resource_id: str = "eipalloc-0123456789abcdef0",
    *,
    name: str | None = None,
    tags: dict[str, str] | None = None,
    idle_days: int = 40,
    scan_id: str = "scan-1",
) -> Finding:
    all_tags = dict(tags or {})
    if name is not None:
        all_tags.setdefault("Name", name)
    monthly = Decimal("3.65")
    return Finding(
        key=DecisionKey(
            account_id="123456789012",
            region="eu-west-1",
            kind="elastic-ip",
            check="unassociated",
            resource_id=resource_id,
        ),
        facts={
            "public_ip": "203.0.113.10",
            "allocation_id": resource_id,
            "domain": "vpc",
            "network_border_group": "eu-west-1",
            "public_ipv4_pool": "amazon",
            "associated": False,
            "name": all_tags.get("Name"),
        },
        tags=all_tags,
        idle_since=NOW - timedelta(days=idle_days),
        idle_reason=ADDRESS_IDLE,
        cost=CostEstimate(
            monthly_usd=monthly,
            lines=(
                CostLine(
                    item="public IPv4 address",
                    quantity=Decimal(730),
                    unit="hour",
                    unit_price_usd=Decimal("0.005"),
                    monthly_usd=monthly,
                ),
            ),
            net_monthly_saving_usd=monthly,
            price_source="AWS public price list",
            price_date="2026-11-01",
            note="a released address cannot be recovered",
        ),
        scan_id=scan_id,
    )
