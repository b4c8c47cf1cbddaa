"""Lambda entry for a worker: `services.serverless.worker.handler`, the stage named by CLOUDTHRIFT_STAGE.

One function per stage, each fed by its queue through an event source mapping with
ReportBatchItemFailures. The container opens the runtime and builds the stage's handler once (the same
`WorkerSpec.build` the ECS worker uses, on a runtime that is not `resident`: no loop is started beside
the handler), then each invocation is one batch through shared/lambda_sqs.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from services.serverless import start_logging
from services.serverless.settings import container_settings
from services.workers import available_workers
from shared.config import Settings
from shared.errors import SettingsError
from shared.lambda_container import Container
from shared.lambda_sqs import handle_sqs_event
from shared.unit import MessageWork
from shared.worker import Runtime, open_runtime

STAGE_VARIABLE = "CLOUDTHRIFT_STAGE"


@dataclass(frozen=True)
class WorkerState:
    runtime: Runtime
    work: MessageWork
    concurrency: int


async def open_worker(stack: contextlib.AsyncExitStack, stage: str, settings: Settings) -> WorkerState:
    """The stage's unit of work on a runtime of its own: what `run_workers` gives a Consumer."""
    workers = available_workers()
    if stage not in workers:
        raise SettingsError(f"{STAGE_VARIABLE}={stage!r} is not a worker (known: {', '.join(workers)})")
    spec = workers[stage]
    # Not resident: a build starts no loop of its own (the sweeps function runs the executor's).
    runtime = dataclasses.replace(await stack.enter_async_context(open_runtime(settings)), resident=False)
    handler = await stack.enter_async_context(spec.build(runtime))
    config = spec.consumer_config(runtime)
    work = MessageWork(
        sqs=runtime.sqs,
        queue=runtime.queues[spec.input],
        handler=handler,
        publisher=runtime.publisher,
        backoff=config.retries(),
        output_url=runtime.queues[spec.output].url if spec.output else None,
        telemetry=runtime.telemetry.stage(spec.name),
        accepts=frozenset(payload.event_type for payload in spec.accepts),
    )
    return WorkerState(runtime=runtime, work=work, concurrency=config.max_concurrency)


def container_for(stage: str, settings: Settings | None = None) -> Container[WorkerState]:
    async def open_(stack: contextlib.AsyncExitStack) -> WorkerState:
        return await open_worker(stack, stage, settings or await container_settings())

    return Container(open_, flush=lambda state: state.runtime.telemetry.metrics.flush())


async def batch(state: WorkerState, event: dict[str, Any]) -> dict[str, Any]:
    return await handle_sqs_event(event, state.work, concurrency=state.concurrency)


async def invoke(container: Container[WorkerState], event: dict[str, Any]) -> dict[str, Any]:
    return await container.run(lambda state: batch(state, event))


_CONTAINER: Container[WorkerState] | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler. Clients are created on the first invocation and kept for the container."""
    global _CONTAINER
    if _CONTAINER is None:
        start_logging()
        _CONTAINER = container_for(os.environ.get(STAGE_VARIABLE, ""))
    return _CONTAINER.invoke(lambda state: batch(state, event))
