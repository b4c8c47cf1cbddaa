"""Recycle Bin rules on the cards of the snapshot delete and AMI deregister remedies: moto has no Recycle
Bin, so the proxy in front of it answers rbin's ListRules and GetRule from rules each test sets; with
none set, rbin requests reach moto, which does not serve them (an endpoint without Recycle Bin)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiobotocore.session import AioSession

from services.estate import moto_backdater
from services.notifier.cards import undo_text
from services.scanner.rules import build_finding
from shared.aws import AwsClients, RegionClients
from shared.config import Settings
from shared.events import DecisionKey, Finding
from shared.kinds import check_named, kind_named
from shared.kinds.base import Observation
from shared.kinds.pricing import load_prices
from shared.kinds.recycle_bin import KNOWN_FACT, RULE_FACT
from shared.kinds.signals import read_signals
from tests.executor.helpers import ACCOUNT, REGION
from tests.fakes.aws_proxy import AwsProxy

NOW = datetime.now(UTC)


def rule(identifier: str, resource_type: str, days: int, **tags: str) -> dict[str, object]:
    resource_tags = [{"ResourceTagKey": k, "ResourceTagValue": v} for k, v in tags.items()]
    period = {"RetentionPeriodValue": days, "RetentionPeriodUnit": "DAYS"}
    return {"Identifier": identifier, "ResourceType": resource_type, "RetentionPeriod": period,
            "ResourceTags": resource_tags}  # fmt: skip


@pytest.fixture
def rules() -> dict[str, list[dict[str, object]]]:
    """What the proxy's Recycle Bin holds, by region; each test fills it before scanning."""
    return {}


@pytest.fixture
async def proxy(moto_endpoint: str, rules: dict[str, list[dict[str, object]]]) -> AsyncIterator[AwsProxy]:
    started = AwsProxy(moto_endpoint, recycle_bin=rules)
    await started.start()
    yield started
    await started.stop()


@pytest.fixture
async def served(
    proxy: AwsProxy, make_settings: Callable[..., Settings], aws_session: AioSession
) -> AsyncIterator[AwsClients]:
    async with AwsClients(make_settings(aws_endpoint_url=proxy.endpoint), session=aws_session) as aws:
        yield aws


@pytest.fixture
async def unserved(
    make_settings: Callable[..., Settings], aws_session: AioSession
) -> AsyncIterator[AwsClients]:
    async with AwsClients(make_settings(), session=aws_session) as aws:  # plain moto
        yield aws


async def old_snapshot(aws: AwsClients, tags: dict[str, str]) -> str:
    """An old snapshot whose volume lives on: the proposed remedy is delete (Old.remedy_order)."""
    ec2 = await aws.client("ec2", REGION)
    volume = await ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=10, VolumeType="gp3")
    spec = [{"ResourceType": "snapshot", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    made = await ec2.create_snapshot(VolumeId=volume["VolumeId"], TagSpecifications=spec)
    moto_backdater()(REGION, "snapshots", made["SnapshotId"], "start_time", NOW - timedelta(days=200))
    return str(made["SnapshotId"])


async def listed(aws: AwsClients, kind_name: str, ids: set[str]) -> dict[str, Observation]:
    kind = kind_named(kind_name)
    observations = [kind.observe(raw) async for raw in kind.list(RegionClients(aws, REGION), ())]
    return {o.resource_id: o for o in observations if o.resource_id in ids}


def card_of(kind: str, check_name: str, observation: Observation) -> tuple[Finding, str]:
    check = check_named(kind, check_name)
    reason = check.verdict(observation, None)
    assert reason is not None
    key = DecisionKey(account_id=ACCOUNT, region=REGION, kind=kind, check=check_name,
                      resource_id=observation.resource_id)  # fmt: skip
    finding = build_finding(check, observation, reason, key, load_prices(), now=NOW, scan_id="scan-rbin")
    return finding, undo_text(finding)


async def test_a_region_rule_is_read_once_per_listing_and_named_on_the_card(
    served: AwsClients, proxy: AwsProxy, rules: dict[str, list[dict[str, object]]]
) -> None:
    rules[REGION] = [rule("rbin-images", "EC2_IMAGE", 30), rule("rbin-snaps", "EBS_SNAPSHOT", 7)]
    rules["eu-west-1"] = [rule("rbin-elsewhere", "EBS_SNAPSHOT", 90)]
    ids = {await old_snapshot(served, {"Name": f"s{n}"}) for n in range(3)}
    proxy.calls.clear()
    observations = await listed(served, "ebs-snapshot", ids)
    assert {o.facts[RULE_FACT] for o in observations.values()} == {"rbin-snaps (retained 7 days)"}
    assert proxy.count("rbin") == 2  # one ListRules page, one GetRule: per region, not per snapshot
    finding, undo = card_of("ebs-snapshot", "old", next(iter(observations.values())))
    assert finding.cost.choices[0].remedy == "delete"
    assert "recoverable from the Recycle Bin for 7 days under rule rbin-snaps" in undo


async def test_a_tag_rule_covers_only_the_snapshots_carrying_its_tag(
    served: AwsClients, rules: dict[str, list[dict[str, object]]]
) -> None:
    rules[REGION] = [
        rule("rbin-dev", "EBS_SNAPSHOT", 14, env="dev"),
        rule("rbin-x", "EBS_SNAPSHOT", 1, x="y"),
    ]
    dev, prod = await old_snapshot(served, {"env": "dev"}), await old_snapshot(served, {"env": "prod"})
    observations = await listed(served, "ebs-snapshot", {dev, prod})
    assert observations[dev].facts[RULE_FACT] == "rbin-dev (retained 14 days)"  # second page read too
    assert observations[prod].facts[RULE_FACT] is None and observations[prod].facts[KNOWN_FACT] is True
    _, undo = card_of("ebs-snapshot", "old", observations[prod])
    assert "cannot be undone (no Recycle Bin rule covers it)" in undo


async def test_no_rule_at_all_says_it_cannot_be_undone(served: AwsClients) -> None:
    snapshot_id = await old_snapshot(served, {"Name": "lonely"})
    observation = (await listed(served, "ebs-snapshot", {snapshot_id}))[snapshot_id]
    assert observation.facts[RULE_FACT] is None and observation.facts[KNOWN_FACT] is True
    finding, undo = card_of("ebs-snapshot", "old", observation)
    assert "cannot be undone (no Recycle Bin rule covers it)" in undo
    advice = check_named("ebs-snapshot", "old").advise(finding, read_signals(finding), NOW)
    assert "Deleted, it cannot be undone (no Recycle Bin rule covers it)" in advice.summary  # the analysis


async def test_an_endpoint_without_recycle_bin_leaves_it_unknown_and_the_scan_works(
    unserved: AwsClients,
) -> None:
    snapshot_id = await old_snapshot(unserved, {"Name": "somewhere"})
    observation = (await listed(unserved, "ebs-snapshot", {snapshot_id}))[snapshot_id]
    assert observation.facts[RULE_FACT] is None and observation.facts[KNOWN_FACT] is False
    _, undo = card_of("ebs-snapshot", "old", observation)
    assert "not known" in undo and "no Recycle Bin rule covers it" not in undo


async def test_an_ami_rule_is_named_on_the_deregister_card(
    served: AwsClients, rules: dict[str, list[dict[str, object]]]
) -> None:
    rules[REGION] = [rule("rbin-snaps", "EBS_SNAPSHOT", 7), rule("rbin-amis", "EC2_IMAGE", 21)]
    ec2 = await served.client("ec2", REGION)
    reservation = await ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
    instance_id = reservation["Instances"][0]["InstanceId"]
    image_id = (await ec2.create_image(InstanceId=instance_id, Name="old-release"))["ImageId"]
    await ec2.terminate_instances(InstanceIds=[instance_id])
    moto_backdater()(REGION, "amis", image_id, "creation_date", NOW - timedelta(days=200))
    observation = (await listed(served, "ami", {image_id}))[image_id]
    assert observation.facts[RULE_FACT] == "rbin-amis (retained 21 days)"
    finding, undo = card_of("ami", "unused", observation)
    advice = check_named("ami", "unused").advise(finding, read_signals(finding), NOW)
    assert "the image is recoverable from the Recycle Bin for 21 days under rule rbin-amis" in advice.summary
    assert "recoverable from the Recycle Bin for 21 days under rule rbin-amis" in undo


async def test_an_endpoint_without_recycle_bin_is_asked_once_not_at_every_listing(
    moto_endpoint: str, make_settings: Callable[..., Settings], aws_session: AioSession
) -> None:
    """botocore retries the failure (4 attempts, ~1.4 s): paid at every listing and every executor
    re-check of a snapshot or AMI on the embedded AWS until the endpoint was remembered."""
    plain = AwsProxy(moto_endpoint)  # passes everything to moto, which has no Recycle Bin
    await plain.start()
    try:
        settings = make_settings(aws_endpoint_url=plain.endpoint)
        async with AwsClients(settings, session=aws_session) as aws:
            snapshot_id = await old_snapshot(aws, {"Name": "twice"})
            first = (await listed(aws, "ebs-snapshot", {snapshot_id}))[snapshot_id]
            asked = plain.count("rbin")
            second = (await listed(aws, "ebs-snapshot", {snapshot_id}))[snapshot_id]
        assert asked >= 1 and plain.count("rbin") == asked
        assert first.facts == second.facts and second.facts[KNOWN_FACT] is False
    finally:
        await plain.stop()
