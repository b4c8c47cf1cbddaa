"""The SQS event source of a Lambda function, as the queue runtime's unit of work (shared/unit.py).

Lambda polls the queue and invokes the function with a batch of records; with `ReportBatchItemFailures`
on the event source mapping, the function answers `{"batchItemFailures": [{"itemIdentifier": id}]}` and
Lambda deletes every other record of the batch. So each record is converted to the shape ReceiveMessage
returns and given to the same `MessageWork.process` the long-polling consumer uses:

- handled, superseded or dead-lettered (a poison message, with its reason as today) → deleted by Lambda;
- to be retried → its visibility is set to the runtime's backoff (the record's receipt handle is valid
  for ChangeMessageVisibility) and it is reported as a failure, so Lambda leaves it on the queue;
  on its last allowed receive `process` dead-letters it, as the consumer does.

Trace context rides in the `_datadog` message attribute, which this conversion keeps (and which the
Datadog Lambda extension leaves to us: the function is not wrapped by datadog_lambda).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

from shared.errors import SettingsError
from shared.unit import MessageWork

log = structlog.get_logger("cloudthrift.lambda_sqs")


class _Edge(BaseModel):
    """What Lambda sends, checked at the edge; fields we do not read are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class LambdaAttribute(_Edge):
    dataType: str
    stringValue: str | None = None
    binaryValue: str | None = None


class SqsRecord(_Edge):
    messageId: str
    receiptHandle: str
    body: str
    attributes: dict[str, str] = Field(default_factory=dict)
    messageAttributes: dict[str, LambdaAttribute] = Field(default_factory=dict)
    eventSource: str = "aws:sqs"
    eventSourceARN: str

    @property
    def queue_name(self) -> str:
        return self.eventSourceARN.rsplit(":", 1)[-1]

    def as_message(self) -> dict[str, Any]:
        """The record in ReceiveMessage's shape, which `MessageWork` and the telemetry read."""
        attributes: dict[str, dict[str, Any]] = {}
        for name, value in self.messageAttributes.items():
            if value.stringValue is not None:
                attributes[name] = {"DataType": value.dataType, "StringValue": value.stringValue}
            elif value.binaryValue is not None:
                attributes[name] = {
                    "DataType": value.dataType,
                    "BinaryValue": base64.b64decode(value.binaryValue),
                }
        return {
            "MessageId": self.messageId,
            "ReceiptHandle": self.receiptHandle,
            "Body": self.body,
            "Attributes": dict(self.attributes),
            "MessageAttributes": attributes,
        }


class SqsEvent(_Edge):
    Records: list[SqsRecord]


async def handle_sqs_event(
    event: Mapping[str, Any], work: MessageWork, *, concurrency: int = 10
) -> dict[str, Any]:
    """Process a batch; the answer names exactly the records Lambda must leave on the queue.

    An event that is not an SQS batch of this worker's queue is a wiring mistake (an event source
    mapping on the wrong queue): it raises, so the whole batch comes back and is seen, instead of being
    handled by the wrong stage.
    """
    batch = SqsEvent.model_validate(event)
    strangers = {r.queue_name for r in batch.Records if r.queue_name != work.queue.name}
    if strangers:
        raise SettingsError(
            f"this function consumes {work.queue.name}, not {', '.join(sorted(strangers))}: "
            "check the event source mapping"
        )
    work.stats.received += len(batch.Records)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(record: SqsRecord) -> bool:
        async with gate:
            return await work.process(record.as_message())

    # Each record in its own task, so its span and log context are its own (as in the consumer).
    outcomes = await asyncio.gather(
        *(asyncio.create_task(one(r)) for r in batch.Records), return_exceptions=True
    )
    failures = []
    for record, outcome in zip(batch.Records, outcomes, strict=True):
        if outcome is True:
            continue
        if isinstance(outcome, BaseException):
            log.error(
                "message.unhandled", message_id=record.messageId, error=f"{type(outcome).__name__}: {outcome}"
            )
        failures.append({"itemIdentifier": record.messageId})
    return {"batchItemFailures": failures}
