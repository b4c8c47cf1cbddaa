"""Wiring shared by every worker: the process-wide dependencies, and running consumers until a signal.

A service declares a `WorkerSpec` (which queue it reads, which it writes, how to build its handler from
the runtime); `run_workers` turns specs into queue consumers. The embedded local default runs all of
them in one process, a container runs one.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import structlog

from shared.aws import AwsClients
from shared.config import QUEUE_NAMES, QueueName, Settings
from shared.ledger import Ledger
from shared.queue import Consumer, ConsumerConfig, Handler, Publisher, QueueRef, resolve_queue

log = structlog.get_logger("cloudthrift.worker")


@dataclass(frozen=True)
class Runtime:
    """What every runner needs, built once at start-up from the settings."""

    settings: Settings
    aws: AwsClients
    sqs: object
    ledger: Ledger
    publisher: Publisher
    queues: dict[QueueName, QueueRef]

    def consumer_config(self) -> ConsumerConfig:
        s = self.settings
        return ConsumerConfig(
            max_concurrency=s.cloudthrift_max_concurrency,
            visibility_timeout=s.cloudthrift_visibility_timeout,
            wait_time_seconds=s.cloudthrift_wait_time_seconds,
            max_receives=s.cloudthrift_max_receives,
            drain_seconds=s.cloudthrift_drain_seconds,
        )


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with AwsClients(settings) as aws:
        sqs = await aws.client("sqs")
        dynamodb = await aws.client("dynamodb")
        queues = {
            name: await resolve_queue(sqs, settings.queue_name(name), settings.dlq_name(name))
            for name in QUEUE_NAMES
        }
        yield Runtime(
            settings=settings,
            aws=aws,
            sqs=sqs,
            ledger=Ledger(dynamodb, settings.table_name),
            publisher=Publisher(sqs),
            queues=queues,
        )


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    input: QueueName
    output: QueueName | None
    build: Callable[[Runtime], AbstractAsyncContextManager[Handler]]


async def run_workers(
    runtime: Runtime, specs: Sequence[WorkerSpec], *, stop: asyncio.Event | None = None
) -> None:
    """Consume with every spec until SIGTERM/SIGINT (or `stop`), then drain each consumer."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        async with contextlib.AsyncExitStack() as stack:
            consumers = []
            for spec in specs:
                handler = await stack.enter_async_context(spec.build(runtime))
                consumers.append(
                    Consumer(
                        sqs=runtime.sqs,
                        queue=runtime.queues[spec.input],
                        handler=handler,
                        publisher=runtime.publisher,
                        output_url=runtime.queues[spec.output].url if spec.output else None,
                        config=runtime.consumer_config(),
                    )
                )
            runs = [
                asyncio.create_task(c.run(), name=f"consumer:{s.name}")
                for c, s in zip(consumers, specs, strict=True)
            ]
            log.info("workers.started", workers=[s.name for s in specs])
            await stop.wait()
            log.info("workers.stopping")
            for consumer in consumers:
                consumer.stop()
            await asyncio.gather(*runs)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
