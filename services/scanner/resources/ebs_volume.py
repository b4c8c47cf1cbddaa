"""Unattached EBS volumes: state `available` means no instance is using them, yet they bill every GB."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

from services.scanner.pricing import RegionPrices, line, money, tiered
from services.scanner.resources.base import Detector, Observation, Pricing, detectors, tags_of

IDLE_REASON = "volume is unattached (state 'available'): it is billed for its size and used by no instance"


@detectors.register("ebs-volume")
class EbsVolume(Detector):
    kind = "ebs-volume"
    permissions = ("ec2:DescribeVolumes",)

    async def candidates(self, client: Any) -> AsyncIterator[Mapping[str, Any]]:
        paginator = client.get_paginator("describe_volumes")
        # Filtered server-side: attached volumes never cross the wire.
        async for page in paginator.paginate(
            Filters=[{"Name": "status", "Values": ["available"]}], PaginationConfig={"PageSize": 500}
        ):
            for volume in page.get("Volumes", []):
                yield volume

    def observe(self, raw: Mapping[str, Any]) -> Observation:
        state = raw.get("State")
        attachments = raw.get("Attachments") or []
        tags = tags_of(raw)
        facts = {
            "volume_type": raw.get("VolumeType"),
            "size_gib": int(raw.get("Size", 0)),
            "iops": raw.get("Iops"),
            "throughput_mibps": raw.get("Throughput"),
            "availability_zone": raw.get("AvailabilityZone"),
            "encrypted": bool(raw.get("Encrypted", False)),
            "source_snapshot_id": raw.get("SnapshotId") or None,
            "multi_attach": bool(raw.get("MultiAttachEnabled", False)),
            "state": state,
            "name": tags.get("Name"),
        }
        idle = state == "available" and not attachments
        return Observation(
            resource_id=raw["VolumeId"],
            facts=facts,
            tags=tags,
            created_at=raw.get("CreateTime"),
            idle_reason=IDLE_REASON if idle else None,
        )

    def price(self, observation: Observation, prices: RegionPrices, hours_per_month: int) -> Pricing:
        facts = observation.facts
        volume_type = str(facts.get("volume_type") or "gp2")
        size = int(facts.get("size_gib") or 0)
        table = prices.ebs.get(volume_type)
        note = None
        if table is None:
            table, note = (
                prices.ebs["gp2"],
                f"volume type {volume_type!r} not in the price table: priced as gp2",
            )
        lines = [line(f"{volume_type} storage", size, "GB-month", table.gb_month)]
        iops = int(facts.get("iops") or 0)
        if table.iops_tiers:
            for count, unit_price in tiered(iops, table.iops_tiers):
                lines.append(line(f"{volume_type} provisioned IOPS", count, "IOPS-month", unit_price))
        elif table.iops_month is not None and iops > table.iops_free:
            lines.append(
                line(
                    f"{volume_type} provisioned IOPS", iops - table.iops_free, "IOPS-month", table.iops_month
                )
            )
        throughput = int(facts.get("throughput_mibps") or 0)
        if table.throughput_month is not None and throughput > table.throughput_free:
            lines.append(
                line(
                    f"{volume_type} throughput",
                    throughput - table.throughput_free,
                    "MiBps-month",
                    table.throughput_month,
                )
            )
        snapshot = money(Decimal(size) * prices.snapshot_gb_month)
        return Pricing(lines=lines, snapshot_monthly_usd=snapshot, note=note)
