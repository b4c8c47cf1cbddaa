"""Bootstrap creates every queue with its DLQ and the ledger table, and is harmless to run again."""

from __future__ import annotations

import json

from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import QUEUE_NAMES, Settings
from shared.ledger import STATE_INDEX


async def test_bootstrap_creates_queues_with_redrive_and_the_table(settings: Settings) -> None:
    async with AwsClients(settings) as aws:
        report = await bootstrap(settings, aws)
        sqs = await aws.client("sqs")
        assert len(report.created) == 2 * len(QUEUE_NAMES) + 1
        for queue in QUEUE_NAMES:
            url = (await sqs.get_queue_url(QueueName=settings.queue_name(queue)))["QueueUrl"]
            attrs = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))["Attributes"]
            redrive = json.loads(attrs["RedrivePolicy"])
            assert redrive["deadLetterTargetArn"].endswith(f":{settings.dlq_name(queue)}")
            assert int(redrive["maxReceiveCount"]) == settings.cloudthrift_max_receives + 1
            assert attrs["VisibilityTimeout"] == str(settings.cloudthrift_visibility_timeout)
        table = (await (await aws.client("dynamodb")).describe_table(TableName=settings.table_name))["Table"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == [STATE_INDEX]


async def test_bootstrap_twice_is_harmless_and_keeps_messages(settings: Settings) -> None:
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
        sqs = await aws.client("sqs")
        url = (await sqs.get_queue_url(QueueName=settings.queue_name("scan")))["QueueUrl"]
        await sqs.send_message(QueueUrl=url, MessageBody="still here")
        again = await bootstrap(settings, aws)
        assert again.created == []
        assert len(again.existing) == 2 * len(QUEUE_NAMES) + 1
        answer = await sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
        assert [m["Body"] for m in answer["Messages"]] == ["still here"]


async def test_bootstrap_converges_drifted_queue_attributes(make_settings) -> None:
    first = make_settings(cloudthrift_visibility_timeout=30)
    second = make_settings(cloudthrift_visibility_timeout=120)
    async with AwsClients(first) as aws:
        await bootstrap(first, aws)
        await bootstrap(second, aws)
        sqs = await aws.client("sqs")
        url = (await sqs.get_queue_url(QueueName=second.queue_name("execute")))["QueueUrl"]
        attrs = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
        assert attrs["Attributes"]["VisibilityTimeout"] == "120"
