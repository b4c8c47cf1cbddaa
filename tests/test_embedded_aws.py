"""The embedded AWS's speed-ups of moto (services/emulator_sqs.py, services/emulator_dispatch.py): SQS
still delays, hides and counts messages as moto does, and the work moto used to repeat per queued
message or per request is gone. Work is counted (calls to moto's datetime clock, directory listings),
never timed."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from moto.core import utils as moto_utils

from shared.worker import Runtime


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
