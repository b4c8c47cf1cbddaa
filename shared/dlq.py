"""Inspecting and replaying dead-letter queues.

Listing names each sampled message's decision and its state in the ledger: most of what a crash leaves
in a DLQ belongs to decisions already finished since (issue 20). Replay with the ledger goes message by
message, deletes those whose decision is finished (a copy would only be ignored) and sends the rest
back. Without the ledger it prefers SQS's own StartMessageMoveTask (real AWS); where an endpoint does
not implement it (moto answers 500) it falls back to receive → send to the source queue → delete,
bounded by the depth seen at the start so that messages failing again cannot make it loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog

from shared.config import QUEUE_NAMES, QueueName, Settings
from shared.errors import InvalidEvent
from shared.events import DecisionKey, parse_event
from shared.ledger import Decision, Ledger, State
from shared.publisher import Publisher
from shared.queue import REASON_ATTRIBUTE, RECEIVES_ATTRIBUTE, SOURCE_ATTRIBUTE

log = structlog.get_logger("cloudthrift.dlq")
_OUR_ATTRIBUTES = {REASON_ATTRIBUTE, SOURCE_ATTRIBUTE, RECEIVES_ATTRIBUTE}


_REDRIVEN = "moved by the redrive policy (worker died mid-way)"
# Where each queue's message stops mattering: the decision has moved past the stage that reads it.
_PENDING: dict[QueueName, frozenset[State]] = {
    "scan": frozenset(),
    "analyze": frozenset({State.FOUND}),
    "notify": frozenset({State.ANALYZED}),
    "execute": frozenset({State.APPROVED, State.EXECUTING, State.FAILED}),
}


@dataclass(frozen=True)
class DlqEntry:
    """One dead-lettered message: why, for which decision, and where that decision is now."""

    reason: str
    decision_id: str | None = None
    pk: str | None = None
    state: State | None = None  # None: not in the ledger (or not a decision's message)
    finished: bool = False  # the decision is past this queue's stage: replaying it would do nothing

    def describe(self) -> str:
        if self.pk is None:
            return self.reason
        where = self.state.value if self.state else "not in the ledger"
        verdict = "finished, nothing to replay" if self.finished else "still to do"
        return f"{self.reason} [decision {self.decision_id or '?'} {self.pk}: {where}, {verdict}]"


@dataclass(frozen=True)
class DlqSummary:
    queue: QueueName
    dlq_name: str
    depth: int
    entries: list[DlqEntry] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [entry.reason for entry in self.entries]


@dataclass(frozen=True)
class ReplayResult:
    queue: QueueName
    moved: int
    method: str  # "move-task", "receive-send-delete" or "none"
    skipped: int = 0  # deleted: their decision had finished


def _subject(body: str) -> tuple[str | None, DecisionKey | None]:
    """The decision a message is about (id, key), when its body is an event that names one."""
    try:
        payload = parse_event(body).payload
    except InvalidEvent:
        return None, None
    key = getattr(payload, "key", None) or getattr(getattr(payload, "finding", None), "key", None)
    return getattr(payload, "decision_id", None), key


def _entry(queue: QueueName, message: dict[str, Any], decisions: dict[str, Decision]) -> DlqEntry:
    attribute = message.get("MessageAttributes", {}).get(REASON_ATTRIBUTE)
    reason = attribute["StringValue"] if attribute else _REDRIVEN
    decision_id, key = _subject(message["Body"])
    if key is None:
        return DlqEntry(reason)
    decision = decisions.get(key.pk)
    if decision is None:
        return DlqEntry(reason, decision_id, key.pk, None, finished=True)
    moved_on = decision_id is not None and decision.decision_id != decision_id
    finished = moved_on or decision.state not in _PENDING[queue]
    return DlqEntry(reason, decision_id or decision.decision_id, key.pk, decision.state, finished)


async def _decisions(ledger: Ledger | None, messages: list[dict[str, Any]]) -> dict[str, Decision]:
    if ledger is None:
        return {}
    keys = [key for _, key in (_subject(m["Body"]) for m in messages) if key is not None]
    return await ledger.get_many(keys) if keys else {}


async def _url_and_arn(sqs: Any, name: str) -> tuple[str, str]:
    url = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
    attrs = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, attrs["Attributes"]["QueueArn"]


async def _depth(sqs: Any, url: str) -> int:
    attrs = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


async def list_dlqs(
    sqs: Any, settings: Settings, *, sample: int = 5, ledger: Ledger | None = None
) -> list[DlqSummary]:
    """Depth of every DLQ and up to `sample` of its messages (peeked, left in place), each with its
    decision's state when given the ledger."""
    summaries = []
    for queue in QUEUE_NAMES:
        url, _ = await _url_and_arn(sqs, settings.dlq_name(queue))
        depth = await _depth(sqs, url)
        messages = await _peek(sqs, url, min(sample, depth)) if depth and sample else []
        decisions = await _decisions(ledger, messages)
        entries = [_entry(queue, message, decisions) for message in messages]
        summaries.append(DlqSummary(queue, settings.dlq_name(queue), depth, entries))
    return summaries


async def _peek(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    """Up to `count` distinct messages: received in a loop (10 at most a call), hidden meanwhile so no
    call returns one twice, then made visible again at once for a replay."""
    seen: dict[str, dict[str, Any]] = {}
    try:
        while len(seen) < count:
            answer = await sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, count - len(seen)),
                VisibilityTimeout=30,
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
            )
            batch = [m for m in answer.get("Messages", []) if m["MessageId"] not in seen]
            if not batch:
                break
            seen.update((m["MessageId"], m) for m in batch)
    finally:
        handles = [m["ReceiptHandle"] for m in seen.values()]
        for start in range(0, len(handles), 10):
            await sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                    for i, h in enumerate(handles[start : start + 10])
                ],
            )
    return list(seen.values())


async def replay(
    sqs: Any, settings: Settings, queue: QueueName, *, mover: Any = None, ledger: Ledger | None = None
) -> ReplayResult:
    """Move the messages of `queue`'s DLQ back to `queue`; with `ledger`, delete instead those whose
    decision has finished.

    Args:
        mover: the SQS client that tries StartMessageMoveTask; give it a retry budget of one attempt so
            an endpoint that does not implement the call (moto answers HTTP 500) falls back at once.
        ledger: look every message's decision up (the move is then message by message: a move task
            cannot leave some out).
    """
    dlq_url, dlq_arn = await _url_and_arn(sqs, settings.dlq_name(queue))
    source_url, source_arn = await _url_and_arn(sqs, settings.queue_name(queue))
    depth = await _depth(sqs, dlq_url)
    if depth == 0:
        return ReplayResult(queue, 0, "none")
    if ledger is None:
        try:
            await (mover or sqs).start_message_move_task(SourceArn=dlq_arn, DestinationArn=source_arn)
            log.info("dlq.move_task_started", queue=queue, messages=depth)
            return ReplayResult(queue, depth, "move-task")
        except Exception as exc:
            log.info("dlq.move_task_unavailable", queue=queue, error=str(exc)[:200])
    moved, skipped = await _move_by_hand(sqs, queue, dlq_url, source_url, limit=depth, ledger=ledger)
    return ReplayResult(queue, moved, "receive-send-delete", skipped)


async def _move_by_hand(
    sqs: Any, queue: QueueName, dlq_url: str, source_url: str, *, limit: int, ledger: Ledger | None
) -> tuple[int, int]:
    publisher = Publisher(sqs)
    moved = skipped = 0
    while moved + skipped < limit:
        answer = await sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(10, limit - moved - skipped),
            WaitTimeSeconds=0,
            VisibilityTimeout=60,
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            break
        decisions = await _decisions(ledger, messages)
        entries = []
        for message in messages:
            entry = _entry(queue, message, decisions)
            if ledger is not None and entry.finished:
                log.info("dlq.skipped_finished", queue=queue, pk=entry.pk, state=entry.state)
                skipped += 1
                continue
            attributes = {
                k: v for k, v in message.get("MessageAttributes", {}).items() if k not in _OUR_ATTRIBUTES
            }
            entries.append(
                {"MessageBody": message["Body"]} | ({"MessageAttributes": attributes} if attributes else {})
            )
        # Send before delete: a crash in between duplicates a message, it never loses one.
        if entries:
            await publisher.send_raw(source_url, entries)
        await sqs.delete_message_batch(
            QueueUrl=dlq_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        moved += len(entries)
    return moved, skipped
