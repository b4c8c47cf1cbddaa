"""One SQS message as a unit of work: parse, run the handler, publish its outputs, decide its fate.

Shared by the long-polling consumer (shared/queue.py) and the Lambda adapter (shared/serverless/sqs.py),
so a message gets the same treatment wherever it was received, and no handler knows where it runs:

- handled (or `Superseded`): done, the receiver deletes it (Lambda: not in batchItemFailures);
- `PermanentError` (a body that does not parse, an unknown schema, a misrouted type): sent to the DLQ at
  once with the reason as a message attribute, then done;
- anything else: left on the queue with a visibility backoff growing with its receive count; on its last
  allowed receive it is dead-lettered with the last error as its reason.

A message is in the shape ReceiveMessage returns (`MessageId`, `ReceiptHandle`, `Body`, `Attributes`,
`MessageAttributes`); the Lambda adapter converts its records to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from shared.errors import InvalidEvent, PermanentError, Superseded, TransientError
from shared.events import Envelope, Payload, parse_event
from shared.publisher import Publisher, QueueRef
from shared.telemetry import MessageTelemetry, Stage

log = structlog.get_logger("cloudthrift.queue")

REASON_ATTRIBUTE = "cloudthrift-error"
SOURCE_ATTRIBUTE = "cloudthrift-source-queue"
RECEIVES_ATTRIBUTE = "cloudthrift-receive-count"
_MAX_REASON = 900

Handler = Callable[[Envelope[Any]], Awaitable[Sequence[Payload]]]


@dataclass
class WorkStats:
    received: int = 0
    succeeded: int = 0
    retried: int = 0
    dead_lettered: int = 0
    released: int = 0
    superseded: int = 0


@dataclass(frozen=True)
class Backoff:
    """How long a failed message stays hidden, and how many receives it gets before the DLQ."""

    max_receives: int
    base_seconds: int = 5
    max_seconds: int = 900

    def delay(self, receive_count: int) -> int:
        return int(min(self.max_seconds, self.base_seconds * 2 ** max(0, receive_count - 1)))


@dataclass
class MessageWork:
    """Everything needed to turn one message of `queue` into a handled event (or a DLQ entry)."""

    sqs: Any
    queue: QueueRef
    handler: Handler
    publisher: Publisher
    backoff: Backoff
    output_url: str | None = None
    telemetry: Stage = field(default_factory=Stage.off)
    accepts: frozenset[str] = frozenset()
    stats: WorkStats = field(default_factory=WorkStats)
    # Called with a message id once the receiver must stop extending it (its visibility is about to be
    # set for a retry, or it could not be dead-lettered): the consumer's heartbeat forgets it.
    release: Callable[[str], None] = lambda _message_id: None

    async def process(self, message: dict[str, Any]) -> bool:
        """True when the message should be deleted (handled, superseded or dead-lettered)."""
        receive_count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(queue=self.queue.name, message_id=message["MessageId"])
        # Runs as its own task (gather), so the span it activates is this message's alone.
        observed = MessageTelemetry(self.telemetry, self.queue.name, message)
        try:
            event = parse_event(message["Body"])
            structlog.contextvars.bind_contextvars(event_id=str(event.id), event_type=event.type)
            if self.accepts and event.type not in self.accepts:
                takes = ", ".join(sorted(self.accepts))
                raise InvalidEvent(f"{event.type} is not for {self.queue.name}, which takes {takes}")
            observed.describe(event)
            outputs = await self.handler(event)
            if outputs and self.output_url:
                await self.publisher.publish(self.output_url, outputs, attributes=observed.attributes())
        except Superseded as exc:
            log.info("message.superseded", reason=str(exc), receive_count=receive_count)
            observed.finish("superseded", exc)
            self.stats.superseded += 1
            return True
        except PermanentError as exc:
            kind = "invalid event" if isinstance(exc, InvalidEvent) else "permanent error"
            moved = await self.dead_letter(message, f"{kind}: {exc}", receive_count)
            observed.finish("dead_letter" if moved else "retry", exc)
            return moved
        except asyncio.CancelledError as exc:
            observed.finish("cancelled", exc)
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if receive_count >= self.backoff.max_receives:
                moved = await self.dead_letter(
                    message, f"gave up after {receive_count} receives: {reason}", receive_count
                )
                observed.finish("dead_letter" if moved else "retry", exc)
                return moved
            delay = self.backoff.delay(receive_count)
            log.warning(
                "message.retry",
                error=reason,
                receive_count=receive_count,
                retry_in_s=delay,
                exc_info=not isinstance(exc, TransientError),
            )
            self.stats.retried += 1
            await self._set_visibility(message, delay)
            observed.finish("retry", exc)
            return False
        self.stats.succeeded += 1
        observed.finish("ok")
        return True

    async def dead_letter(self, message: dict[str, Any], reason: str, receive_count: int) -> bool:
        attributes = {
            name: value
            for name, value in message.get("MessageAttributes", {}).items()
            if name not in {REASON_ATTRIBUTE, SOURCE_ATTRIBUTE, RECEIVES_ATTRIBUTE}
        }
        attributes = dict(list(attributes.items())[:7])
        attributes[REASON_ATTRIBUTE] = {"DataType": "String", "StringValue": reason[:_MAX_REASON]}
        attributes[SOURCE_ATTRIBUTE] = {"DataType": "String", "StringValue": self.queue.name}
        attributes[RECEIVES_ATTRIBUTE] = {"DataType": "Number", "StringValue": str(receive_count)}
        try:
            await self.sqs.send_message(
                QueueUrl=self.queue.dlq_url, MessageBody=message["Body"], MessageAttributes=attributes
            )
        except Exception as exc:
            # Leave it on the source queue: the redrive policy still moves it after maxReceiveCount.
            log.error("message.dead_letter_failed", reason=reason, error=str(exc))
            self.release(message["MessageId"])
            return False
        log.error("message.dead_lettered", reason=reason, receive_count=receive_count)
        self.stats.dead_lettered += 1
        return True

    async def _set_visibility(self, message: dict[str, Any], seconds: int) -> None:
        self.release(message["MessageId"])
        try:
            await self.sqs.change_message_visibility(
                QueueUrl=self.queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=seconds
            )
        except Exception as exc:
            log.warning("message.visibility_failed", error=str(exc))
