"""Create (or converge) the queues, dead-letter queues and ledger table on any endpoint.

Safe to run any number of times, against moto or a real account: existing resources are kept, and
their attributes are brought back to what CloudThrift expects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import structlog

from shared.aws import AwsClients, is_error
from shared.config import QUEUE_NAMES, Settings
from shared.ledger import STATE_INDEX
from shared.migrate import migrate_legacy_keys

log = structlog.get_logger("cloudthrift.bootstrap")

_DLQ_RETENTION = 14 * 24 * 3600
_QUEUE_RETENTION = 4 * 24 * 3600


@dataclass
class BootstrapReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


async def bootstrap(settings: Settings, aws: AwsClients) -> BootstrapReport:
    report = BootstrapReport()
    sqs = await aws.client("sqs")
    for queue in QUEUE_NAMES:
        dlq_url = await _ensure_queue(
            sqs, settings.dlq_name(queue), {"MessageRetentionPeriod": str(_DLQ_RETENTION)}, report
        )
        dlq_arn = (await sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        # The runtime dead-letters with a reason on the last allowed receive; the redrive policy
        # is the backstop for a worker that dies before it gets the chance.
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.cloudthrift_max_receives + 1}
        await _ensure_queue(
            sqs,
            settings.queue_name(queue),
            {
                "VisibilityTimeout": str(settings.cloudthrift_visibility_timeout),
                "ReceiveMessageWaitTimeSeconds": "20",
                "MessageRetentionPeriod": str(_QUEUE_RETENTION),
                "RedrivePolicy": json.dumps(redrive),
            },
            report,
        )
    dynamodb = await aws.client("dynamodb")
    await _ensure_table(dynamodb, settings.table_name, report)
    migrated = await migrate_legacy_keys(dynamodb, settings.table_name)
    if migrated.moved:
        report.existing.append(f"moved {len(migrated.moved)} decision(s) to keys that name kind and check")
    log.info("bootstrap.done", created=report.created, existing=len(report.existing))
    return report


async def _ensure_queue(sqs: Any, name: str, attributes: dict[str, str], report: BootstrapReport) -> str:
    try:
        url = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
    except Exception as exc:
        if not is_error(exc, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
        url = (await sqs.create_queue(QueueName=name, Attributes=attributes))["QueueUrl"]
        report.created.append(f"queue {name}")
        return url
    await sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    report.existing.append(f"queue {name}")
    return url


async def _ensure_table(dynamodb: Any, name: str, report: BootstrapReport) -> None:
    try:
        await dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "state", "AttributeType": "S"},
                {"AttributeName": "updated_at", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": STATE_INDEX,
                    "KeySchema": [
                        {"AttributeName": "state", "KeyType": "HASH"},
                        {"AttributeName": "updated_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            SSESpecification={"Enabled": True},
            Tags=[{"Key": "app", "Value": "cloudthrift"}],
        )
        report.created.append(f"table {name}")
    except dynamodb.exceptions.ResourceInUseException:
        report.existing.append(f"table {name}")
    waiter = dynamodb.get_waiter("table_exists")
    await waiter.wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    try:
        await dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    except Exception as exc:  # an emulator without PITR must not stop a local run
        log.warning("bootstrap.pitr_unavailable", table=name, error=str(exc))
