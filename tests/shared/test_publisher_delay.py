"""A delayed publish (an undo that waits, issue 14): SQS hides the message for DelaySeconds, 900 at most."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.events import Approver, DecisionKey, RestoreRequested
from shared.worker import Runtime

KEY = DecisionKey(
    account_id="123456789012", region="us-east-1", kind="ebs-volume", check="unattached", resource_id="vol-1"
)


def request() -> RestoreRequested:
    who = Approver(id="1", name="alice", via="cli")
    return RestoreRequested(decision_id="d-1", key=KEY, requested_by=who, requested_at=datetime.now(UTC))


async def test_a_delayed_request_waits_on_the_queue_unseen(runtime: Runtime) -> None:
    url = runtime.queues["execute"].url
    await runtime.publisher.publish(url, [request()], delay_seconds=900)
    sqs: object = runtime.sqs
    answer = await sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)  # type: ignore[attr-defined]
    assert answer.get("Messages", []) == []
    names = ["ApproximateNumberOfMessagesDelayed"]
    counts = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)  # type: ignore[attr-defined]
    assert counts["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


async def test_a_delay_beyond_what_sqs_allows_is_refused_before_sending(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="0 to 900"):
        await runtime.publisher.publish(runtime.queues["execute"].url, [request()], delay_seconds=901)
