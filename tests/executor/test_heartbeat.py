"""The executor's mode and heartbeat in the ledger, and the sentence approvers read from them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from services.executor.main import WORKER
from shared.events import utcnow
from shared.executor_status import ExecutorStatus, beat, describe, read, record_pk
from shared.ledger import Ledger
from shared.worker import Runtime


async def test_a_heartbeat_never_moves_back_in_time(ledger: Ledger) -> None:
    now = utcnow()
    assert await beat(ledger, dry_run=False, now=now)
    assert not await beat(ledger, dry_run=False, now=now - timedelta(seconds=30))  # a slower clock
    assert (await read(ledger, now)).live == now
    assert await beat(ledger, dry_run=False, now=now + timedelta(seconds=60))


async def test_the_sentence_follows_the_heartbeats(ledger: Ledger) -> None:
    now = utcnow()
    assert describe(await read(ledger, now)).startswith("no executor has run against this ledger yet")
    await beat(ledger, dry_run=True, now=now - timedelta(minutes=20))
    assert describe(await read(ledger, now)).startswith(
        "no executor seen for 20 minutes (the last was dry run)"
    )
    await beat(ledger, dry_run=True, now=now - timedelta(seconds=30))
    assert describe(await read(ledger, now)).startswith("the executor is in dry run (seen 30 s ago)")
    await beat(ledger, dry_run=False, now=now)
    both = await read(ledger, now)
    assert both.acts is True and describe(both).startswith("executors in both modes are running")


def test_a_live_executor_older_than_three_beats_is_not_running() -> None:
    now = utcnow()
    status = ExecutorStatus(live=now - timedelta(minutes=4), dry_run=None, now=now)
    assert status.acts is None
    assert (
        describe(status)
        == "no executor seen for 4 minutes (the last was live): approvals wait on the execute queue"
    )


async def test_the_executor_worker_beats_from_the_start(runtime: Runtime) -> None:
    async with WORKER.build(runtime):
        for _ in range(100):
            record = await runtime.ledger.get(record_pk(dry_run=True))  # CLOUDTHRIFT_DRY_RUN defaults on
            if record is not None:
                break
            await asyncio.sleep(0.05)
    assert record is not None and record.get("dry_run") is True and record.get("host")
    assert await runtime.ledger.get(record_pk(dry_run=False)) is None
