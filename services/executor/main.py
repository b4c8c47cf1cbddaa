"""Runner: wires the executor handler to the execute queue (it publishes nothing further), and runs the
sweep that re-publishes approvals whose ApprovalGranted was lost (services/executor/sweep.py) beside it.

The card editor is shared/discord.py's `DiscordClient` when a bot token is configured, and its console
stand-in otherwise, so the local default prints each outcome where its card was printed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from datetime import timedelta

from services.executor.handler import ExecutionPolicy, ExecutorDeps, handle_approval
from services.executor.outcome import DiscordCardReporter, OutcomeReporter
from services.executor.sweep import SweepDeps, run_sweeps
from shared.config import Settings
from shared.discord import ConsoleDiscord, DiscordClient
from shared.events import DecisionKey, Envelope
from shared.executor_status import run_heartbeat
from shared.ledger import Decision, Ledger
from shared.queue import Handler
from shared.worker import Runtime, WorkerSpec

CARD_PREFIX = "card#"  # services/notifier/decide.py: one auxiliary record per posted card


def execution_policy(settings: Settings) -> ExecutionPolicy:
    return ExecutionPolicy(
        dry_run=settings.cloudthrift_dry_run,
        snapshot_before_delete=settings.cloudthrift_snapshot_before_delete,
        optout_tag=settings.cloudthrift_optout_tag,
        # The claim lives as long as the message stays invisible (the queue heartbeat extends both).
        claim_ttl=timedelta(seconds=settings.cloudthrift_visibility_timeout),
        snapshot_wait_seconds=settings.cloudthrift_snapshot_wait_seconds,
    )


def card_members(ledger: Ledger) -> Callable[[str], Awaitable[list[Decision]]]:
    """The current decisions of a group card, read from the notifier's card record."""

    async def members(card_id: str) -> list[Decision]:
        card = await ledger.get(CARD_PREFIX + card_id)
        if card is None:
            return []
        wanted = dict(zip(card.get("members", []), card.get("decision_ids", []), strict=False))
        found = await ledger.get_many(DecisionKey.from_pk(pk) for pk in wanted)
        # A member that started a new cycle since the card was posted is no longer on this card.
        return [d for pk, d in found.items() if d.decision_id == wanted[pk]]

    return members


@contextlib.asynccontextmanager
async def open_reporter(settings: Settings, ledger: Ledger) -> AsyncIterator[OutcomeReporter]:
    if settings.discord_bot_token is None:
        yield DiscordCardReporter(ConsoleDiscord(), members=card_members(ledger))
        return
    async with DiscordClient(
        settings.discord_bot_token.get_secret_value(),
        base_url=settings.discord_api_base_url,
        max_attempts=settings.discord_max_attempts,
    ) as client:
        yield DiscordCardReporter(client, members=card_members(ledger))


def sweep_deps(runtime: Runtime, kinds: Collection[str]) -> SweepDeps:
    """The sweep publishes to the queue this worker reads, with the click's notion of a lost approval."""
    stage = runtime.telemetry.stage("executor")
    return SweepDeps(
        ledger=runtime.ledger,
        publisher=runtime.publisher,
        execute_url=runtime.queues["execute"].url,
        recover_after=timedelta(seconds=runtime.settings.cloudthrift_approval_recover_seconds),
        kinds=kinds,
        metrics=stage.metrics,
        tracing=stage.tracing,
    )


@contextlib.asynccontextmanager
async def build(runtime: Runtime) -> AsyncIterator[Handler]:
    """The handler, with the lost-approval sweep running for as long as the worker does."""
    async with open_reporter(runtime.settings, runtime.ledger) as reporter:
        deps = ExecutorDeps(
            aws=runtime.aws,
            ledger=runtime.ledger,
            reporter=reporter,
            policy=execution_policy(runtime.settings),
            metrics=runtime.telemetry.stage("executor").metrics,
        )

        async def handle(event: Envelope) -> list:  # type: ignore[type-arg]
            return await handle_approval(event, deps)

        sweeper = asyncio.create_task(
            run_sweeps(
                sweep_deps(runtime, frozenset(deps.registry.names())),
                runtime.settings.cloudthrift_approval_sweep_seconds,
            ),
            name="executor:sweep",
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
            heartbeat.cancel()
            await asyncio.wait([sweeper, heartbeat])


WORKER = WorkerSpec(name="executor", input="execute", output=None, build=build)
