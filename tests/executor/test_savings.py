"""The savings history: a pure sum over decisions, and the same sum over what really ran on moto."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from services.cli import app
from services.executor.handler import ExecutionPolicy, ExecutorDeps, handle_approval
from services.executor.savings import summarize
from shared.aws import AwsClients
from shared.bootstrap import BootstrapReport, _ensure_table
from shared.ledger import Decision, Ledger, State
from tests.executor.helpers import Clients, Reporter, approve, idle_address, idle_volume, observe


def executed(
    saving: str, *, month: str, kind: str, region: str, approver: str, dry: bool = False
) -> Decision:
    field = "would_save_monthly_usd" if dry else "realised_monthly_saving_usd"
    return Decision(
        {
            "pk": f"123456789012#{region}#{kind}#check#r-{saving}-{month}",
            "state": "EXECUTED",
            "decision_id": "d",
            "kind": kind,
            "region": region,
            "approver_name": approver,
            "executed_at": f"{month}-15T10:00:00+00:00",
            "dry_run": dry,
            field: Decimal(saving),
        }
    )


def pending(state: State, cost: str, net: str) -> Decision:
    return Decision(
        {
            "pk": f"p-{state}-{cost}",
            "state": state.value,
            "decision_id": "d",
            "monthly_cost_usd": Decimal(cost),
            "net_monthly_saving_usd": Decimal(net),
        }
    )


def test_realised_savings_are_summed_by_month_kind_region_and_approver() -> None:
    decisions = [
        executed("10.00", month="2026-10", kind="ebs-volume", region="us-east-1", approver="alice"),
        executed("2.50", month="2026-11", kind="ebs-volume", region="eu-west-1", approver="bob"),
        executed("3.65", month="2026-11", kind="elastic-ip", region="us-east-1", approver="alice"),
        executed("99.00", month="2026-11", kind="ebs-volume", region="us-east-1", approver="carol", dry=True),
        pending(State.FOUND, "4.00", "3.00"),
        pending(State.ANALYZED, "1.00", "1.00"),
        pending(State.AWAITING_APPROVAL, "20.00", "15.00"),
        pending(State.APPROVED, "50.00", "50.00"),  # decided: not pending waste any more
        Decision({"pk": "card#x", "record": "card"}),  # auxiliary records share the table
        Decision({"pk": "s", "state": "SKIPPED", "decision_id": "d"}),
    ]

    # Cost avoided to date on 2026-11-30 10:00: $10.00 a month for the 46 days since 2026-10-15 10:00,
    # $6.15 a month for the 15 days since 2026-11-15 10:00 (a month is 730 hours): 15.12 + 3.03.
    as_of = datetime(2026, 11, 30, 10, tzinfo=UTC)
    report = summarize(decisions, now=as_of).to_json()

    assert report["realised"] == {
        "monthly_usd": "16.15",
        "executed": 3,
        "undone": 0,
        "avoided_to_date_usd": "18.16",
        "by_month": {"2026-10": "10.00", "2026-11": "6.15"},
        "by_month_and_kind": {
            "2026-10": {"ebs-volume": "10.00"},
            "2026-11": {"ebs-volume": "2.50", "elastic-ip": "3.65"},
        },
        "by_kind": {"ebs-volume": "12.50", "elastic-ip": "3.65"},
        "by_region": {"eu-west-1": "2.50", "us-east-1": "13.65"},
        "by_approver": {"alice": "13.65", "bob": "2.50"},
        "losing": {"executed": 0, "monthly_usd": "0.00"},
        "snapshot_cost": {"reported_by_aws": 0, "upper_bound": 0, "expired": 0},
    }
    assert report["dry_run"] == {"executed": 1, "would_save_monthly_usd": "99.00"}
    assert report["pending"] == {
        "decisions": 3,
        "waste_monthly_usd": "25.00",
        "net_saving_monthly_usd": "19.00",
        "by_state": {"ANALYZED": 1, "AWAITING_APPROVAL": 1, "FOUND": 1},
        "by_account": {"unknown": "25.00"},
        "by_kind": {"unknown": "25.00"},
        "losing_by_default": {"decisions": 0, "monthly_usd": "0.00"},
    }
    assert report["outcomes"] == {"EXECUTED": 4, "SKIPPED": 1}


def test_an_undone_clean_up_stops_saving_but_keeps_what_it_avoided() -> None:
    """Issue 14's undo: `restored_at` (or the RESTORED state) ends the accrual; the rest stays avoided."""
    restored = executed("73.00", month="2026-11", kind="ebs-volume", region="us-east-1", approver="alice")
    restored = Decision(dict(restored.attrs) | {"restored_at": "2026-11-25T10:00:00+00:00"})
    standing = executed("7.30", month="2026-11", kind="elastic-ip", region="us-east-1", approver="bob")

    report = summarize([restored, standing], now=datetime(2026, 12, 15, 10, tzinfo=UTC))

    # 73.00 for 10 days (240 h of 730) = 24.00; 7.30 for 30 days (720 h) = 7.20.
    assert report.to_json()["realised"]["avoided_to_date_usd"] == "31.20"
    assert (report.undone, report.executed, report.realised_monthly_usd) == (1, 1, Decimal("7.30"))
    series = report.avoided_series()
    assert [total for _, total in series] == sorted(total for _, total in series)
    assert series[-1] == (report.as_of, report.avoided_to_date_usd)


def test_an_undo_under_way_no_longer_counts_as_saving_but_a_failed_one_does() -> None:
    """RESTORING: the undo was asked for, the resource is coming back; RESTORE_FAILED: it did not."""
    base = {"month": "2026-11", "kind": "ebs-volume", "region": "us-east-1", "approver": "alice"}
    restoring = executed("73.00", **base)
    restoring = Decision(dict(restoring.attrs) | {"state": "RESTORING"})
    failed = executed("7.30", **base)
    failed = Decision(dict(failed.attrs) | {"state": "RESTORE_FAILED"})

    report = summarize([restoring, failed], now=datetime(2026, 12, 15, 10, tzinfo=UTC))

    assert (report.undone, report.executed, report.realised_monthly_usd) == (1, 1, Decimal("7.30"))
    assert report.to_json()["realised"]["by_month"] == {"2026-11": "7.30"}


def test_time_from_finding_to_decision_is_a_median_and_a_90th_percentile() -> None:
    found = datetime(2026, 11, 1, tzinfo=UTC)
    decided = [
        Decision(
            {
                "pk": f"p{hours}",
                "state": state,
                "decision_id": "d",
                "created_at": found.isoformat(),
                "decided_at": (found + timedelta(hours=hours)).isoformat(),
            }
        )
        for hours, state in [(1, "REJECTED"), (2, "SNOOZED"), (3, "APPROVED"), (4, "FAILED"), (50, "SKIPPED")]
    ]
    undecided = Decision({**decided[0].attrs, "pk": "w", "state": "AWAITING_APPROVAL"})

    timing = summarize([*decided, undecided]).to_json()["decision_time"]

    # Inclusive quantiles of 1, 2, 3, 4, 50: the 90th percentile is 4 + 0.6 * (50 - 4).
    assert timing == {"decided": 5, "median_hours": "3.0", "p90_hours": "31.6"}


def test_an_empty_ledger_reports_zero() -> None:
    report = summarize([]).to_json()
    assert report["realised"]["monthly_usd"] == "0.00" and report["pending"]["decisions"] == 0


async def test_the_report_sums_what_was_executed(ledger, ec2, make_deps) -> None:
    volume = await observe(ec2, "ebs-volume", await idle_volume(ec2, size=500))
    address = await observe(ec2, "elastic-ip", (await idle_address(ec2))[0])
    waiting = await observe(ec2, "ebs-volume", await idle_volume(ec2, size=50))
    for finding in (volume, address):
        await handle_approval(await approve(ledger, finding), make_deps())
    await approve(ledger, waiting, stop_at=State.AWAITING_APPROVAL)

    report = summarize([d async for d in ledger.everything()])

    assert report.executed == 2
    assert report.realised_monthly_usd == volume.cost.net_monthly_saving_usd + address.cost.monthly_usd
    assert report.by_kind == {
        "ebs-volume": volume.cost.net_monthly_saving_usd,
        "elastic-ip": address.cost.monthly_usd,
    }
    assert report.by_approver == {"alice": report.realised_monthly_usd}
    assert report.pending == 1 and report.pending_waste_monthly_usd == waiting.cost.monthly_usd


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI points structlog at CliRunner's stderr, which is closed afterwards: put it back."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def test_cloudthrift_savings_prints_json_and_a_table(
    make_settings, monkeypatch, restore_logging, botocore_session
) -> None:
    settings = make_settings()
    monkeypatch.chdir("/")  # no stray .env is read

    async def seed() -> Any:
        async with AwsClients(settings, session=botocore_session) as aws:
            dynamodb = await aws.client("dynamodb")
            await _ensure_table(dynamodb, settings.table_name, BootstrapReport())
            ledger = Ledger(dynamodb, settings.table_name)
            ec2 = await aws.client("ec2")
            finding = await observe(ec2, "elastic-ip", (await idle_address(ec2))[0])
            event = await approve(ledger, finding)
            deps = ExecutorDeps(Clients(aws), ledger, Reporter(), ExecutionPolicy(dry_run=False))
            await handle_approval(event, deps)
            return finding

    finding = asyncio.run(seed())
    runner = CliRunner()

    as_json = runner.invoke(app, ["savings", "--json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert report["realised"]["monthly_usd"] == f"{finding.cost.monthly_usd:.2f}"
    assert report["realised"]["by_kind"] == {"elastic-ip": f"{finding.cost.monthly_usd:.2f}"}

    table = runner.invoke(app, ["savings"])
    assert table.exit_code == 0, table.output
    assert f"Realised: ${finding.cost.monthly_usd:.2f}/month" in table.stdout
    assert "Pending waste: $0.00/month" in table.stdout
