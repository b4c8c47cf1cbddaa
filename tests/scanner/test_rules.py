"""Pure scanner rules: what is idle, what it costs (figures worked out by hand from prices.json)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.scanner.rules import ScanPolicy, build_finding, classify
from shared.events import DecisionKey
from shared.kinds import Check, check_named, kind_named
from shared.kinds.base import Observation
from shared.kinds.pricing import load_prices, tiered

NOW = datetime(2026, 11, 25, tzinfo=UTC)
POLICY = ScanPolicy(min_age=timedelta(days=7))


def volume(**overrides):
    raw = {
        "VolumeId": "vol-1",
        "State": "available",
        "Attachments": [],
        "Size": 100,
        "VolumeType": "gp2",
        "CreateTime": NOW - timedelta(days=30),
        "AvailabilityZone": "us-east-1a",
        "Tags": [],
    }
    raw.update(overrides)
    return kind_named("ebs-volume").observe(raw)


def address(**overrides):
    raw = {"PublicIp": "203.0.113.7", "AllocationId": "eipalloc-1", "Domain": "vpc", "Tags": []}
    raw.update(overrides)
    return kind_named("elastic-ip").observe(raw)


def check_of(observation: Observation) -> Check:
    """The check each of today's kinds is found by."""
    if observation.resource_id.startswith("vol-"):
        return check_named("ebs-volume", "unattached")
    return check_named("elastic-ip", "unassociated")


def cost(observation: Observation, region: str = "us-east-1"):
    check = check_of(observation)
    key = DecisionKey(
        account_id="123456789012",
        region=region,
        kind=check.kind.name,
        check=check.name,
        resource_id=observation.resource_id,
    )
    return build_finding(check, observation, "idle", key, load_prices(), now=NOW, scan_id="s").cost


@pytest.mark.parametrize(
    ("observation", "verdict"),
    [
        (volume(), "idle"),
        (volume(State="in-use", Attachments=[{"InstanceId": "i-1"}]), "busy"),
        (volume(Tags=[{"Key": "cloudthrift:keep", "Value": ""}]), "opted-out"),
        (volume(CreateTime=NOW - timedelta(days=2)), "too-young"),
        (address(), "idle"),
        (address(AssociationId="eipassoc-1", InstanceId="i-1"), "busy"),
        # On a NAT gateway or a bare ENI: no InstanceId, but associated, so in use.
        (address(AssociationId="eipassoc-2", NetworkInterfaceId="eni-1"), "busy"),
        (address(Tags=[{"Key": "cloudthrift:keep", "Value": "allow-listed"}]), "opted-out"),
    ],
)
def test_classify(observation: Observation, verdict: str) -> None:
    found, reason = classify(check_of(observation), observation, None, POLICY, NOW)
    assert found == verdict
    assert (reason is not None) == (verdict == "idle")


@pytest.mark.parametrize(
    ("raw", "region", "monthly", "snapshot"),
    [
        ({"VolumeType": "gp2", "Size": 100}, "us-east-1", "10.00", "5.00"),
        # gp3: 3,000 IOPS and 125 MiB/s are free; 200 GiB*0.08 + 3000*0.005 + 125*0.04
        ({"VolumeType": "gp3", "Size": 200, "Iops": 6000, "Throughput": 250}, "us-east-1", "36.00", "10.00"),
        ({"VolumeType": "gp3", "Size": 200, "Iops": 3000, "Throughput": 125}, "us-east-1", "16.00", "10.00"),
        # io1: every provisioned IOPS is billed: 100*0.125 + 5000*0.065
        ({"VolumeType": "io1", "Size": 100, "Iops": 5000}, "us-east-1", "337.50", "5.00"),
        # io2 tiers: 200*0.125 + 32000*0.065 + 8000*0.0455
        ({"VolumeType": "io2", "Size": 200, "Iops": 40000}, "us-east-1", "2469.00", "10.00"),
        ({"VolumeType": "st1", "Size": 500}, "us-east-1", "22.50", "25.00"),
        ({"VolumeType": "sc1", "Size": 1000}, "eu-west-1", "16.80", "50.00"),
        ({"VolumeType": "standard", "Size": 50}, "ap-southeast-1", "4.00", "2.50"),
        ({"VolumeType": "gp2", "Size": 100}, "eu-central-1", "11.90", "5.40"),
    ],
)
def test_volume_costs_match_the_price_table(raw: dict, region: str, monthly: str, snapshot: str) -> None:
    estimate = cost(volume(**raw), region)
    assert estimate.monthly_usd == Decimal(monthly)
    assert estimate.snapshot_monthly_usd == Decimal(snapshot)
    assert estimate.net_monthly_saving_usd == Decimal(monthly) - Decimal(snapshot)
    assert estimate.price_date == load_prices().as_of
    assert "upper bound" in estimate.note


def test_cold_volumes_cost_less_than_their_snapshot_and_the_estimate_says_so() -> None:
    estimate = cost(volume(VolumeType="sc1", Size=1000))
    assert estimate.net_monthly_saving_usd < 0


def test_public_ipv4_costs_730_hours_at_half_a_cent() -> None:
    estimate = cost(address())
    assert estimate.monthly_usd == Decimal("3.65") == estimate.net_monthly_saving_usd
    assert estimate.snapshot_monthly_usd == 0


def test_a_region_missing_from_the_table_is_priced_with_the_fallback_and_says_so() -> None:
    estimate = cost(volume(), "me-central-1")
    assert estimate.monthly_usd == Decimal("10.00")
    assert "us-east-1 prices: me-central-1 is not in the table" in estimate.price_source


def test_tiers_split_a_quantity() -> None:
    tiers = ((32000, Decimal("0.065")), (64000, Decimal("0.0455")), (None, Decimal("0.032")))
    assert tiered(70000, tiers) == [
        (32000, Decimal("0.065")),
        (32000, Decimal("0.0455")),
        (6000, Decimal("0.032")),
    ]
    assert tiered(1000, tiers) == [(1000, Decimal("0.065"))]
    assert tiered(0, tiers) == []
