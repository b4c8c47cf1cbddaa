"""Will an approval really clean up? The executor's mode and heartbeat, recorded in the ledger.

An approver deciding from a card or the CLI must know whether the executor deletes for real, only
rehearses (CLOUDTHRIFT_DRY_RUN, on by default), or is not running at all. Each executor writes one
auxiliary record per mode (`executor#live`, `executor#dry-run`) when it starts and then every
`HEARTBEAT` seconds; the write is conditional on being newer, so a slow clock never moves it back.
Readers (`cloudthrift approve`, `pending`, `doctor`, the notifier's cards) turn the records into one
sentence with `describe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from shared.events import utcnow
from shared.ledger import Ledger

log = structlog.get_logger("cloudthrift.executor.status")

PREFIX = "executor#"
HEARTBEAT = 60.0
# Three missed heartbeats: an executor this quiet is stopped, crashed, or cannot reach the ledger.
STALE_AFTER = timedelta(minutes=3)


def record_pk(dry_run: bool) -> str:
    return PREFIX + ("dry-run" if dry_run else "live")


@dataclass(frozen=True)
class ExecutorStatus:
    """When an executor of each mode was last seen (None: never)."""

    live: datetime | None
    dry_run: datetime | None
    now: datetime

    def recent(self, seen: datetime | None) -> bool:
        return seen is not None and self.now - seen <= STALE_AFTER

    @property
    def acts(self) -> bool | None:
        """True: a live executor is running; False: only dry runs; None: no executor running."""
        if self.recent(self.live):
            return True
        return False if self.recent(self.dry_run) else None


async def beat(ledger: Ledger, *, dry_run: bool, now: datetime | None = None) -> bool:
    """Record that an executor in this mode is alive now."""
    return await ledger.refresh_record(
        record_pk(dry_run),
        {
            "record": "executor-heartbeat",
            "dry_run": dry_run,
            "seen_at": (now or utcnow()).isoformat(),
            "host": f"{socket.gethostname()}:{os.getpid()}"[:128],
        },
        newer="seen_at",
    )


async def run_heartbeat(ledger: Ledger, *, dry_run: bool, every: float = HEARTBEAT) -> None:
    """Beat until cancelled; a failed beat is logged and retried at the next interval."""
    while True:
        try:
            await beat(ledger, dry_run=dry_run)
        except Exception as exc:  # the heartbeat informs humans; it must never stop the executor
            log.warning("executor.heartbeat_failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(every)


async def read(ledger: Ledger, now: datetime | None = None) -> ExecutorStatus:
    live, dry = await asyncio.gather(ledger.get(record_pk(False)), ledger.get(record_pk(True)))
    return ExecutorStatus(
        live=live.time("seen_at") if live else None,
        dry_run=dry.time("seen_at") if dry else None,
        now=now or utcnow(),
    )


def _ago(status: ExecutorStatus, seen: datetime) -> str:
    seconds = max(0, int((status.now - seen).total_seconds()))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} minutes ago"


def describe(status: ExecutorStatus) -> str:
    """One sentence: what happens to an approval now."""
    live, dry = status.recent(status.live), status.recent(status.dry_run)
    if live and dry:
        return (
            "executors in both modes are running (live and dry run): whichever takes the approval "
            "decides whether the resource is really cleaned up"
        )
    if live:
        assert status.live is not None
        return f"the executor is live (seen {_ago(status, status.live)}): approved resources are cleaned up"
    if dry:
        assert status.dry_run is not None
        return (
            f"the executor is in dry run (seen {_ago(status, status.dry_run)}): it records what it would "
            "do and touches nothing (CLOUDTHRIFT_DRY_RUN=false to act)"
        )
    last = max((seen for seen in (status.live, status.dry_run) if seen is not None), default=None)
    if last is None:
        return "no executor has run against this ledger yet: approvals wait on the execute queue"
    minutes = int((status.now - last).total_seconds() // 60)
    mode = "dry run" if last == status.dry_run else "live"
    return (
        f"no executor seen for {minutes} minutes (the last was {mode}): approvals wait on the execute queue"
    )


async def describe_now(ledger: Ledger) -> str:
    """`describe` of what the ledger holds now; a failed read says so instead of failing the caller."""
    with contextlib.suppress(Exception):
        return describe(await read(ledger))
    return "executor status unknown (its ledger records could not be read)"
