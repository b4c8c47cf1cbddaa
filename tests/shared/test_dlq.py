"""DLQ tooling: list shows depth and reasons; replay moves messages back to their source queue."""

from __future__ import annotations

import asyncio
import json

from shared.dlq import list_dlqs, replay
from shared.events import ScanRequested
from shared.ledger import State
from shared.queue import Consumer, ConsumerConfig
from shared.worker import Runtime
from tests.executor.helpers import approve, sample_finding


async def poison(runtime: Runtime, count: int) -> None:
    """Put `count` messages on the scan DLQ the real way: a consumer dead-letters them."""
    for i in range(count):
        await runtime.sqs.send_message(QueueUrl=runtime.queues["scan"].url, MessageBody=f"garbage {i}")

    async def handler(event):  # pragma: no cover - never reached, the bodies do not parse
        return []

    consumer = Consumer(
        sqs=runtime.sqs,
        queue=runtime.queues["scan"],
        handler=handler,
        publisher=runtime.publisher,
        config=ConsumerConfig(wait_time_seconds=1),
    )
    task = asyncio.create_task(consumer.run())
    async with asyncio.timeout(20):
        while consumer.stats.dead_lettered < count:
            await asyncio.sleep(0.05)
    consumer.stop()
    await task


async def test_list_shows_depth_and_reasons(runtime: Runtime) -> None:
    await poison(runtime, 3)
    summaries = {s.queue: s for s in await list_dlqs(runtime.sqs, runtime.settings, sample=5)}
    assert summaries["scan"].depth == 3
    assert len(summaries["scan"].reasons) == 3
    assert all(reason.startswith("invalid event: body is not JSON") for reason in summaries["scan"].reasons)
    assert summaries["execute"].depth == 0 and summaries["execute"].reasons == []
    # Listing is a peek: the messages are still there to replay.
    assert (await list_dlqs(runtime.sqs, runtime.settings))[0].depth == 3


async def test_replay_moves_every_message_back_without_our_reason_attributes(runtime: Runtime) -> None:
    await poison(runtime, 12)
    # moto does not implement StartMessageMoveTask, so this exercises the receive-send-delete fallback.
    result = await replay(runtime.sqs, runtime.settings, "scan")
    assert (result.moved, result.method) == (12, "receive-send-delete")
    bodies = []
    while True:
        answer = await runtime.sqs.receive_message(
            QueueUrl=runtime.queues["scan"].url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        )
        if not answer.get("Messages"):
            break
        for message in answer["Messages"]:
            assert "cloudthrift-error" not in message.get("MessageAttributes", {})
            bodies.append(message["Body"])
            await runtime.sqs.delete_message(
                QueueUrl=runtime.queues["scan"].url, ReceiptHandle=message["ReceiptHandle"]
            )
    assert sorted(bodies) == sorted(f"garbage {i}" for i in range(12))
    assert (await list_dlqs(runtime.sqs, runtime.settings))[0].depth == 0


async def test_replayed_valid_message_is_handled_normally(runtime: Runtime) -> None:
    envelope = await runtime.publisher.publish(
        runtime.queues["scan"].dlq_url, [ScanRequested(scan_id="again")]
    )
    result = await replay(runtime.sqs, runtime.settings, "scan")
    assert result.moved == 1
    answer = await runtime.sqs.receive_message(QueueUrl=runtime.queues["scan"].url, WaitTimeSeconds=0)
    assert json.loads(answer["Messages"][0]["Body"])["id"] == str(envelope[0].id)


async def test_replay_of_an_empty_dlq_moves_nothing(runtime: Runtime) -> None:
    assert (await replay(runtime.sqs, runtime.settings, "notify")).moved == 0


async def test_list_samples_as_many_messages_as_asked_not_ten(runtime: Runtime) -> None:
    await poison(runtime, 23)
    [scan] = [s for s in await list_dlqs(runtime.sqs, runtime.settings, sample=20) if s.queue == "scan"]
    assert scan.depth == 23 and len(scan.entries) == 20
    # Still a peek: every message is visible again for a replay.
    assert (await replay(runtime.sqs, runtime.settings, "scan")).moved == 23


async def test_list_names_the_decision_and_replay_deletes_what_has_finished(runtime: Runtime) -> None:
    ledger = runtime.ledger
    finished = await approve(ledger, sample_finding("vol-0000000000000000a"))
    pending = await approve(ledger, sample_finding("vol-0000000000000000b"))
    await ledger.transition(finished.payload.key, State.APPROVED, State.EXECUTING)
    await ledger.transition(finished.payload.key, State.EXECUTING, State.EXECUTED)
    dlq_url = runtime.queues["execute"].dlq_url
    await runtime.publisher.publish(dlq_url, [finished.payload, pending.payload])

    [execute] = [
        s
        for s in await list_dlqs(runtime.sqs, runtime.settings, sample=5, ledger=ledger)
        if s.queue == "execute"
    ]
    by_pk = {entry.pk: entry for entry in execute.entries}
    done, todo = by_pk[finished.payload.key.pk], by_pk[pending.payload.key.pk]
    assert (done.decision_id, done.state, done.finished) == (
        finished.payload.decision_id,
        State.EXECUTED,
        True,
    )
    assert (todo.decision_id, todo.state, todo.finished) == (
        pending.payload.decision_id,
        State.APPROVED,
        False,
    )
    assert finished.payload.decision_id in done.describe() and "finished" in done.describe()

    result = await replay(runtime.sqs, runtime.settings, "execute", ledger=ledger)

    assert (result.moved, result.skipped) == (1, 1)
    answer = await runtime.sqs.receive_message(QueueUrl=runtime.queues["execute"].url, MaxNumberOfMessages=10)
    [moved] = answer["Messages"]
    assert json.loads(moved["Body"])["payload"]["decision_id"] == pending.payload.decision_id
    assert (await list_dlqs(runtime.sqs, runtime.settings))[3].depth == 0
