"""Safety snapshots expire once, after a notice given once; a kept one never does; the cost avoided to
date is counted to Datadog once per interval over a moving clock, and stops at an undo (issue 14)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from services.executor.handler import handle_approval
from services.executor.retention import AVOIDED_METRIC, KEEP_TAG, MoneyDeps, sweep_money_once
from services.executor.savings import summarize
from shared.ledger import Attr, State
from shared.telemetry.metrics import MemoryMetrics
from tests.executor.helpers import approve, idle_volume, observe, snapshots_of, state_of

DAY = timedelta(days=1)


class Posted:
    """Where notices go (Discord's or the console's `post_message`), kept for the test to read."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, Mapping[str, Any]]] = []

    async def post_message(self, channel_id: str, payload: Mapping[str, Any]) -> str:
        self.messages.append((channel_id, payload))
        return str(len(self.messages))


async def executed_volume(ledger, ec2, make_deps, clock) -> tuple[Any, str]:
    volume_id = await idle_volume(ec2, size=100)  # $8.00 gross, $3.00 net of a $5.00 snapshot
    finding = await observe(ec2, "ebs-volume", volume_id)
    await handle_approval(await approve(ledger, finding), make_deps())
    return finding, volume_id


def money_deps(aws, ledger, at: datetime, **extra: Any) -> MoneyDeps:
    return MoneyDeps(aws=aws, ledger=ledger, poster=extra.pop("poster", Posted()), keep_for=90 * DAY,
                     clock=lambda: at, **extra)  # fmt: skip


async def test_a_safety_snapshot_expires_exactly_once_after_one_notice(
    aws, ledger, ec2, make_deps, clock
) -> None:
    finding, volume_id = await executed_volume(ledger, ec2, make_deps, clock)
    executed = clock.now
    posted = Posted()

    early = await sweep_money_once(money_deps(aws, ledger, executed + 80 * DAY, poster=posted))
    assert early.noticed == [] and posted.messages == []

    for _ in range(2):  # three days ahead: one notice, however many sweeps
        await sweep_money_once(money_deps(aws, ledger, executed + 88 * DAY, poster=posted))
    [(_, notice)] = posted.messages
    assert "will be deleted on" in notice["content"] and KEEP_TAG in notice["content"]

    due = executed + 90 * DAY
    both = await asyncio.gather(*(sweep_money_once(money_deps(aws, ledger, due)) for _ in range(2)))

    assert sorted(len(result.expired) for result in both) == [0, 1]
    assert await snapshots_of(ec2, volume_id) == []
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED and decision.get("snapshot_expired_at")
    assert decision.get(Attr.REALISED_MONTHLY_SAVING_USD) == Decimal("8.00")  # net is now gross
    assert decision.get("net_before_expiry_usd") == Decimal("3.00")
    report = summarize([decision], now=due)
    assert report.realised_monthly_usd == Decimal("8.00") and report.snapshots_expired == 1
    again = await sweep_money_once(money_deps(aws, ledger, due + DAY))
    assert again.expired == []


async def test_a_snapshot_tagged_keep_is_never_expired(aws, ledger, ec2, make_deps, clock) -> None:
    finding, volume_id = await executed_volume(ledger, ec2, make_deps, clock)
    [snapshot] = await snapshots_of(ec2, volume_id)
    await ec2.create_tags(Resources=[snapshot["SnapshotId"]], Tags=[{"Key": KEEP_TAG, "Value": "audit"}])

    result = await sweep_money_once(money_deps(aws, ledger, clock.now + 400 * DAY))

    assert result.expired == [] and result.kept == [(await state_of(ledger, finding.key)).decision_id]
    assert len(await snapshots_of(ec2, volume_id)) == 1
    assert (await state_of(ledger, finding.key)).get(Attr.REALISED_MONTHLY_SAVING_USD) == Decimal("3.00")


async def test_cost_avoided_to_date_is_counted_once_per_interval_and_stops_at_an_undo(
    aws, ledger, ec2, make_deps, clock
) -> None:
    finding, _ = await executed_volume(ledger, ec2, make_deps, clock)
    start, metrics = (await state_of(ledger, finding.key)).time(Attr.EXECUTED_AT), MemoryMetrics()
    assert start is not None
    hours = timedelta(hours=1)

    def counted() -> Decimal:
        return sum((Decimal(str(v)) for v in metrics.values(AVOIDED_METRIC)), Decimal(0))

    # Half a month (365 of 730 hours) at $3.00/month: $1.50; a second sweep at that instant adds nothing.
    for _ in range(2):
        await sweep_money_once(money_deps(aws, ledger, start + 365 * hours, metrics=metrics))
    assert counted() == Decimal("1.50")
    # An undo is asked for at the full month: nothing counts after it, however late the next sweep.
    await ledger.update_if(
        finding.key.pk,
        update="SET restore_requested_at = :at",
        condition="attribute_exists(pk)",
        values={":at": start + 730 * hours},
    )
    await sweep_money_once(money_deps(aws, ledger, start + 1000 * hours, metrics=metrics))
    assert counted() == Decimal("3.00")
    report = summarize([await state_of(ledger, finding.key)], now=start + 1000 * hours)
    assert report.avoided_to_date_usd == Decimal("3.00") and report.undone == 1


async def test_run_sweeps_once_is_one_call_a_scheduled_function_can_make(runtime) -> None:
    """What a Lambda on a schedule calls: every sweep once, with the worker's own settings and clients."""
    from services.executor.main import run_sweeps_once

    posted = Posted()
    result = await run_sweeps_once(runtime, posted)
    assert (result.noticed, result.expired, result.counted_usd) == ([], [], Decimal(0))
