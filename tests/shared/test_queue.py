"""The queue runtime against moto over HTTP: acks, visibility, poison messages, shutdown, publishing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from shared.errors import PermanentError, Superseded, TransientError
from shared.events import Envelope, ResourceFound, ScanRequested
from shared.publisher import Publisher
from shared.queue import REASON_ATTRIBUTE, RECEIVES_ATTRIBUTE, Consumer, ConsumerConfig
from shared.worker import Runtime

FAST = ConsumerConfig(
    max_concurrency=10,
    visibility_timeout=30,
    wait_time_seconds=1,
    max_receives=3,
    drain_seconds=5,
    backoff_base_seconds=0,
)


def consumer(
    runtime: Runtime, handler: Callable[[Envelope[Any]], Awaitable[list[Any]]], **config: Any
) -> Consumer:
    cfg = ConsumerConfig(**{**FAST.__dict__, **config})
    return Consumer(
        sqs=runtime.sqs,
        queue=runtime.queues["scan"],
        handler=handler,
        publisher=runtime.publisher,
        output_url=runtime.queues["analyze"].url,
        config=cfg,
    )


async def depth(runtime: Runtime, url: str) -> int:
    attrs = await runtime.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    return sum(int(v) for v in attrs["Attributes"].values())


async def drain_raw(runtime: Runtime, url: str) -> list[dict[str, Any]]:
    """Read (and delete) everything visible on a queue, the way an operator would."""
    messages: list[dict[str, Any]] = []
    while True:
        answer = await runtime.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        )
        batch = answer.get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        for message in batch:
            await runtime.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


async def run_until(c: Consumer, condition: Callable[[], bool], timeout: float = 20) -> None:
    task = asyncio.create_task(c.run())
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.05)
    finally:
        c.stop()
        await task


async def test_deletes_exactly_the_messages_that_succeeded(runtime: Runtime) -> None:
    scans = [ScanRequested(scan_id=f"scan-{i}") for i in range(6)]
    await runtime.publisher.publish(runtime.queues["scan"].url, scans)
    seen: list[str] = []

    async def handler(event: Envelope[Any]) -> list[Any]:
        seen.append(event.payload.scan_id)
        if event.payload.scan_id in {"scan-1", "scan-4"}:
            raise RuntimeError("boom")
        return []

    # Failures get a long backoff here, so they stay invisible and only the successes are gone.
    c = consumer(runtime, handler, backoff_base_seconds=60)
    await run_until(c, lambda: c.stats.succeeded == 4 and c.stats.retried == 2)
    assert sorted(seen) == sorted(s.scan_id for s in scans)
    assert await depth(runtime, runtime.queues["scan"].url) == 2  # the two failures, waiting for their retry
    assert c.stats.dead_lettered == 0


async def test_handler_outputs_are_published_before_the_input_is_deleted(runtime: Runtime) -> None:
    await runtime.publisher.publish(runtime.queues["scan"].url, [ScanRequested(scan_id="in")])

    async def handler(event: Envelope[Any]) -> list[Any]:
        return [ScanRequested(scan_id="out-1"), ScanRequested(scan_id="out-2")]

    c = consumer(runtime, handler)
    await run_until(c, lambda: c.stats.succeeded == 1)
    out = await drain_raw(runtime, runtime.queues["analyze"].url)
    assert sorted(json.loads(m["Body"])["payload"]["scan_id"] for m in out) == ["out-1", "out-2"]
    assert await depth(runtime, runtime.queues["scan"].url) == 0


async def test_heartbeat_keeps_a_slow_message_invisible_and_it_is_handled_once(runtime: Runtime) -> None:
    await runtime.publisher.publish(runtime.queues["scan"].url, [ScanRequested(scan_id="slow")])
    calls = 0
    stolen: list[dict[str, Any]] = []

    async def handler(event: Envelope[Any]) -> list[Any]:
        nonlocal calls
        calls += 1
        # Outlive the 2 s visibility timeout three times over while a rival consumer polls.
        for _ in range(12):
            await asyncio.sleep(0.5)
            answer = await runtime.sqs.receive_message(QueueUrl=runtime.queues["scan"].url, WaitTimeSeconds=0)
            stolen.extend(answer.get("Messages", []))
        return []

    c = consumer(runtime, handler, visibility_timeout=2, heartbeat_every=0.5)
    await run_until(c, lambda: c.stats.succeeded == 1)
    assert stolen == []
    assert calls == 1
    assert await depth(runtime, runtime.queues["scan"].url) == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("this is not json", "body is not JSON"),
        (json.dumps({"schema": "cloudthrift.event/99", "type": "ScanRequested"}), "unsupported schema"),
        (
            json.dumps({"schema": "cloudthrift.event/1", "type": "Teleport", "payload": {}}),
            "unknown event type",
        ),
    ],
)
async def test_poison_message_goes_to_the_dlq_with_its_reason_and_is_not_retried(
    runtime: Runtime, body: str, reason: str
) -> None:
    await runtime.sqs.send_message(QueueUrl=runtime.queues["scan"].url, MessageBody=body)
    calls = 0

    async def handler(event: Envelope[Any]) -> list[Any]:
        nonlocal calls
        calls += 1
        return []

    c = consumer(runtime, handler)
    await run_until(c, lambda: c.stats.dead_lettered == 1)
    assert calls == 0
    assert c.stats.received == 1
    assert await depth(runtime, runtime.queues["scan"].url) == 0
    [dead] = await drain_raw(runtime, runtime.queues["scan"].dlq_url)
    assert dead["Body"] == body
    assert reason in dead["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"]


async def test_permanent_error_from_a_handler_is_dead_lettered_at_once(runtime: Runtime) -> None:
    await runtime.publisher.publish(runtime.queues["scan"].url, [ScanRequested(scan_id="bad")])

    async def handler(event: Envelope[Any]) -> list[Any]:
        raise PermanentError("resource kind 'nat-gateway' is not supported")

    c = consumer(runtime, handler)
    await run_until(c, lambda: c.stats.dead_lettered == 1)
    [dead] = await drain_raw(runtime, runtime.queues["scan"].dlq_url)
    assert "nat-gateway" in dead["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"]


async def test_transient_failures_are_retried_then_dead_lettered_with_the_last_error(
    runtime: Runtime,
) -> None:
    await runtime.publisher.publish(runtime.queues["scan"].url, [ScanRequested(scan_id="flaky")])
    calls = 0

    async def handler(event: Envelope[Any]) -> list[Any]:
        nonlocal calls
        calls += 1
        raise TransientError(f"ec2 throttled, attempt {calls}")

    c = consumer(runtime, handler, max_receives=3)
    await run_until(c, lambda: c.stats.dead_lettered == 1)
    assert calls == 3
    [dead] = await drain_raw(runtime, runtime.queues["scan"].dlq_url)
    reason = dead["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"]
    assert "gave up after 3 receives" in reason and "attempt 3" in reason


async def test_a_superseded_delivery_is_acknowledged_quietly_never_dead_lettered(runtime: Runtime) -> None:
    # Another worker owns the work (it took the executor's claim over): not a failure, not a retry.
    await runtime.publisher.publish(runtime.queues["scan"].url, [ScanRequested(scan_id="taken-over")])
    calls = 0

    async def handler(event: Envelope[Any]) -> list[Any]:
        nonlocal calls
        calls += 1
        raise Superseded("claim taken over by another executor")

    c = consumer(runtime, handler, max_receives=1)  # a retry on its last receive would dead-letter it
    await run_until(c, lambda: c.stats.superseded == 1)
    assert calls == 1 and c.stats.dead_lettered == 0 and c.stats.retried == 0
    assert await depth(runtime, runtime.queues["scan"].url) == 0
    assert await drain_raw(runtime, runtime.queues["scan"].dlq_url) == []


async def test_stop_finishes_in_flight_work_and_loses_nothing(runtime: Runtime) -> None:
    await runtime.publisher.publish(
        runtime.queues["scan"].url, [ScanRequested(scan_id=f"s{i}") for i in range(3)]
    )
    started = asyncio.Event()
    finished: list[str] = []

    async def handler(event: Envelope[Any]) -> list[Any]:
        started.set()
        await asyncio.sleep(1)
        finished.append(event.payload.scan_id)
        return []

    c = consumer(runtime, handler)
    task = asyncio.create_task(c.run())
    await asyncio.wait_for(started.wait(), 10)
    c.stop()
    stats = await asyncio.wait_for(task, 15)
    # Whatever was received was finished and deleted; whatever was not is still on the queue.
    assert stats.succeeded == len(finished) == stats.received
    assert stats.released == 0
    assert await depth(runtime, runtime.queues["scan"].url) == 3 - len(finished)


async def test_stop_releases_unfinished_messages_at_once_when_the_drain_times_out(runtime: Runtime) -> None:
    await runtime.publisher.publish(runtime.queues["scan"].url, [ScanRequested(scan_id="stuck")])
    started = asyncio.Event()

    async def handler(event: Envelope[Any]) -> list[Any]:
        started.set()
        await asyncio.sleep(60)
        return []

    c = consumer(runtime, handler, drain_seconds=0.5, visibility_timeout=300)
    task = asyncio.create_task(c.run())
    await asyncio.wait_for(started.wait(), 10)
    c.stop()
    stats = await asyncio.wait_for(task, 10)
    assert stats.released == 1
    # Visible again immediately (not after the 300 s visibility timeout): a peer can take it over.
    [again] = await drain_raw(runtime, runtime.queues["scan"].url)
    assert json.loads(again["Body"])["payload"]["scan_id"] == "stuck"


class _FlakySqs:
    """An SQS stand-in that fails some batch entries the way SQS reports them: inside an HTTP 200."""

    def __init__(self, failures: list[list[dict[str, Any]]]) -> None:
        self.failures = failures
        self.calls: list[list[str]] = []

    async def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([entry["Id"] for entry in Entries])
        failed = self.failures.pop(0) if self.failures else []
        return {"Successful": [], "Failed": failed}


async def test_publisher_resends_only_the_entries_sqs_failed() -> None:
    sqs = _FlakySqs([[{"Id": "3", "SenderFault": False, "Code": "InternalError", "Message": "try again"}]])
    await Publisher(sqs, retry_delay=0).publish("q", [ScanRequested(scan_id=str(i)) for i in range(12)])
    # Batches go out concurrently (no order between them), the failed entry alone is sent again.
    assert sorted(sqs.calls) == sorted([[str(i) for i in range(10)], ["3"], ["10", "11"]])


async def test_publisher_raises_permanent_error_on_a_sender_fault() -> None:
    sqs = _FlakySqs([[{"Id": "0", "SenderFault": True, "Code": "InvalidMessageContents", "Message": "bad"}]])
    with pytest.raises(PermanentError, match="bad"):
        await Publisher(sqs, retry_delay=0).publish("q", [ScanRequested(scan_id="x")])


async def test_publisher_gives_up_with_a_transient_error_when_sqs_keeps_failing() -> None:
    always = [[{"Id": "0", "SenderFault": False, "Code": "InternalError", "Message": "down"}]] * 10
    sqs = _FlakySqs(always)
    with pytest.raises(TransientError):
        await Publisher(sqs, entry_retries=2, retry_delay=0).publish("q", [ScanRequested(scan_id="x")])
    assert len(sqs.calls) == 3


async def test_a_message_caught_by_the_last_poll_after_stop_is_visible_again_at_once(
    runtime: Runtime,
) -> None:
    async def handler(event: Envelope[Any]) -> list[Any]:  # pragma: no cover - stopped before any message
        raise AssertionError("a stopping consumer must not start new work")

    c = consumer(runtime, handler, wait_time_seconds=3, visibility_timeout=300)
    task = asyncio.create_task(c.run())
    await asyncio.sleep(0.5)  # the consumer is now inside a long poll on the empty queue
    c.stop()
    # Arrives while that poll is still open on the server: the server hands it to the poll.
    await runtime.publisher.publish(runtime.queues["scan"].url, [ScanRequested(scan_id="late")])
    stats = await asyncio.wait_for(task, 15)
    assert (stats.received, stats.released, stats.succeeded) == (1, 1, 0)
    # Visible again now, not after the 300 s visibility timeout of an abandoned poll.
    [again] = await drain_raw(runtime, runtime.queues["scan"].url)
    assert json.loads(again["Body"])["payload"]["scan_id"] == "late"


async def test_a_misrouted_event_goes_to_the_dlq_at_once_with_its_reason(runtime: Runtime) -> None:
    """The real scanner worker reads only ScanRequested: a ResourceFound sent to its queue by mistake is
    dead-lettered on its first receive, before the handler sees it (it used to fail five times)."""
    from services.scanner.main import WORKER as SCANNER
    from shared.worker import run_workers
    from tests.shared.factories import finding

    await runtime.publisher.publish(runtime.queues["scan"].url, [ResourceFound(finding=finding())])
    stop = asyncio.Event()
    workers = asyncio.create_task(run_workers(runtime, [SCANNER], stop=stop))
    try:
        async with asyncio.timeout(20):
            while not (dead := await drain_raw(runtime, runtime.queues["scan"].dlq_url)):
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        await workers
    [message] = dead
    reason = message["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"]
    assert "ResourceFound is not for cloudthrift-scan, which takes ScanRequested" in reason
    assert message["MessageAttributes"][RECEIVES_ATTRIBUTE]["StringValue"] == "1"


async def test_publisher_sends_batches_concurrently_and_raises_the_typed_error_of_a_failed_one() -> None:
    class _SlowSqs(_FlakySqs):
        in_flight = peak = 0

        async def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            await asyncio.sleep(0.01)
            self.in_flight -= 1
            return await super().send_message_batch(QueueUrl, Entries)

    sqs = _SlowSqs([])
    await Publisher(sqs, in_flight=4).publish("q", [ScanRequested(scan_id=str(i)) for i in range(100)])
    assert sorted(int(i) for call in sqs.calls for i in call) == list(range(100))
    assert sqs.peak == 4

    sqs = _SlowSqs([[], [{"Id": "10", "SenderFault": True, "Code": "Invalid", "Message": "bad"}]])
    with pytest.raises(PermanentError, match="bad"):
        await Publisher(sqs, in_flight=4).publish("q", [ScanRequested(scan_id=str(i)) for i in range(30)])
