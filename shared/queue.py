"""The one SQS runtime every worker uses: consume a queue with a handler, publish what it returns
(through shared/publisher.py).

Per message (shared/unit.py, which the Lambda adapter shares): parse the envelope, run the handler,
publish its outputs, then delete the message. What happens when that fails depends on the error (see
shared/errors.py):

- `PermanentError` (including a body that does not parse or has an unknown schema): sent to the DLQ at
  once with the reason as a message attribute, then deleted. Never retried in a loop.
- `Superseded` (another worker owns the work, e.g. took the executor's claim over): deleted quietly.
  It is neither a failure nor a retry, and never counts toward the dead-letter budget.
- anything else: the message is left on the queue with a visibility backoff that grows with its receive
  count; on its last allowed receive it is dead-lettered with the last error as its reason. The queue's
  redrive policy (maxReceiveCount) stays as the backstop if a worker dies mid-way.

While handlers run, a heartbeat extends the visibility of every message in flight, so a slow handler
is not raced by a second consumer. On stop (SIGTERM/SIGINT) the consumer stops receiving, lets what is
in flight finish for a bounded time, and makes anything unfinished visible again: nothing is lost.

Every message is observed (shared/telemetry): its lag, latency and outcome as metrics, and a span of the
stage's service, child of the producer's span whose context came in the `_datadog` attribute; the
handler's outputs carry this span's context on.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import structlog

from shared.config import default
from shared.publisher import Publisher, QueueRef
from shared.telemetry import Stage
from shared.unit import (
    REASON_ATTRIBUTE,
    RECEIVES_ATTRIBUTE,
    SOURCE_ATTRIBUTE,
    Backoff,
    Handler,
    MessageWork,
)
from shared.unit import WorkStats as ConsumerStats

log = structlog.get_logger("cloudthrift.queue")

__all__ = [
    "REASON_ATTRIBUTE",
    "RECEIVES_ATTRIBUTE",
    "SOURCE_ATTRIBUTE",
    "Consumer",
    "ConsumerConfig",
    "ConsumerStats",
    "Handler",
]


@dataclass(frozen=True)
class ConsumerConfig:
    max_concurrency: int = default("cloudthrift_max_concurrency")
    visibility_timeout: int = default("cloudthrift_visibility_timeout")
    wait_time_seconds: int = default("cloudthrift_wait_time_seconds")
    max_receives: int = default("cloudthrift_max_receives")
    drain_seconds: float = default("cloudthrift_drain_seconds")
    backoff_base_seconds: int = 5
    backoff_max_seconds: int = 900
    heartbeat_every: float | None = None  # default: half the visibility timeout

    def backoff(self, receive_count: int) -> int:
        return self.retries().delay(receive_count)

    def retries(self) -> Backoff:
        return Backoff(self.max_receives, self.backoff_base_seconds, self.backoff_max_seconds)


@dataclass
class _InFlight:
    receipt_handle: str
    message_id: str


@dataclass
class Consumer:
    """Consumes one queue with one handler until `stop()` is called (or a signal arrives)."""

    sqs: Any
    queue: QueueRef
    handler: Handler
    publisher: Publisher
    output_url: str | None = None
    config: ConsumerConfig = field(default_factory=ConsumerConfig)
    stats: ConsumerStats = field(default_factory=ConsumerStats)
    telemetry: Stage = field(default_factory=Stage.off)  # metrics + the stage's tracing service
    # Event types this queue's handler takes (empty: any). Another type was routed here by mistake: it
    # goes to the DLQ at once with that reason, instead of failing in the handler on every receive.
    accepts: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self._stopping = asyncio.Event()
        self._in_flight: dict[str, _InFlight] = {}
        self._slots = asyncio.Semaphore(self.config.max_concurrency)
        self._batches: set[asyncio.Task[None]] = set()
        self._work = MessageWork(
            sqs=self.sqs,
            queue=self.queue,
            handler=self.handler,
            publisher=self.publisher,
            backoff=self.config.retries(),
            output_url=self.output_url,
            telemetry=self.telemetry,
            accepts=self.accepts,
            stats=self.stats,
            release=self._forget,
        )

    def stop(self) -> None:
        self._stopping.set()

    def _forget(self, message_id: str) -> None:
        """The heartbeat stops extending this message (its fate is settled elsewhere)."""
        self._in_flight.pop(message_id, None)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> ConsumerStats:
        """Receive until stopped, then drain. Returns the counters for the run."""
        heartbeat = asyncio.create_task(self._heartbeat(), name=f"heartbeat:{self.queue.name}")
        try:
            while not self._stopping.is_set():
                free = await self._wait_for_capacity()
                if free == 0:
                    break
                messages = await self._receive(free)
                if messages is None:
                    self._release_slots(free)
                    break
                self._release_slots(free - len(messages))
                if messages:
                    task = asyncio.create_task(self._handle_batch(messages))
                    self._batches.add(task)
                    task.add_done_callback(self._batches.discard)
        finally:
            await self._drain()
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        log.info("consumer.stopped", queue=self.queue.name, **vars(self.stats))
        return self.stats

    async def _wait_for_capacity(self) -> int:
        """Take as many handler slots as are free (at least one, at most 10); 0 when stopping."""
        acquire = asyncio.create_task(self._slots.acquire())
        stopping = asyncio.create_task(self._stopping.wait())
        done, _ = await asyncio.wait({acquire, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if acquire not in done:
            acquire.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acquire
            if acquire.done() and not acquire.cancelled():
                self._slots.release()
            return 0
        taken = 1
        while taken < 10 and not self._slots.locked():
            await self._slots.acquire()
            taken += 1
        return taken

    def _release_slots(self, count: int) -> None:
        for _ in range(count):
            self._slots.release()

    async def _receive(self, count: int) -> list[dict[str, Any]] | None:
        """One long poll; None when a stop arrived during it.

        The poll is not abandoned on stop: the server would still complete it and hand messages to a
        request nobody reads, hiding them for a whole visibility timeout. It is waited out (at most
        WaitTimeSeconds) and whatever it brought is left in flight, for the drain to make visible again.
        """
        receive = asyncio.create_task(
            self.sqs.receive_message(
                QueueUrl=self.queue.url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=self.config.wait_time_seconds,
                VisibilityTimeout=self.config.visibility_timeout,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
                MessageAttributeNames=["All"],
            )
        )
        stopping = asyncio.create_task(self._stopping.wait())
        done, _ = await asyncio.wait({receive, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        interrupted = receive not in done
        try:
            messages = (await receive).get("Messages", [])
        except Exception as exc:
            log.warning("consumer.receive_failed", queue=self.queue.name, error=str(exc))
            if interrupted:
                return None
            await asyncio.sleep(1)
            return []
        for message in messages:
            self._in_flight[message["MessageId"]] = _InFlight(message["ReceiptHandle"], message["MessageId"])
        self.stats.received += len(messages)
        return None if interrupted else messages

    async def _handle_batch(self, messages: list[dict[str, Any]]) -> None:
        outcomes = await asyncio.gather(*(self._handle_one(m) for m in messages), return_exceptions=True)
        done = [m for m, ok in zip(messages, outcomes, strict=True) if ok is True]
        await self._delete(done)

    async def _handle_one(self, message: dict[str, Any]) -> bool:
        """Returns True when the message should be deleted (handled, or dead-lettered)."""
        try:
            return await self._work.process(message)
        finally:
            self._slots.release()

    async def _delete(self, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            try:
                answer = await self.sqs.delete_message_batch(
                    QueueUrl=self.queue.url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                    ],
                )
                for failure in answer.get("Failed", []):
                    # The message will be redelivered; handlers are idempotent, so this costs a repeat.
                    log.warning(
                        "message.delete_failed",
                        message_id=chunk[int(failure["Id"])]["MessageId"],
                        error=failure.get("Message"),
                    )
            except Exception as exc:
                log.warning("message.delete_failed", count=len(chunk), error=str(exc))
            finally:
                for message in chunk:
                    self._in_flight.pop(message["MessageId"], None)

    async def _heartbeat(self) -> None:
        """Extend every in-flight message before its visibility runs out."""
        every = self.config.heartbeat_every or self.config.visibility_timeout / 2
        while True:
            await asyncio.sleep(every)
            await self._change_visibility(list(self._in_flight.values()), self.config.visibility_timeout)

    async def _change_visibility(self, flights: list[_InFlight], seconds: int) -> None:
        for start in range(0, len(flights), 10):
            chunk = flights[start : start + 10]
            try:
                answer = await self.sqs.change_message_visibility_batch(
                    QueueUrl=self.queue.url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": f.receipt_handle, "VisibilityTimeout": seconds}
                        for i, f in enumerate(chunk)
                    ],
                )
                for failure in answer.get("Failed", []):
                    log.warning(
                        "message.heartbeat_failed",
                        message_id=chunk[int(failure["Id"])].message_id,
                        error=failure.get("Message"),
                    )
            except Exception as exc:
                log.warning("message.heartbeat_failed", count=len(chunk), error=str(exc))

    async def _drain(self) -> None:
        """Let in-flight handlers finish for a bounded time; make the rest visible again at once."""
        if self._batches:
            log.info("consumer.draining", queue=self.queue.name, in_flight=len(self._in_flight))
            _, unfinished = await asyncio.wait(set(self._batches), timeout=self.config.drain_seconds)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        leftovers = list(self._in_flight.values())
        if leftovers:
            await self._change_visibility(leftovers, 0)
            self.stats.released += len(leftovers)
            self._in_flight.clear()
