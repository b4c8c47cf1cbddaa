"""Wiring shared by every worker: the process-wide dependencies, and running consumers until a signal.

A service declares a `WorkerSpec` (which queue it reads, which it writes, how to build its handler from
the runtime); `run_workers` turns specs into queue consumers. The embedded local default runs all of
them in one process, a container runs one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import structlog
from aiobotocore.session import AioSession

from shared.aws import AwsClients
from shared.config import QUEUE_NAMES, QueueName, Settings
from shared.events import Payload
from shared.ledger import Ledger
from shared.publisher import Publisher, QueueRef, resolve_queue
from shared.queue import Consumer, ConsumerConfig, Handler
from shared.telemetry import Telemetry, sample_gauges

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
    # Metrics client and tracing switch; `telemetry.stage(name)` gives a stage its service name.
    telemetry: Telemetry = field(default_factory=Telemetry)
    # A long-running process, whose builds may start loops beside their consumer (the executor's
    # sweeps and heartbeat). False in a Lambda function: its loop runs only during an invocation and
    # EventBridge Scheduler runs that work (services/serverless/sweeps.py).
    resident: bool = True

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
async def open_runtime(
    settings: Settings,
    *,
    session: AioSession | None = None,
    short_lived: bool = False,
    queues: Sequence[QueueName] = QUEUE_NAMES,
) -> AsyncIterator[Runtime]:
    """Everything a runner needs; `session` lets many runtimes share botocore's parsed service models.

    Args:
        short_lived: a CLI command, not a worker: its telemetry never waits on a Datadog Agent.
        queues: the queues it uses. A CLI command that publishes to one queue resolves that one: each
            queue is two GetQueueUrl calls before the command can do anything (`approve` latency).
    """
    async with AwsClients(settings, session=session) as aws:
        sqs = await aws.client("sqs")
        dynamodb = await aws.client("dynamodb")
        resolved = await asyncio.gather(
            *(resolve_queue(sqs, settings.queue_name(name), settings.dlq_name(name)) for name in queues)
        )
        telemetry = Telemetry.from_settings(settings, short_lived=short_lived)
        try:
            yield Runtime(
                settings=settings,
                aws=aws,
                sqs=sqs,
                ledger=Ledger(dynamodb, settings.table_name),
                publisher=Publisher(sqs),
                queues=dict(zip(queues, resolved, strict=True)),
                telemetry=telemetry,
            )
        finally:
            telemetry.close()


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    input: QueueName
    output: QueueName | None
    build: Callable[[Runtime], AbstractAsyncContextManager[Handler]]
    # The event types its input queue carries (the envelope's `type`): anything else is misrouted.
    accepts: tuple[type[Payload], ...]
    # Messages in flight for this worker, when the shared CLOUDTHRIFT_MAX_CONCURRENCY is not the right
    # bound (the analyzer's is Gemini's own: its consumer must keep more than that many in flight).
    concurrency: Callable[[Settings], int] | None = None

    def consumer_config(self, runtime: Runtime) -> ConsumerConfig:
        config = runtime.consumer_config()
        if self.concurrency is None:
            return config
        return dataclasses.replace(config, max_concurrency=self.concurrency(runtime.settings))


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
                        config=spec.consumer_config(runtime),
                        telemetry=runtime.telemetry.stage(spec.name),
                        accepts=frozenset(payload.event_type for payload in spec.accepts),
                    )
                )
            runs = [
                asyncio.create_task(c.run(), name=f"consumer:{s.name}")
                for c, s in zip(consumers, specs, strict=True)
            ]
            gauges = asyncio.create_task(_sample_gauges(runtime, specs, stop), name="gauges")
            log.info("workers.started", workers=[s.name for s in specs])
            await stop.wait()
            log.info("workers.stopping")
            for consumer in consumers:
                consumer.stop()
            await asyncio.gather(*runs, gauges)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def _sample_gauges(runtime: Runtime, specs: Sequence[WorkerSpec], stop: asyncio.Event) -> None:
    """Depths of the queues these workers consume (and their DLQs); pending approvals where the
    notifier runs, so that one process, not every worker, reports them."""
    notifier = any(spec.input == "notify" for spec in specs)
    await sample_gauges(
        runtime.settings.cloudthrift_gauge_interval,
        stop,
        sqs=runtime.sqs,
        queues=[runtime.queues[spec.input] for spec in specs],
        metrics=runtime.telemetry.stage(specs[0].name if len(specs) == 1 else "runtime").metrics,
        ledger=runtime.ledger if notifier else None,
    )
