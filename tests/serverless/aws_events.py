"""Lambda events shaped exactly as AWS documents them, built from real messages received from moto.

SQS: https-documented `Records` with messageId, receiptHandle, body, attributes (ApproximateReceiveCount,
SentTimestamp, ...), messageAttributes in Lambda's lower-camel form, md5OfBody, eventSource,
eventSourceARN, awsRegion. Function URL: payload format 2.0 with lowercased header names and a body
that Lambda base64-encodes unless it is text.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from shared.publisher import QueueRef


async def queue_arn(sqs: Any, queue: QueueRef) -> str:
    answer = await sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["QueueArn"])
    return str(answer["Attributes"]["QueueArn"])


async def receive(sqs: Any, queue: QueueRef, count: int) -> list[dict[str, Any]]:
    """Receive `count` messages the way Lambda's poller does (attributes and message attributes)."""
    messages: list[dict[str, Any]] = []
    for _ in range(20):
        answer = await sqs.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=min(10, count - len(messages)),
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages.extend(answer.get("Messages", []))
        if len(messages) >= count:
            return messages
    raise AssertionError(f"only {len(messages)} of {count} messages arrived on {queue.name}")


def record(message: dict[str, Any], arn: str, *, receive_count: int | None = None) -> dict[str, Any]:
    attributes = dict(message.get("Attributes", {}))
    if receive_count is not None:
        attributes["ApproximateReceiveCount"] = str(receive_count)
    lambda_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": lambda_attributes,
        "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": arn.split(":")[3],
    }


def sqs_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


def url_event(
    body: bytes,
    headers: dict[str, str],
    *,
    path: str = "/interactions",
    method: str = "POST",
    b64: bool = True,
) -> dict[str, Any]:
    """A function URL request (payload 2.0): Lambda lowercases header names."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghijklmnopqrstuvwxyz0123",
            "domainName": "abcdefghijklmnopqrstuvwxyz0123.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghijklmnopqrstuvwxyz0123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "Discord-Interactions/1.0 (+https://discord.com)",
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "$default",
            "stage": "$default",
            "time": "28/Nov/2026:06:50:00 +0000",
            "timeEpoch": 1795848600000,
        },
        "body": base64.b64encode(body).decode() if b64 else body.decode(),
        "isBase64Encoded": b64,
    }


async def drain_dlq(sqs: Any, queue: QueueRef) -> list[dict[str, Any]]:
    """What the queue's DLQ holds now."""
    answer = await sqs.receive_message(QueueUrl=queue.dlq_url, WaitTimeSeconds=0)
    return list(answer.get("Messages", []))
