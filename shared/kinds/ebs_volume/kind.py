"""EBS volumes as a kind: listing, describing, reading, pricing and seeding them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from shared.events import FactValue
from shared.kinds import register
from shared.kinds.base import Clients, Kind, Observation, Priced, tags_of
from shared.kinds.estate import Estate, tag_spec
from shared.kinds.pricing import Rates, line, tiered

# Included in gp3's price at no charge (https://aws.amazon.com/ebs/pricing/): only what is above bills.
GP3_FREE_IOPS, GP3_FREE_THROUGHPUT = 3000, 125
IO2_TIER_BOUNDS = (32_000, 64_000, None)  # io2 IOPS price tiers
VOLUME_TYPES = ("gp2", "gp3", "io1", "io2", "st1", "sc1", "standard")
# What the unattached and in-use gp2 checks list: the same filter, so the scanner makes one listing of
# the region's volumes for both and counts each volume once (attached ones as busy, which the scan
# summary must show: an operator reading "0 busy" would think they were never looked at). One
# DescribeVolumes page per 500 volumes; creating, deleting and error volumes are nobody's finding.
LISTED_VOLUMES = ({"Name": "status", "Values": ["available", "in-use"]},)


@register
class EbsVolume(Kind):
    name = "ebs-volume"
    summary = "EBS volume"
    permissions = ("ec2:DescribeVolumes",)
    gone_codes = frozenset({"InvalidVolume.NotFound"})
    gemini_facts = frozenset(
        {"volume_type", "size_gib", "iops", "throughput_mibps", "availability_zone", "encrypted",
         "source_snapshot_id", "multi_attach", "state", "name"}
    )  # fmt: skip
    dimensions = (
        *(f"ebs.{t}.gb_month" for t in VOLUME_TYPES),
        "ebs.gp3.iops_month",
        "ebs.gp3.throughput_month",
        "ebs.io1.iops_month",
        *(f"ebs.io2.iops_month.tier{n}" for n in (1, 2, 3)),
        "ebs.snapshot.gb_month",
        "ebs.snapshot.archive_gb_month",
    )

    async def list(
        self, clients: Clients, filters: tuple[Mapping[str, Any], ...]
    ) -> AsyncIterator[Mapping[str, Any]]:
        ec2 = await clients("ec2")
        paginator = ec2.get_paginator("describe_volumes")
        async for page in paginator.paginate(Filters=list(filters), PaginationConfig={"PageSize": 500}):
            for volume in page.get("Volumes", []):
                yield volume

    async def describe(self, clients: Clients, resource_id: str) -> Mapping[str, Any] | None:
        ec2 = await clients("ec2")
        try:
            answer = await ec2.describe_volumes(VolumeIds=[resource_id])
        except Exception as exc:
            if self.is_gone(exc):
                return None
            raise
        volumes = answer.get("Volumes") or []
        return volumes[0] if volumes else None

    def is_going(self, raw: Mapping[str, Any]) -> bool:
        return raw.get("State") in ("deleting", "deleted")

    def observe(self, raw: Mapping[str, Any]) -> Observation:
        tags = tags_of(raw)
        facts: dict[str, FactValue] = {
            "volume_type": raw.get("VolumeType"),
            "size_gib": int(raw.get("Size", 0)),
            "iops": raw.get("Iops"),
            "throughput_mibps": raw.get("Throughput"),
            "availability_zone": raw.get("AvailabilityZone"),
            "encrypted": bool(raw.get("Encrypted", False)),
            "source_snapshot_id": raw.get("SnapshotId") or None,
            "multi_attach": bool(raw.get("MultiAttachEnabled", False)),
            "state": raw.get("State"),
            "name": tags.get("Name"),
        }
        return Observation(raw["VolumeId"], facts, tags, raw.get("CreateTime"))

    def price(self, observation: Observation, rates: Rates) -> Priced:
        facts = observation.facts
        vtype = str(facts.get("volume_type") or "gp2")
        size = int(facts.get("size_gib") or 0)
        note = None
        priced_as = vtype
        if f"ebs.{vtype}.gb_month" not in rates:
            priced_as, note = "gp2", f"volume type {vtype!r} not in the price table: priced as gp2"
        lines = [line(f"{vtype} storage", size, "GB-month", rates[f"ebs.{priced_as}.gb_month"])]
        iops, throughput = int(facts.get("iops") or 0), int(facts.get("throughput_mibps") or 0)
        if priced_as == "io2":
            tiers = tuple(
                (bound, rates[f"ebs.io2.iops_month.tier{n}"]) for n, bound in enumerate(IO2_TIER_BOUNDS, 1)
            )
            for count, unit_price in tiered(iops, tiers):
                lines.append(line(f"{vtype} provisioned IOPS", count, "IOPS-month", unit_price))
        elif priced_as == "io1" and iops:
            lines.append(line(f"{vtype} provisioned IOPS", iops, "IOPS-month", rates["ebs.io1.iops_month"]))
        elif priced_as == "gp3":
            if iops > GP3_FREE_IOPS:
                extra = iops - GP3_FREE_IOPS
                lines.append(
                    line(f"{vtype} provisioned IOPS", extra, "IOPS-month", rates["ebs.gp3.iops_month"])
                )
            if throughput > GP3_FREE_THROUGHPUT:
                extra = throughput - GP3_FREE_THROUGHPUT
                lines.append(
                    line(f"{vtype} throughput", extra, "MiBps-month", rates["ebs.gp3.throughput_month"])
                )
        return Priced(lines, note)

    def details(self, facts: Mapping[str, FactValue]) -> str:
        return f"{facts.get('volume_type')} {facts.get('size_gib')} GiB"

    async def seed(self, estate: Estate) -> None:
        ec2 = await estate.clients("ec2")

        async def volume(vtype: str, size: int, tags: dict[str, str], expect: Any, **extra: int) -> str:
            created = await ec2.create_volume(
                AvailabilityZone=estate.zone, Size=size, VolumeType=vtype,
                TagSpecifications=tag_spec("volume", tags), **extra,
            )  # fmt: skip
            volume_id = str(created["VolumeId"])
            if expect != "too-young":
                estate.backdate("volumes", volume_id, "create_time", estate.old)
            estate.add(self.name, volume_id, expect, type=vtype, size=size, **extra)
            return volume_id

        for vtype, size, extra, name in IDLE_VOLUMES:
            await volume(vtype, size, {"Name": name, "team": "platform"}, "idle", **extra)
        await volume("gp2", 250, {"Name": "dr-restore-point", "cloudthrift:keep": "legal hold"}, "opted-out")
        await volume("gp3", 100, {"Name": "just-provisioned"}, "too-young")
        # Attached: busy for the unattached check; the gp2 ones are the in-use-gp2 check's examples.
        for device, (vtype, size, name, expect) in zip(DEVICES, ATTACHED_VOLUMES, strict=False):
            tags = {"Name": name} | (
                {"cloudthrift:keep": "vendor-certified config"} if expect == "opted-out" else {}
            )
            volume_id = await volume(vtype, size, tags, expect)
            await ec2.attach_volume(VolumeId=volume_id, InstanceId=estate.instance_id, Device=device)
        # The shared instance's own root volume (moto makes it gp2, 8 GiB), created just now.
        answer = await ec2.describe_volumes(
            Filters=[{"Name": "attachment.instance-id", "Values": [estate.instance_id]},
                     {"Name": "attachment.device", "Values": ["/dev/sda1", "/dev/xvda"]}]
        )  # fmt: skip
        for root in answer["Volumes"]:
            estate.add(self.name, root["VolumeId"], "too-young", type=root["VolumeType"], size=root["Size"])


DEVICES = tuple(f"/dev/sd{letter}" for letter in "fghijklmnop")
# Attached to the estate's instance: (type, size GiB, Name tag, expectation). A 200 GiB gp2 would cost
# more as gp3 (its 250 MiB/s burst is bought back), so it is never reported.
ATTACHED_VOLUMES: tuple[tuple[str, int, str, Any], ...] = (
    ("gp3", 30, "app-f", "busy"),
    ("gp2", 500, "orders-db-data", "idle"),
    ("gp2", 2000, "analytics-warehouse", "idle"),
    ("gp2", 50, "app-logs", "idle"),
    ("gp2", 200, "jenkins-home", "busy"),
    ("gp2", 100, "erp-legacy-data", "opted-out"),
)

# (volume type, size GiB, extra create arguments, Name tag): every type, cheap and expensive.
IDLE_VOLUMES: tuple[tuple[str, int, dict[str, int], str], ...] = (
    ("gp2", 8, {}, "old-bastion-root"),
    ("gp2", 100, {}, "jenkins-workspace-2023"),
    ("gp2", 500, {}, "elasticsearch-data-3"),
    ("gp3", 20, {}, "scratch"),
    ("gp3", 200, {"Iops": 6000, "Throughput": 250}, "postgres-migration-tmp"),
    ("gp3", 1000, {}, "ml-training-cache"),
    ("io1", 100, {"Iops": 5000}, "oracle-poc"),
    ("io2", 200, {"Iops": 40000}, "trading-db-replica-old"),
    ("st1", 500, {}, "log-archive"),
    ("st1", 2000, {}, "hadoop-hdfs-7"),
    ("sc1", 1000, {}, "cold-backups-2022"),
    ("standard", 50, {}, "legacy-magnetic"),
)
