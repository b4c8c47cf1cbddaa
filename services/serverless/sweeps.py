"""Lambda entry for the executor's scheduled work: `services.serverless.sweeps.handler`.

On ECS the executor runs its sweeps in a loop beside its consumer (services/executor/main.py). Here
nothing stays up: EventBridge Scheduler invokes this function (every 2 minutes by default), and each
invocation runs every sweep once, with the dependencies the resident executor builds (`sweep_deps`,
`money_deps`): lost approvals re-driven (services/executor/sweep.py), safety snapshots noticed and
expired and cost avoided counted (services/executor/retention.py), then records the executor's
heartbeat so cards can say whether clicks will act or rehearse. A sweep that fails raises: the
invocation fails, Scheduler's retry policy and the function's alarm see it, and the next run tries
again (every sweep is idempotent).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import structlog

from services.executor import sweep as sweeps
from services.executor.handler import ExecutionPolicy
from services.executor.main import execution_policy, money_deps, sweep_deps
from services.executor.retention import MoneyDeps, sweep_money_once
from services.notifier.main import open_sink
from services.serverless import start_logging
from services.serverless.settings import container_settings
from shared.config import Settings
from shared.executor_status import beat
from shared.kinds import discover
from shared.lambda_container import Container
from shared.worker import Runtime, open_runtime

log = structlog.get_logger("cloudthrift.executor.sweep")


@dataclass(frozen=True)
class SweepState:
    runtime: Runtime
    policy: ExecutionPolicy
    deps: sweeps.SweepDeps
    money: MoneyDeps


async def open_sweeps(stack: contextlib.AsyncExitStack, settings: Settings | None = None) -> SweepState:
    settings = settings or await container_settings()
    runtime = await stack.enter_async_context(open_runtime(settings))
    deps = sweep_deps(runtime, frozenset(discover().names()))
    poster = await stack.enter_async_context(open_sink(settings))  # retention notices
    money = money_deps(runtime, poster)
    return SweepState(runtime=runtime, policy=execution_policy(settings), deps=deps, money=money)


async def run_once(state: SweepState) -> dict[str, Any]:
    """Every sweep once, then the heartbeat. Returns what was done (the invocation's result)."""
    republished = await sweeps.sweep(state.deps)
    money = await sweep_money_once(state.money)
    await beat(state.runtime.ledger, dry_run=state.policy.dry_run)
    log.info("sweeps.done", republished=len(republished))
    return {
        "republished": len(republished),
        "noticed": len(money.noticed),
        "expired": len(money.expired),
        "counted_usd": str(money.counted_usd),
    }


def new_container(settings: Settings | None = None) -> Container[SweepState]:
    async def open_(stack: contextlib.AsyncExitStack) -> SweepState:
        return await open_sweeps(stack, settings)

    return Container(open_, flush=lambda state: state.runtime.telemetry.metrics.flush())


async def invoke(container: Container[SweepState]) -> dict[str, Any]:
    return await container.run(run_once)


_CONTAINER: Container[SweepState] | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler; the scheduler's event carries nothing the sweeps need."""
    global _CONTAINER
    if _CONTAINER is None:
        start_logging()
        _CONTAINER = new_container()
    return _CONTAINER.invoke(run_once)
