"""Honest money on moto (issue 14): the kept snapshot priced on the size AWS reports, the remedy a human
chose run as chosen, the archive tier applied and priced, and no negative saving shown as a saving."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.executor.group_card import CARD_PREFIX, GroupCards
from services.executor.handler import handle_approval
from shared.kinds.ebs_volume.remedies import DECISION_TAG, REPORTED, UPPER_BOUND
from shared.ledger import State
from tests.executor.helpers import (
    REGION,
    Crash,
    Wrapped,
    approve,
    idle_volume,
    observe,
    snapshots_of,
    state_of,
    volume_exists,
)
from tests.fakes.emulated_aws import set_full_snapshot_size


async def test_kept_snapshot_is_priced_on_the_size_aws_reports(
    ledger, ec2, make_deps, reporter, clock
) -> None:
    volume_id = await idle_volume(ec2, size=100)  # gp3: $8.00/month; snapshot upper bound $5.00
    finding = await observe(ec2, "ebs-volume", volume_id)
    assert finding.cost.snapshot_monthly_usd == Decimal("5.00")
    event = await approve(ledger, finding)
    # An earlier attempt made the snapshot and died; AWS reports 5 GiB written out of 100 provisioned
    # once complete. The attempt that takes over finds it by its decision tag.
    with pytest.raises(Crash):
        await handle_approval(event, make_deps(wrap=lambda c: Wrapped(c, "create_snapshot", "after")))
    [made] = await snapshots_of(ec2, volume_id)
    assert {t["Key"]: t["Value"] for t in made["Tags"]}[DECISION_TAG] == event.payload.decision_id
    set_full_snapshot_size(REGION, made["SnapshotId"], 5 * 1024**3)
    clock.advance(31)  # the dead attempt's claim expires

    await handle_approval(event, make_deps())

    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED and decision.get("snapshot_id") == made["SnapshotId"]
    assert decision.get("snapshot_size_gib") == Decimal("5.000")
    assert decision.get("snapshot_size_basis") == REPORTED
    assert decision.get("snapshot_monthly_usd") == Decimal("0.25")  # 5 GiB x $0.05
    assert decision.get("gross_monthly_saving_usd") == Decimal("8.00")
    assert decision.get("realised_monthly_saving_usd") == Decimal("7.75")
    assert decision.get("remedy") == "snapshot-then-delete"
    assert "5.000 GiB as AWS reports it" in reporter.outcomes[-1].headline


async def test_without_a_reported_size_the_upper_bound_stays_and_says_so(
    ledger, ec2, make_deps, reporter
) -> None:
    volume_id = await idle_volume(ec2, size=100)
    finding = await observe(ec2, "ebs-volume", volume_id)
    await handle_approval(await approve(ledger, finding), make_deps())

    decision = await state_of(ledger, finding.key)
    assert decision.get("snapshot_size_basis") == UPPER_BOUND and decision.get("snapshot_size_gib") is None
    assert decision.get("snapshot_monthly_usd") == Decimal("5.00")
    assert decision.get("realised_monthly_saving_usd") == Decimal("3.00")
    assert "an upper bound: AWS did not report its size" in reporter.outcomes[-1].headline


async def test_a_cold_volume_runs_the_remedy_chosen_on_the_card_without_a_snapshot(
    ledger, ec2, make_deps, reporter
) -> None:
    """The reported bug: an approved sc1 volume was snapshotted, then deleted, and the card said
    "Saves $-35.00/month". Chosen `delete`, it is deleted with no snapshot and saves its full cost."""
    volume_id = await idle_volume(ec2, size=1000, volume_type="sc1")  # $15.00; snapshot $50.00
    finding = await observe(ec2, "ebs-volume", volume_id)
    assert finding.cost.loses_money and finding.cost.net_monthly_saving_usd == Decimal("-35.00")

    await handle_approval(await approve(ledger, finding, remedy="delete"), make_deps())

    assert not await volume_exists(ec2, volume_id)
    assert await snapshots_of(ec2, volume_id) == []
    decision = await state_of(ledger, finding.key)
    assert decision.get("action") == "delete" and decision.get("remedy") == "delete"
    assert decision.get("realised_monthly_saving_usd") == Decimal("15.00")
    headline = reporter.outcomes[-1].headline
    assert "Saves $15.00/month" in headline and "cannot be undone" in headline and "$-" not in headline


async def test_a_negative_saving_chosen_knowingly_is_never_shown_as_a_saving(
    ledger, ec2, make_deps, reporter
) -> None:
    volume_id = await idle_volume(ec2, size=1000, volume_type="sc1")
    finding = await observe(ec2, "ebs-volume", volume_id)
    await handle_approval(await approve(ledger, finding, remedy="snapshot-then-delete"), make_deps())

    decision = await state_of(ledger, finding.key)
    assert decision.get("realised_monthly_saving_usd") == Decimal("-35.00")
    headline = reporter.outcomes[-1].headline
    assert "$-" not in headline and "Costs $35.00/month more than it saves" in headline


async def test_the_archive_choice_archives_the_snapshot_and_prices_its_minimum(
    ledger, ec2, make_deps, reporter
) -> None:
    volume_id = await idle_volume(ec2, size=1000, volume_type="sc1")
    finding = await observe(ec2, "ebs-volume", volume_id)
    archive = finding.cost.choice("archive-snapshot-then-delete")
    assert archive is not None and archive.net_monthly_saving_usd == Decimal("2.50")  # 15 - 1000 x 0.0125
    assert (
        archive.note is not None and "90 days ($37.50 minimum)" in archive.note and "72 hours" in archive.note
    )

    await handle_approval(await approve(ledger, finding, remedy="archive-snapshot-then-delete"), make_deps())

    assert not await volume_exists(ec2, volume_id)
    [snapshot] = await snapshots_of(ec2, volume_id)
    assert snapshot["StorageTier"] == "archive"
    decision = await state_of(ledger, finding.key)
    assert decision.get("action") == "archive_snapshot_then_delete"
    assert decision.get("snapshot_tier") == "archive"
    assert decision.get("snapshot_monthly_usd") == Decimal("12.50")
    assert decision.get("snapshot_minimum_usd") == Decimal("37.50")
    assert decision.get("snapshot_restore_hours") == 72
    assert decision.get("realised_monthly_saving_usd") == Decimal("2.50")
    assert "72 hours" in reporter.outcomes[-1].headline


async def test_the_archive_tier_setting_makes_archiving_the_default(ledger, ec2, make_deps) -> None:
    volume_id = await idle_volume(ec2, size=100)
    finding = await observe(ec2, "ebs-volume", volume_id)
    await handle_approval(await approve(ledger, finding), make_deps(safety_snapshot_tier="archive"))

    [snapshot] = await snapshots_of(ec2, volume_id)
    assert snapshot["StorageTier"] == "archive"
    decision = await state_of(ledger, finding.key)
    assert decision.get("remedy") == "archive-snapshot-then-delete"
    assert decision.get("realised_monthly_saving_usd") == Decimal("6.75")  # 8.00 - 100 x 0.0125


async def test_a_group_card_counts_real_and_dry_run_members_apart(ledger, ec2, make_deps) -> None:
    """The reported bug: a card mixing dry-run and real members labelled all "dry-run done" and summed
    them together."""
    real_id, dry_id = await idle_volume(ec2, size=100), await idle_volume(ec2, size=200)
    real, dry = await observe(ec2, "ebs-volume", real_id), await observe(ec2, "ebs-volume", dry_id)
    await ledger.put_record(
        CARD_PREFIX + "g1", {"record": "card", "group": True, "members": [], "member_count": 2}
    )
    await handle_approval(await approve(ledger, real), make_deps())
    await handle_approval(await approve(ledger, dry), make_deps(dry_run=True))
    cards = GroupCards(ledger)
    for key in (real.key, dry.key):
        assert await cards.count("g1", await state_of(ledger, key), "latest")

    tally = await cards.tally("g1")
    assert tally is not None
    assert tally.text().startswith(
        "Group of 2: ✅ 1 done ($3.00/month) · 🧪 1 dry-run done (would save $6.00/month)"
    )


def test_the_savings_report_never_adds_a_negative_estimate_silently() -> None:
    from io import StringIO

    from rich.console import Console

    from services.executor.cli import render
    from services.executor.savings import summarize
    from shared.ledger import Decision

    def item(pk: str, state: str, **attrs: object) -> Decision:
        return Decision({"pk": pk, "state": state, "decision_id": pk} | attrs)

    decisions = [
        item("warm", "AWAITING_APPROVAL", monthly_cost_usd=Decimal(8), net_monthly_saving_usd=Decimal(3)),
        item("cold", "AWAITING_APPROVAL", monthly_cost_usd=Decimal(15), net_monthly_saving_usd=Decimal(-35)),
        item(
            "chosen",
            "EXECUTED",
            executed_at="2026-11-01T00:00:00+00:00",
            dry_run=False,
            realised_monthly_saving_usd=Decimal(-35),
            snapshot_size_basis=UPPER_BOUND,
        ),
        item(
            "measured",
            "EXECUTED",
            executed_at="2026-11-01T00:00:00+00:00",
            dry_run=False,
            realised_monthly_saving_usd=Decimal("7.75"),
            snapshot_size_basis=REPORTED,
        ),
    ]
    report = summarize(decisions)
    data = report.to_json()
    assert data["pending"]["net_saving_monthly_usd"] == "3.00"
    assert data["pending"]["losing_by_default"] == {"decisions": 1, "monthly_usd": "35.00"}
    assert data["realised"]["losing"] == {"executed": 1, "monthly_usd": "35.00"}
    assert data["realised"]["snapshot_cost"] == {"reported_by_aws": 1, "upper_bound": 1, "expired": 0}
    out = StringIO()
    render(report, Console(file=out, width=200))
    text = out.getvalue()
    assert "cost $35.00/month more than they save" in text
    assert "would lose $35.00/month" in text and "an upper bound" in text


def test_the_archive_tier_setting_prices_the_finding_on_the_archive_remedy() -> None:
    from datetime import UTC, datetime

    from services.scanner.rules import build_finding
    from shared.events import DecisionKey
    from shared.kinds import kind_named
    from shared.kinds.base import Observation
    from shared.kinds.pricing import load_prices

    check = kind_named("ebs-volume").checks.get("unattached")()
    key = DecisionKey(
        account_id="123456789012", region="us-west-1", kind="ebs-volume", check="unattached", resource_id="v"
    )
    facts = {"volume_type": "gp3", "size_gib": 100, "state": "available"}
    observation, now = Observation("v", facts), datetime.now(UTC)
    finding = build_finding(check, observation, "u", key, load_prices(), now=now, scan_id="s", tier="archive")
    assert finding.cost.choices[0].remedy == "archive-snapshot-then-delete"
    # us-west-1: gp3 $0.096 x 100 = $9.60; archive $0.01375 x 100 = $1.375.
    assert finding.cost.snapshot_monthly_usd == Decimal("1.3750")
    assert finding.cost.net_monthly_saving_usd == Decimal("8.2250")
