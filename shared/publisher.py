"""Sending events to SQS: the Publisher every stage uses, and the queue references the runtime resolves.

SendMessageBatch answers HTTP 200 even when some entries failed, so every batch's per-entry failures
are checked: the sender's faults (too large, bad attributes) are permanent, the others are retried a
few times before the whole publish counts as transient (the consumer then retries the message).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from shared.errors import PermanentError, TransientError
from shared.events import Envelope, Payload

log = structlog.get_logger("cloudthrift.queue")

_MAX_BATCH_BYTES = 1_048_576
MAX_DELAY_SECONDS = 900  # SQS's DelaySeconds ceiling


@dataclass(frozen=True)
class QueueRef:
    """A queue and the dead-letter queue behind it, resolved once at start-up."""

    name: str
    url: str
    dlq_url: str


async def resolve_queue(sqs: Any, name: str, dlq_name: str) -> QueueRef:
    queue, dlq = await asyncio.gather(
        sqs.get_queue_url(QueueName=name), sqs.get_queue_url(QueueName=dlq_name)
    )
    url, dlq_url = queue["QueueUrl"], dlq["QueueUrl"]
    return QueueRef(name=name, url=url, dlq_url=dlq_url)


class Publisher:
    """Sends events with SendMessageBatch, checking the per-entry failures SQS reports on HTTP 200."""

    def __init__(
        self, sqs: Any, *, entry_retries: int = 3, retry_delay: float = 0.2, in_flight: int = 8
    ) -> None:
        self._sqs = sqs
        self._entry_retries = entry_retries
        self._retry_delay = retry_delay
        self._in_flight = in_flight

    async def publish(
        self,
        queue_url: str,
        payloads: Sequence[Payload | Envelope[Any]],
        *,
        attributes: Mapping[str, Mapping[str, str]] | None = None,
        delay_seconds: int = 0,
    ) -> list[Envelope[Any]]:
        """Publish every payload (wrapped in an envelope) and return the envelopes sent.

        `delay_seconds` (0-900, SQS's DelaySeconds) hides the messages that long: a wait resumed later.
        """
        if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
            raise ValueError(f"SQS delays 0 to {MAX_DELAY_SECONDS} seconds, not {delay_seconds}")
        envelopes = [p if isinstance(p, Envelope) else Envelope.wrap(p) for p in payloads]
        entries = [
            {"Id": str(index), "MessageBody": envelope.to_json()}
            | ({"MessageAttributes": dict(attributes)} if attributes else {})
            | ({"DelaySeconds": delay_seconds} if delay_seconds else {})
            for index, envelope in enumerate(envelopes)
        ]
        await self._send_all(queue_url, _batches(entries))
        return envelopes

    async def send_raw(self, queue_url: str, entries: Sequence[dict[str, Any]]) -> None:
        """Send already-built entries (used to move messages between queues)."""
        await self._send_all(
            queue_url, _batches([dict(entry, Id=str(index)) for index, entry in enumerate(entries)])
        )

    async def _send_all(self, queue_url: str, batches: list[list[dict[str, Any]]]) -> None:
        """`in_flight` batches at once: at AWS's latency, 256 batches one after another take a minute.

        Standard queues promise no order, so neither does this. The first batch that fails for good
        cancels the others (the consumer retries the whole publish; event ids are deterministic)."""
        gate = asyncio.Semaphore(self._in_flight)

        async def one(batch: list[dict[str, Any]]) -> None:
            async with gate:
                await self._send_batch(queue_url, batch)

        if len(batches) == 1:
            await self._send_batch(queue_url, batches[0])
            return
        try:
            async with asyncio.TaskGroup() as group:
                for batch in batches:
                    group.create_task(one(batch))
        except ExceptionGroup as failed:  # callers handle our typed errors, not groups of them
            permanent = [exc for exc in failed.exceptions if isinstance(exc, PermanentError)]
            raise (permanent or failed.exceptions)[0] from None

    async def _send_batch(self, queue_url: str, batch: list[dict[str, Any]]) -> None:
        pending = batch
        for attempt in range(self._entry_retries + 1):
            answer = await self._sqs.send_message_batch(QueueUrl=queue_url, Entries=pending)
            failed = answer.get("Failed", [])
            if not failed:
                return
            senders = [f for f in failed if f.get("SenderFault")]
            if senders:
                raise PermanentError(f"SQS refused {len(senders)} message(s): {senders[0].get('Message')}")
            failed_ids = {f["Id"] for f in failed}
            pending = [entry for entry in pending if entry["Id"] in failed_ids]
            log.warning(
                "publish.partial_failure", queue_url=queue_url, failed=len(pending), attempt=attempt + 1
            )
            await asyncio.sleep(self._retry_delay * (attempt + 1))
        raise TransientError(f"SQS kept failing {len(pending)} message(s) of a batch")


def _batches(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Groups of at most 10 entries and 1 MiB, the SendMessageBatch limits."""
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        entry_size = len(entry["MessageBody"].encode()) + len(json.dumps(entry.get("MessageAttributes", {})))
        if current and (len(current) == 10 or size + entry_size > _MAX_BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry_size
    if current:
        batches.append(current)
    return batches
