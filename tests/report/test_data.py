"""The report's rows and filters, over decisions as the ledger returns them (no AWS needed)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.executor.savings import summarize
from services.report.data import TOP_PENDING, Filters, build
from services.report.page import render
from shared.ledger import Decision
from tests.executor.helpers import sample_finding

WHEN = datetime(2026, 11, 20, tzinfo=UTC)


def decision(state: str, resource: str, **attrs: object) -> Decision:
    finding = sample_finding(resource, tags={"Name": f"name-{resource}"})
    return Decision(
        {
            "pk": finding.key.pk,
            "state": state,
            "decision_id": f"d-{resource}",
            "kind": finding.kind,
            "account_id": finding.key.account_id,
            "region": finding.key.region,
            "resource_id": resource,
            "created_at": "2026-11-01T00:00:00+00:00",
            "monthly_cost_usd": finding.cost.monthly_usd,
            "net_monthly_saving_usd": finding.cost.net_monthly_saving_usd,
            "finding": finding.model_dump_json(),
            **attrs,
        }
    )


def executed(resource: str, *, dry: bool = False, state: str = "EXECUTED", **attrs: object) -> Decision:
    saving = "would_save_monthly_usd" if dry else "realised_monthly_saving_usd"
    return decision(
        state,
        resource,
        executed_at="2026-11-10T12:00:00+00:00",
        dry_run=dry,
        approver_name="alice",
        action="snapshot_then_delete",
        snapshot_id=f"snap-{resource}",
        **{saving: Decimal("3.00")},
        **attrs,
    )


def test_filters_select_by_account_region_kind_and_period() -> None:
    pending = decision("AWAITING_APPROVAL", "vol-a")  # found 2026-11-01
    cleaned = executed("vol-b")  # found 2026-11-01, cleaned up 2026-11-10

    assert Filters().keep(pending) and Filters().keep(cleaned)
    assert not Filters(accounts=frozenset({"999999999999"})).keep(pending)
    assert Filters(regions=frozenset({"us-east-1"}), kinds=frozenset({"ebs-volume"})).keep(pending)
    assert not Filters(kinds=frozenset({"elastic-ip"})).keep(cleaned)
    # A clean-up belongs to the period it ran in; anything else to the period it was found in.
    november_5 = datetime(2026, 11, 5, tzinfo=UTC)
    assert Filters(since=november_5).keep(cleaned) and not Filters(since=november_5).keep(pending)
    assert Filters(until=november_5).keep(pending) and not Filters(until=november_5).keep(cleaned)


def test_rows_keep_dry_runs_apart_and_show_the_undo_state() -> None:
    restored = executed("vol-r", restored_at="2026-11-15T08:30:00+00:00", state="RESTORED")
    decisions = [executed("vol-x"), executed("vol-y", dry=True), restored]
    decisions += [decision("AWAITING_APPROVAL", f"vol-p{index:02d}") for index in range(TOP_PENDING + 5)]

    data = build(decisions, summarize(decisions, now=WHEN), Filters())

    assert [row.resource_id for row in data.dry_runs] == ["vol-y"]
    assert {row.resource_id: row.undo for row in data.cleaned_up} == {
        "vol-x": "not undone",
        "vol-r": "restored 2026-11-15 08:30",
    }
    assert data.cleaned_up[0].snapshot_id.startswith("snap-") and data.cleaned_up[0].approver == "alice"
    assert len(data.pending) == TOP_PENDING and data.pending[0].name.startswith("name-vol-p")
    assert data.pending[0].net_usd == Decimal("3.00") and data.pending[0].age_days == 19  # found 11-01
    assert data.price_sources == [("test table", "2026-11-01")]
    assert data.figures.undone == 1 and data.figures.executed == 1 and data.figures.dry_runs == 1


def test_the_pending_table_lists_the_largest_first_ties_by_resource() -> None:
    amounts = [Decimal(index % 7) for index in range(TOP_PENDING + 10)]  # 0..6, each several times
    decisions = [
        decision("FOUND", f"vol-q{index:02d}", monthly_cost_usd=amount)
        for index, amount in enumerate(amounts)
    ]

    data = build(decisions, summarize(decisions, now=WHEN), Filters())

    expected = sorted(((-amount, f"vol-q{i:02d}") for i, amount in enumerate(amounts)))[:TOP_PENDING]
    assert [(-row.monthly_usd, row.resource_id) for row in data.pending] == expected
    assert data.pending[0].monthly_usd == 6 and data.pending[-1].name.startswith("name-vol-q")
    assert data.figures.pending == TOP_PENDING + 10


@pytest.mark.parametrize(("after", "explained"), [(timedelta(seconds=5), True), (timedelta(days=30), False)])
def test_cost_avoided_right_after_the_clean_ups_says_why_it_is_zero(
    after: timedelta, explained: bool
) -> None:
    """The demo writes its report seconds after its clean-ups: $0.00 avoided is right, and said so."""
    cleaned = executed("vol-z")  # at 2026-11-10 12:00, saving $3.00 a month
    now = datetime(2026, 11, 10, 12, tzinfo=UTC) + after
    data = build([cleaned], summarize([cleaned], now=now), Filters())

    html = render(data, generated=now)

    figure = re.search(r'data-figure="realised.avoided_to_date_usd">([^<]*)<', html)
    assert figure is not None and (figure.group(1) == "0.00") is explained
    note = "Accrues from each clean-up onward: $3.00 a month now saved, under a cent so far."
    assert (note in html) is explained


def test_a_worker_never_imports_the_report_libraries() -> None:
    """matplotlib and jinja2 are for `cloudthrift report` only: the CLI registers it without them."""
    code = (
        "import sys, services.cli; from services.workers import available_workers; available_workers();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'matplotlib', 'jinja2', 'numpy'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
