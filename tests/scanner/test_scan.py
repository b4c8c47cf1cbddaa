"""The scanner against a seeded estate on moto over HTTP: exactly the idle resources, priced, once."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from services.estate import DEMO_REGIONS, linux_image, moto_backdater, seed_estate
from services.scanner.handler import ScannerDeps, ScanPolicy, handle_scan
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.errors import UnsupportedResource
from shared.events import Envelope, Finding, ResourceFound, ScanRequested
from shared.kinds.estate import Seeded
from shared.kinds.pricing import load_prices
from shared.ledger import State
from shared.worker import Runtime, open_runtime

NOW = datetime.now(UTC)


def deps(runtime: Runtime, *, now: datetime = NOW, **policy) -> ScannerDeps:
    return ScannerDeps(
        aws=runtime.aws,
        ledger=runtime.ledger,
        prices=load_prices(),
        policy=ScanPolicy(**{"regions": DEMO_REGIONS, **policy}),
        clock=lambda: now,
    )


async def scan(runtime: Runtime, *, now: datetime = NOW, request: ScanRequested | None = None, **policy):
    return await handle_scan(Envelope.wrap(request or ScanRequested()), deps(runtime, now=now, **policy))


@pytest.fixture
async def estate(runtime: Runtime) -> list[Seeded]:
    return await seed_estate(runtime.aws, DEMO_REGIONS, backdate=moto_backdater(), now=NOW)


@dataclass(frozen=True)
class SeededScan:
    estate: list[Seeded]
    found: list[ResourceFound]
    logs: list[dict]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded_scan(moto_endpoint: str) -> SeededScan:
    """Seeding three regions is the slow part: the read-only assertions below share one seeded scan."""
    reset = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    await asyncio.to_thread(lambda: urllib.request.urlopen(reset).read())
    settings = Settings(_env_file=None, aws_endpoint_url=moto_endpoint)  # type: ignore[call-arg]
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
    async with open_runtime(settings) as runtime:
        estate = await seed_estate(runtime.aws, DEMO_REGIONS, backdate=moto_backdater(), now=NOW)
        with capture_logs() as logs:
            found = await scan(runtime)
    return SeededScan(estate, found, logs)


def test_finds_exactly_the_idle_resources_of_the_estate(seeded_scan: SeededScan) -> None:
    reported = {(f.finding.kind, f.finding.key.region, f.finding.key.resource_id) for f in seeded_scan.found}
    idle = {(s.kind, s.region, s.resource_id) for s in seeded_scan.estate if s.expectation == "idle"}
    assert reported == idle
    # Per region: 12 unattached and 3 in-use gp2 volumes, 4 old snapshots, 2 addresses, 2 NAT
    # gateways, 4 ALB/NLB (2 idle by usage, 2 with nothing behind them), 1 CLB, 3 DB instances, 3
    # long-stopped instances, 3 unused AMIs.
    assert len(idle) == 3 * 37
    for other in ("busy", "opted-out", "too-young"):
        others = {(s.kind, s.region, s.resource_id) for s in seeded_scan.estate if s.expectation == other}
        assert others and not reported & others, other


def test_costs_match_the_price_table(seeded_scan: SeededScan) -> None:
    east = [f.finding for f in seeded_scan.found if f.finding.key.region == "us-east-1"]
    us_east = [f for f in east if f.kind in ("ebs-volume", "ebs-snapshot", "elastic-ip")]
    # Worked out by hand from prices.json (us-east-1): twelve unattached volumes, three in-use gp2
    # volumes (500, 2,000 and 50 GiB: their gp2 bill), four old snapshots (500, 1,000, 100 GiB and
    # the 8 GiB root, on their volumes' size: moto reports no FullSnapshotSizeInBytes), then two
    # addresses at $3.65.
    volumes = [
        "0.80",
        "10.00",
        "50.00",
        "1.60",
        "36.00",
        "80.00",
        "337.50",
        "2469.00",
        "22.50",
        "90.00",
        "15.00",
        "2.50",
        "50.00",
        "200.00",
        "5.00",
        "25.00",
        "50.00",
        "5.00",
        "0.40",
    ]
    expected = sum(map(Decimal, volumes)) + 2 * Decimal("3.65")
    assert sum(f.cost.monthly_usd for f in us_east) == expected == Decimal("3457.60")
    gp2 = sorted(f.cost.net_monthly_saving_usd for f in us_east if f.check == "in-use-gp2")
    assert gp2 == [Decimal("0.88"), Decimal("5.00"), Decimal("20.00")]  # gp2 bill minus the gp3 one
    io2 = next(f for f in us_east if f.facts.get("volume_type") == "io2")
    assert [line.monthly_usd for line in io2.cost.lines] == [
        Decimal("25.00"),
        Decimal("2080.00"),
        Decimal("364.00"),
    ]
    assert all(f.cost.price_date == load_prices().as_of for f in east)
    by_kind = {
        kind: sum(f.cost.monthly_usd for f in east if f.kind == kind) for kind in {f.kind for f in east}
    }
    # Idle by usage (or with nothing behind it), us-east-1: two NAT gateways (730 h x ($0.045 +
    # $0.005 for the address)), four ALB/NLB at $0.0225/h, one CLB at $0.025/h, and DB instances:
    # mysql db.t3.medium 100 GiB (49.64 + 11.50), postgres db.m5.large Multi-AZ 200 GiB (2 x 129.94
    # + 2 x 23.00), and one of a class the table lacks, priced for its 20 GiB of storage only (2.30).
    assert by_kind["nat-gateway"] == Decimal("73.00")
    assert by_kind["load-balancer"] == Decimal("65.70")
    assert by_kind["classic-load-balancer"] == Decimal("18.25")
    assert by_kind["rds-instance"] == Decimal("369.32")
    # Long-stopped: their volumes (moto's 8 GiB gp2 root $0.80 each, then 500 GiB gp3 $40; 1,000 + 200
    # GiB gp3 $96; 250 GiB gp3 $20) and two addresses at $3.65. Unused AMIs: moto's 15 GiB snapshot each.
    assert by_kind["ec2-instance"] == Decimal("165.70")
    assert by_kind["ami"] == Decimal("2.25")
    [unknown] = [f for f in east if "price unknown" in str(f.cost.note)]
    assert unknown.kind == "rds-instance" and unknown.facts["instance_class"] == "db.x2g.large"


def test_each_scan_ends_with_one_summary_line(seeded_scan: SeededScan) -> None:
    [summary] = [entry for entry in seeded_scan.logs if entry["event"] == "scan.summary"]
    assert summary["idle_by_kind_region"]["ebs-volume/eu-west-1"] == 15
    assert summary["idle_by_kind_region"]["elastic-ip/ap-southeast-1"] == 2
    assert summary["idle_by_kind_region"]["nat-gateway/us-east-1"] == 2
    assert summary["idle_by_kind_region"]["rds-instance/eu-west-1"] == 3
    # Per region: opted out 2 volumes, 1 snapshot, 1 address, 1 NAT gateway, 1 ALB, 1 DB instance; too
    # young 1 volume, the instance's new gp2 root volume, a month-old snapshot, 1 NAT, 1 ALB, 1 CLB, 1 DB;
    # busy the snapshots of an AMI, of DLM, of AWS Backup and CloudThrift's own, 7 addresses (5 on NAT
    # gateways), 1 NAT, 3 ALB/NLB (one an HTTP-to-HTTPS redirector with no target), 1 CLB, 1 DB; a
    # 200 GiB gp2 that gp3 would not make cheaper. A resource counts once, however many checks it has
    # (a load balancer has two). Stopped instances and AMIs add per region: opted out 1 instance,
    # 1 AMI; too young 1 instance, 2 AMIs (the snapshot kind's golden image too) and 8 new gp2 root
    # volumes of the instances they seed; busy 2 instances (protected, in an ASG), 3 AMIs, 8 AMI
    # snapshots, the instances' volumes. Attached volumes are busy too: per region the 8 in-use gp3 ones
    # (app-f's, the instances' data volumes; attached gp2 ones are the gp2 check's findings or spared).
    assert summary["skipped"] == {"opted-out": 27, "too-young": 54, "busy": 120, "no-saving": 3}
    assert Decimal(summary["monthly_waste_usd"]) > Decimal("9000")
    assert summary["published"] == 111 and summary["duration_s"] >= 0


async def test_decided_resources_are_not_announced_again(runtime: Runtime, estate: list[Seeded]) -> None:
    first = await scan(runtime, request=ScanRequested(regions=("us-east-1",)))
    analyzed, waiting, rejected, snoozed = (f.finding for f in first[:4])
    await runtime.ledger.transition(analyzed.key, State.FOUND, State.ANALYZED)
    for finding, final in ((waiting, None), (rejected, State.REJECTED), (snoozed, State.SNOOZED)):
        await runtime.ledger.transition(finding.key, State.FOUND, State.ANALYZED)
        await runtime.ledger.transition(finding.key, State.ANALYZED, State.AWAITING_APPROVAL)
        if final is State.SNOOZED:
            await runtime.ledger.transition(
                finding.key,
                State.AWAITING_APPROVAL,
                final,
                fields={"snoozed_until": NOW + timedelta(days=30)},
            )
        elif final:
            await runtime.ledger.transition(finding.key, State.AWAITING_APPROVAL, final)
    again = {f.finding.key.pk for f in await scan(runtime, request=ScanRequested(regions=("us-east-1",)))}
    # Still FOUND: announced again, in case the first announcement was lost with a failed attempt.
    decided = {analyzed.key.pk, waiting.key.pk, rejected.key.pk, snoozed.key.pk}
    assert again == {f.finding.key.pk for f in first} - decided

    # Once the snooze is over, the resource comes back as a new decision.
    later = NOW + timedelta(days=31)
    returned = await scan(runtime, now=later, request=ScanRequested(regions=("us-east-1",)))
    assert snoozed.key.pk in {f.finding.key.pk for f in returned}
    decision = await runtime.ledger.get(snoozed.key)
    assert (decision.state, decision.cycle) == (State.FOUND, 1)


async def test_min_idle_counts_from_the_first_sighting_and_resets_when_busy(runtime: Runtime) -> None:
    ec2 = await runtime.aws.client("ec2", "us-east-1")
    volume = (await ec2.create_volume(AvailabilityZone="us-east-1a", Size=10, VolumeType="gp3"))["VolumeId"]
    moto_backdater()("us-east-1", "volumes", volume, "create_time", NOW - timedelta(days=60))
    policy = {"regions": ("us-east-1",), "min_idle": timedelta(days=3)}

    assert await scan(runtime, **policy) == []  # first seen idle now: recorded, not yet reported
    assert (
        await runtime.ledger.get(f"123456789012#us-east-1#ebs-volume#unattached#{volume}")
    ).state is State.FOUND
    assert await scan(runtime, now=NOW + timedelta(days=2), **policy) == []
    [found] = await scan(runtime, now=NOW + timedelta(days=4), **policy)
    assert found.finding.idle_since == NOW

    # Seen busy: the idle clock is reset, so a later detach starts counting again.
    instance = (await ec2.run_instances(ImageId=await linux_image(ec2), MinCount=1, MaxCount=1))["Instances"][
        0
    ]["InstanceId"]
    await ec2.attach_volume(VolumeId=volume, InstanceId=instance, Device="/dev/sdf")
    await scan(runtime, now=NOW + timedelta(days=5), **policy)
    assert await runtime.ledger.get(f"123456789012#us-east-1#ebs-volume#unattached#{volume}") is None
    await ec2.detach_volume(VolumeId=volume, InstanceId=instance)
    assert await scan(runtime, now=NOW + timedelta(days=6), **policy) == []


async def test_a_scan_limited_to_one_kind_and_region(runtime: Runtime, estate: list[Seeded]) -> None:
    found = await scan(runtime, request=ScanRequested(regions=("eu-west-1",), kinds=("elastic-ip",)))
    assert {(f.finding.kind, f.finding.key.region) for f in found} == {("elastic-ip", "eu-west-1")}
    assert len(found) == 2


async def test_an_unknown_kind_is_a_permanent_error(runtime: Runtime) -> None:
    with pytest.raises(UnsupportedResource, match="dynamodb-table"):
        await scan(runtime, request=ScanRequested(kinds=("dynamodb-table",)))


async def test_without_configured_regions_every_enabled_region_is_scanned(runtime: Runtime) -> None:
    ec2 = await runtime.aws.client("ec2", "sa-east-1")
    address = (await ec2.allocate_address(Domain="vpc"))["AllocationId"]
    found = await scan(runtime, regions=(), kinds=("elastic-ip",))
    assert [f.finding.key.resource_id for f in found] == [address]


async def test_a_scan_through_a_role_records_the_role_and_keeps_fingerprints(runtime: Runtime) -> None:
    role = "arn:aws:iam::111111111111:role/cloudthrift-scan"
    other = await runtime.aws.client("ec2", "us-east-1", role_arn=role)
    volume = (await other.create_volume(AvailabilityZone="us-east-1a", Size=10, VolumeType="gp3"))["VolumeId"]
    request = ScanRequested(role_arn=role, regions=("us-east-1",), kinds=("ebs-volume",))

    now = datetime.now(UTC)  # after the volume was created (NOW is when this module was imported)
    [first] = await scan(runtime, now=now, request=request, min_age=timedelta(0))
    finding = first.finding
    assert finding.key.pk == f"111111111111#us-east-1#ebs-volume#unattached#{volume}"
    assert finding.role_arn == role
    decision = await runtime.ledger.get(finding.key)
    assert decision.finding.role_arn == role  # the executor takes the role from here

    # The same finding as recorded before findings had a role: it parses, and the role is not part of
    # the fingerprint, so a decision recorded then still matches the finding a scan makes now.
    old = json.loads(finding.model_dump_json())
    del old["role_arn"]
    recorded_before = Finding.model_validate(old)
    assert recorded_before.role_arn is None
    assert recorded_before.fingerprint == finding.fingerprint == decision.get("fingerprint")
    assert "role_arn" not in recorded_before.model_dump_json()  # readers of the previous version parse it

    [again] = await scan(runtime, now=now, request=request, min_age=timedelta(0))  # FOUND: announced again
    assert again.finding.fingerprint == finding.fingerprint
    assert (await runtime.ledger.get(finding.key)).get("fingerprint") == finding.fingerprint
