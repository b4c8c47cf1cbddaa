"""Runner: wires the executor handlers (approvals; undo requests, restore.py) to the execute queue (it
publishes nothing further, but an undo that must wait is re-sent to it with a delay), and runs the
sweep that re-drives lost approvals and expired claims (services/executor/sweep.py) beside it.

The card editor is shared/discord.py's `DiscordClient` when a bot token is configured, and its console
stand-in otherwise, so the local default prints each outcome where its card was printed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from datetime import timedelta
from typing import Any

from services.executor.group_card import GroupCards
from services.executor.handler import ExecutionPolicy, ExecutorDeps, handle_approval
from services.executor.outcome import DiscordCardReporter, OutcomeReporter
from services.executor.restore import handle_restore
from services.executor.retention import MoneyDeps, MoneySweep, Poster, run_money_sweeps, sweep_money_once
from services.executor.sweep import SweepDeps, run_sweeps, sweep
from shared.config import Settings
from shared.discord import ConsoleDiscord, DiscordClient
from shared.events import ApprovalGranted, Envelope, RestoreRequested
from shared.executor_status import run_heartbeat
from shared.kinds import discover
from shared.kinds.usage import all_checks, checked_windows
from shared.ledger import Ledger
from shared.queue import Handler
from shared.undo import undo_command
from shared.worker import Runtime, WorkerSpec


def execution_policy(settings: Settings) -> ExecutionPolicy:
    return ExecutionPolicy(
        dry_run=settings.cloudthrift_dry_run,
        snapshot_before_delete=settings.cloudthrift_snapshot_before_delete,
        safety_snapshot_tier=settings.cloudthrift_safety_snapshot_tier,
        optout_tag=settings.cloudthrift_optout_tag,
        # The claim's own lifetime, renewed every third of it, independent of the visibility timeout.
        claim_ttl=timedelta(seconds=settings.cloudthrift_claim_ttl_seconds),
        snapshot_wait_seconds=settings.cloudthrift_snapshot_wait_seconds,
        cleanup_role_name=settings.cloudthrift_cleanup_role_name,
        usage_window_days=checked_windows(settings.cloudthrift_usage_window_days, all_checks()),
    )


@contextlib.asynccontextmanager
async def open_reporter(settings: Settings, ledger: Ledger) -> AsyncIterator[OutcomeReporter]:
    if settings.discord_bot_token is None:
        # The console shows the command an Undo button stands for (`cloudthrift restore ID`).
        yield DiscordCardReporter(ConsoleDiscord(command_for=undo_command), cards=GroupCards(ledger))
        return
    async with DiscordClient(
        settings.discord_bot_token.get_secret_value(),
        base_url=settings.discord_api_base_url,
        max_attempts=settings.discord_max_attempts,
    ) as client:
        yield DiscordCardReporter(client, cards=GroupCards(ledger))


def queue_backlog(sqs: Any, url: str) -> Callable[[], Awaitable[int]]:
    """Messages on a queue, visible, in flight or delayed (SQS's approximate counts)."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]

    async def backlog() -> int:
        answer = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
        return sum(int(answer.get("Attributes", {}).get(name, 0)) for name in names)

    return backlog


def sweep_deps(runtime: Runtime, kinds: Collection[str]) -> SweepDeps:
    """The sweep publishes to the queue this worker reads, with the click's notion of a lost approval."""
    stage = runtime.telemetry.stage("executor")
    execute = runtime.queues["execute"]
    return SweepDeps(
        ledger=runtime.ledger,
        publisher=runtime.publisher,
        execute_url=execute.url,
        recover_after=timedelta(seconds=runtime.settings.cloudthrift_approval_recover_seconds),
        stalled_after=timedelta(seconds=runtime.settings.cloudthrift_visibility_timeout),
        backlog=queue_backlog(runtime.sqs, execute.url),
        kinds=kinds,
        metrics=stage.metrics,
        tracing=stage.tracing,
    )


def money_deps(runtime: Runtime, poster: Poster) -> MoneyDeps:
    """Retention and the savings count (services/executor/retention.py), with this worker's clients."""
    settings = runtime.settings
    return MoneyDeps(
        aws=runtime.aws,
        ledger=runtime.ledger,
        poster=poster,
        keep_for=timedelta(days=settings.cloudthrift_safety_snapshot_days),
        channel_id=settings.discord_channel_id or "console",
        metrics=runtime.telemetry.stage("executor").metrics,
    )


async def run_sweeps_once(runtime: Runtime, poster: Poster | None = None) -> MoneySweep:
    """Every sweep, once: lost approvals re-driven, safety snapshots expired, cost avoided counted.
    What a scheduled function calls instead of a long-running executor's loops."""
    registry = frozenset(discover().names())
    await sweep(sweep_deps(runtime, registry))
    return await sweep_money_once(money_deps(runtime, poster or ConsoleDiscord()))


@contextlib.asynccontextmanager
async def build(runtime: Runtime) -> AsyncIterator[Handler]:
    """The handler, with the sweeps and the heartbeat running beside it for as long as a resident
    worker does (a Lambda function's runtime is not resident: its schedule runs them)."""
    execute_url = runtime.queues["execute"].url

    async def requeue(request: RestoreRequested, delay_seconds: int) -> None:
        """An undo that must wait comes back to this queue later (at most 900 s: SQS's ceiling)."""
        await runtime.publisher.publish(execute_url, [request], delay_seconds=delay_seconds)

    async with open_reporter(runtime.settings, runtime.ledger) as reporter:
        deps = ExecutorDeps(
            aws=runtime.aws,
            ledger=runtime.ledger,
            reporter=reporter,
            policy=execution_policy(runtime.settings),
            metrics=runtime.telemetry.stage("executor").metrics,
            requeue=requeue,
        )

        async def handle(event: Envelope) -> list:  # type: ignore[type-arg]
            if isinstance(event.payload, RestoreRequested):
                return await handle_restore(event, deps)
            return await handle_approval(event, deps)

        if not runtime.resident:  # a Lambda function: EventBridge Scheduler runs the sweeps
            yield handle
            return
        sweeper = asyncio.create_task(
            run_sweeps(
                sweep_deps(runtime, frozenset(deps.registry.names())),
                runtime.settings.cloudthrift_approval_sweep_seconds,
            ),
            name="executor:sweep",
        )
        money = asyncio.create_task(
            run_money_sweeps(
                money_deps(runtime, getattr(reporter, "poster", ConsoleDiscord())),
                # Its own cadence: a pass writes once per clean-up (issue 20 saw it at every 10 s sweep).
                runtime.settings.cloudthrift_money_sweep_seconds,
            ),
            name="executor:money",
        )
        # Approvers see whether this executor acts or rehearses (shared/executor_status.py).
        heartbeat = asyncio.create_task(
            run_heartbeat(runtime.ledger, dry_run=deps.policy.dry_run), name="executor:heartbeat"
        )
        try:
            yield handle
        finally:
            # After the consumer drained (run_workers closes builds last); a sweep cut short is redone.
            sweeper.cancel()
            money.cancel()
            heartbeat.cancel()
            await asyncio.wait([sweeper, money, heartbeat])


WORKER = WorkerSpec(
    name="executor",
    input="execute",
    output=None,
    build=build,
    accepts=(ApprovalGranted, RestoreRequested),
)
