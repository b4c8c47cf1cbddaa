"""Inspecting and replaying dead-letter queues.

Replay prefers SQS's own StartMessageMoveTask (real AWS); where an endpoint does not implement it
(moto answers 500) it falls back to receive → send to the source queue → delete, bounded by the depth
seen at the start so that messages failing again cannot make it loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from shared.config import QUEUE_NAMES, QueueName, Settings
from shared.publisher import Publisher
from shared.queue import REASON_ATTRIBUTE, RECEIVES_ATTRIBUTE, SOURCE_ATTRIBUTE

log = structlog.get_logger("cloudthrift.dlq")
_OUR_ATTRIBUTES = {REASON_ATTRIBUTE, SOURCE_ATTRIBUTE, RECEIVES_ATTRIBUTE}


@dataclass(frozen=True)
class DlqSummary:
    queue: QueueName
    dlq_name: str
    depth: int
    reasons: list[str]


@dataclass(frozen=True)
class ReplayResult:
    queue: QueueName
    moved: int
    method: str  # "move-task" or "receive-send-delete"


async def _url_and_arn(sqs: Any, name: str) -> tuple[str, str]:
    url = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
    attrs = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, attrs["Attributes"]["QueueArn"]


async def _depth(sqs: Any, url: str) -> int:
    attrs = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


async def list_dlqs(sqs: Any, settings: Settings, *, sample: int = 5) -> list[DlqSummary]:
    """Depth of every DLQ and the reasons of up to `sample` messages (peeked, left in place)."""
    summaries = []
    for queue in QUEUE_NAMES:
        url, _ = await _url_and_arn(sqs, settings.dlq_name(queue))
        depth = await _depth(sqs, url)
        reasons: list[str] = []
        if depth and sample:
            answer = await sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(sample, 10),
                VisibilityTimeout=0,  # a peek: the messages stay visible for a replay
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
            )
            for message in answer.get("Messages", []):
                attribute = message.get("MessageAttributes", {}).get(REASON_ATTRIBUTE)
                reasons.append(
                    attribute["StringValue"]
                    if attribute
                    else "moved by the redrive policy (worker died mid-way)"
                )
        summaries.append(DlqSummary(queue, settings.dlq_name(queue), depth, reasons))
    return summaries


async def replay(sqs: Any, settings: Settings, queue: QueueName, *, mover: Any = None) -> ReplayResult:
    """Move every message of `queue`'s DLQ back to `queue`.

    Args:
        mover: the SQS client that tries StartMessageMoveTask; give it a retry budget of one attempt so
            an endpoint that does not implement the call (moto answers HTTP 500) falls back at once.
    """
    dlq_url, dlq_arn = await _url_and_arn(sqs, settings.dlq_name(queue))
    source_url, source_arn = await _url_and_arn(sqs, settings.queue_name(queue))
    depth = await _depth(sqs, dlq_url)
    if depth == 0:
        return ReplayResult(queue, 0, "none")
    try:
        await (mover or sqs).start_message_move_task(SourceArn=dlq_arn, DestinationArn=source_arn)
        log.info("dlq.move_task_started", queue=queue, messages=depth)
        return ReplayResult(queue, depth, "move-task")
    except Exception as exc:
        log.info("dlq.move_task_unavailable", queue=queue, error=str(exc)[:200])
    moved = await _move_by_hand(sqs, dlq_url, source_url, limit=depth)
    return ReplayResult(queue, moved, "receive-send-delete")


async def _move_by_hand(sqs: Any, dlq_url: str, source_url: str, *, limit: int) -> int:
    publisher = Publisher(sqs)
    moved = 0
    while moved < limit:
        answer = await sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(10, limit - moved),
            WaitTimeSeconds=0,
            VisibilityTimeout=60,
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            break
        entries = []
        for message in messages:
            attributes = {
                k: v for k, v in message.get("MessageAttributes", {}).items() if k not in _OUR_ATTRIBUTES
            }
            entries.append(
                {"MessageBody": message["Body"]} | ({"MessageAttributes": attributes} if attributes else {})
            )
        # Send before delete: a crash in between duplicates a message, it never loses one.
        await publisher.send_raw(source_url, entries)
        await sqs.delete_message_batch(
            QueueUrl=dlq_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        moved += len(messages)
    return moved
