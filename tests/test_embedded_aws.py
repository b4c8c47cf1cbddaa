"""The embedded AWS's speed-ups of moto (services/emulator/sqs.py, services/emulator/dispatch.py,
services/emulator/transactions.py): SQS still delays, hides and counts messages as moto does, a
cancelled transaction still changes nothing, and the work moto used to repeat per queued message, per
request or per transaction item is gone. Work is counted (calls to moto's datetime clock, directory listings),
never timed."""

from __future__ import annotations

import asyncio
import os
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.core import utils as moto_utils
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.sqs.models import sqs_backends

from shared.worker import Runtime
from tests.shared.factories import finding


async def _counts(sqs: Any, url: str) -> tuple[int, int, int]:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    answer = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return tuple(int(answer["Attributes"][name]) for name in names)  # type: ignore[return-value]


async def test_delayed_and_in_flight_messages_are_counted_and_reappear(runtime: Runtime) -> None:
    sqs, url = runtime.sqs, runtime.queues["analyze"].url
    await sqs.send_message(QueueUrl=url, MessageBody="now")  # type: ignore[attr-defined]
    await sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)  # type: ignore[attr-defined]
    assert await _counts(sqs, url) == (1, 0, 1)

    first = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1)  # type: ignore[attr-defined]
    assert [m["Body"] for m in first["Messages"]] == ["now"]
    assert await _counts(sqs, url) == (0, 1, 1)

    await asyncio.sleep(1.5)  # the delay is over and the first receive's visibility timeout too
    assert await _counts(sqs, url) == (2, 0, 0)
    again = await sqs.receive_message(  # type: ignore[attr-defined]
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )
    received = {m["Body"]: m["Attributes"]["ApproximateReceiveCount"] for m in again["Messages"]}
    assert received == {"now": "2", "later": "1"}


async def test_sending_does_not_read_the_clock_once_per_queued_message(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs, url = runtime.sqs, runtime.queues["analyze"].url
    for start in range(0, 200, 10):  # 200 messages waiting
        entries = [{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)]
        await sqs.send_message_batch(QueueUrl=url, Entries=entries)  # type: ignore[attr-defined]
    calls = 0
    clock = moto_utils.utcnow

    def counted() -> Any:
        nonlocal calls
        calls += 1
        return clock()

    monkeypatch.setattr(moto_utils, "utcnow", counted)
    entries = [{"Id": str(i), "MessageBody": f"more{i}"} for i in range(10)]
    answer = await sqs.send_message_batch(QueueUrl=url, Entries=entries)  # type: ignore[attr-defined]
    await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)  # type: ignore[attr-defined]

    assert len(answer["Successful"]) == 10
    # moto alone read its datetime clock three times per queued message for each message sent (its
    # queue counts) and again for each received: over 6,000 reads here.
    assert calls < 50


async def test_requests_are_dispatched_without_listing_motos_package(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    listings = 0
    listdir = os.listdir

    def counted(path: Any = ".") -> list[str]:
        nonlocal listings
        if "moto" in str(path):
            listings += 1
        return listdir(path)

    monkeypatch.setattr(os, "listdir", counted)
    for _ in range(5):
        await runtime.sqs.get_queue_url(QueueName=runtime.queues["analyze"].name)  # type: ignore[attr-defined]
        await runtime.ledger.get("123456789012#us-east-1#ebs-volume#unattached#vol-1")

    assert listings == 0  # moto listed its package directory (and stat-ed ~170 entries) per request


async def test_a_transaction_backs_its_table_up_once_without_hashing_every_key(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    await runtime.ledger.create_many([finding(f"vol-a{n}") for n in range(300)], now=now)  # the table
    hashes = 0
    real_hash = DynamoType.__hash__

    def counted(self: DynamoType) -> int:
        nonlocal hashes
        hashes += 1
        return real_hash(self)

    monkeypatch.setattr(DynamoType, "__hash__", counted)
    results = await runtime.ledger.create_many([finding(f"vol-b{n}") for n in range(100)], now=now)

    assert all(result.applied for result in results)  # one TransactWriteItems of 100 puts
    # The backup tested every key of the table against the transaction's, once per item: 30,000 here.
    assert hashes < 3000


async def test_a_cancelled_transaction_still_leaves_the_table_as_it_was(runtime: Runtime) -> None:
    now = datetime.now(UTC)
    await runtime.ledger.create_many([finding(f"vol-{n}") for n in range(5)], now=now)
    race = [finding(f"vol-new{n}") for n in range(3)] + [
        finding("vol-2").model_copy(update={"scan_id": "other"})
    ]
    results = await runtime.ledger.create_many(race, now=now)

    assert [r.applied for r in results] == [True, True, True, False]  # the lost race, told as such
    kept = await runtime.ledger.get("123456789012#us-east-1#ebs-volume#unattached#vol-2")
    assert kept is not None and kept.finding.scan_id == "scan-1"
    assert len(await runtime.ledger.get_many(f.key for f in race)) == 4


class _Tripwire(list):  # type: ignore[type-arg]
    """A queue's message list that, once armed, runs `then` when a walk over it has seen every message
    and before the walker goes on: where moto's delete assigns the list it rebuilt."""

    then: Any = None

    def __iter__(self) -> Any:
        yield from list.__iter__(self)
        if self.then is not None:
            then, self.then = self.then, None
            then()


async def test_a_message_sent_while_another_is_deleted_is_kept(runtime: Runtime) -> None:
    sqs, queue = runtime.sqs, runtime.queues["analyze"]
    await sqs.send_message(QueueUrl=queue.url, MessageBody="first")  # type: ignore[attr-defined]
    received = await sqs.receive_message(QueueUrl=queue.url, VisibilityTimeout=30)  # type: ignore[attr-defined]
    backend = sqs_backends["123456789012"]["us-east-1"]
    emulated = backend.queues[queue.name]
    sender = threading.Thread(target=backend.send_message, args=(queue.name, "second"))

    def send_meanwhile() -> None:  # another request's send, while the delete holds the list it walked
        sender.start()
        sender.join(timeout=0.5)  # with the lock held it cannot append yet: it waits for the delete

    emulated._messages = _Tripwire(emulated._messages)
    emulated._messages.then = send_meanwhile
    await sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=received["Messages"][0]["ReceiptHandle"])  # type: ignore[attr-defined]
    await asyncio.to_thread(sender.join)

    assert [message.body for message in emulated._messages] == ["second"]
