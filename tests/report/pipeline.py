"""A ledger written by the real pipeline, for the report's tests (and the README's screenshot).

The demo estate (one region) is seeded on moto; the real scanner, analyzer (rules), notifier (console
cards) and executor workers run; approvals, rejections and snoozes go through the interactions
endpoint's own `decide`. First the executor rehearses (dry run, the shipped default), then it runs
for real, as an operator would after reviewing the rehearsal. Nothing is written to the ledger by hand.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiobotocore.session import AioSession

from services.analyzer.main import WORKER as ANALYZER
from services.estate import moto_backdater, seed_estate
from services.executor.main import WORKER as EXECUTOR
from services.notifier.decide import DecideDeps, decide
from services.notifier.main import WORKER as NOTIFIER
from services.scanner.main import WORKER as SCANNER
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.events import Approver, ScanRequested, utcnow
from shared.ledger import Decision, State
from shared.worker import Runtime, WorkerSpec, open_runtime, run_workers

REGION = "us-east-1"
SCRIPT_NAME = "<script>alert(1)</script>"
APPROVER = Approver(id="1001", name="alice", via="discord")


@dataclass
class Seeded:
    """Which decisions ended how (pks), for the tests to check the report against."""

    dry_run: list[str] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    snoozed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    script_volume: str = ""


async def seed_by_pipeline(settings: Settings, session: AioSession | None = None) -> Seeded:
    """Run the pipeline over the demo estate; `settings` must leave the executor in dry run."""
    seeded = Seeded()
    async with AwsClients(settings, session=session) as aws:
        await bootstrap(settings, aws)
        backdate = moto_backdater()
        estate = await seed_estate(aws, (REGION,), backdate=backdate)
        ec2 = await aws.client("ec2", REGION)
        created = await ec2.create_volume(
            AvailabilityZone=f"{REGION}a",
            Size=300,
            VolumeType="gp2",
            TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": SCRIPT_NAME}]}],
        )
        seeded.script_volume = created["VolumeId"]
        backdate(
            REGION, "volumes", seeded.script_volume, "create_time", datetime.now(UTC) - timedelta(days=30)
        )
    idle = 1 + sum(1 for item in estate if item.expectation == "idle")

    async with open_runtime(settings, session=session) as runtime:
        await _workers(runtime, [SCANNER, ANALYZER, NOTIFIER, EXECUTOR], _rehearse(runtime, idle, seeded))
    real = settings.model_copy(update={"cloudthrift_dry_run": False})
    async with open_runtime(real, session=session) as runtime:
        await _approve_then_delete(runtime, seeded)
        await _workers(runtime, [EXECUTOR], _run_for_real(runtime, seeded))
        seeded.pending = [d.pk for d in await _in_state(runtime, State.AWAITING_APPROVAL)]
    return seeded


async def _workers(runtime: Runtime, specs: list[WorkerSpec], script: Any) -> None:
    stop = asyncio.Event()
    workers = asyncio.create_task(run_workers(runtime, specs, stop=stop))
    try:
        async with asyncio.timeout(90):
            await script
    finally:
        stop.set()
        await workers


async def _rehearse(runtime: Runtime, idle: int, seeded: Seeded) -> None:
    await runtime.publisher.publish(
        runtime.queues["scan"].url, [ScanRequested(regions=(REGION,), requested_by="report test")]
    )
    waiting = await _until(runtime, State.AWAITING_APPROVAL, idle)
    volumes, addresses = _by_kind(waiting, seeded.script_volume)
    seeded.dry_run = [volumes[0].pk, addresses[0].pk]
    await _decide(runtime, seeded.dry_run, "approve")
    await _until(runtime, State.EXECUTED, len(seeded.dry_run))


async def _approve_then_delete(runtime: Runtime, seeded: Seeded) -> None:
    """Approved, then deleted outside CloudThrift before any executor runs: the executor must skip it."""
    volumes, _ = _by_kind(await _in_state(runtime, State.AWAITING_APPROVAL), seeded.script_volume)
    seeded.skipped = [volumes[0].pk]
    await _decide(runtime, seeded.skipped, "approve")
    ec2 = await runtime.aws.client("ec2", REGION)
    await ec2.delete_volume(VolumeId=str(volumes[0].get("resource_id")))


async def _run_for_real(runtime: Runtime, seeded: Seeded) -> None:
    volumes, addresses = _by_kind(await _in_state(runtime, State.AWAITING_APPROVAL), seeded.script_volume)
    seeded.executed = [volumes[0].pk, volumes[1].pk, addresses[0].pk]
    seeded.rejected = [volumes[2].pk]
    seeded.snoozed = [volumes[3].pk]
    await _decide(runtime, seeded.executed, "approve")
    await _decide(runtime, seeded.rejected, "reject")
    await _decide(runtime, seeded.snoozed, "snooze")
    await _until(runtime, State.EXECUTED, len(seeded.dry_run) + len(seeded.executed))
    await _until(runtime, State.SKIPPED, len(seeded.skipped))


def _by_kind(decisions: list[Decision], script_volume: str) -> tuple[list[Decision], list[Decision]]:
    """Volumes (largest net saving first; never the one named like a script: it stays pending), addresses."""
    ordered = sorted(decisions, key=lambda d: (-float(d.get("net_monthly_saving_usd") or 0), d.pk))
    volumes = [d for d in ordered if d.get("kind") == "ebs-volume" and d.get("resource_id") != script_volume]
    addresses = [d for d in ordered if d.get("kind") == "elastic-ip"]
    return volumes, addresses


async def _in_state(runtime: Runtime, state: State) -> list[Decision]:
    return [d async for d in runtime.ledger.by_state(state)]


async def _until(runtime: Runtime, state: State, count: int) -> list[Decision]:
    """Poll until `count` decisions are in `state` (the workers are asynchronous)."""
    while len(found := await _in_state(runtime, state)) < count:
        await asyncio.sleep(0.2)
    return found


async def _decide(runtime: Runtime, pks: list[str], action: Any) -> None:
    """A click on each decision's card, through the interactions endpoint's own code."""
    deps = DecideDeps(runtime.ledger, runtime.publisher, runtime.queues["execute"].url)
    for pk in pks:
        decision = await runtime.ledger.get(pk)
        assert decision is not None and decision.state is State.AWAITING_APPROVAL
        outcome = await decide(deps, decision.decision_id, action, APPROVER, now=utcnow(), pk=pk)
        assert len(outcome.decided) == 1
