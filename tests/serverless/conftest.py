"""Fixtures of the serverless tests."""

from __future__ import annotations

import pytest

from shared.publisher import QueueRef
from shared.worker import Runtime


@pytest.fixture
async def clicks(runtime: Runtime) -> QueueRef:
    """The clicks queue and its DLQ, as the serverless Terraform module creates them."""
    dlq = (await runtime.sqs.create_queue(QueueName="cloudthrift-clicks-dlq"))["QueueUrl"]  # type: ignore[attr-defined]
    url = (await runtime.sqs.create_queue(QueueName="cloudthrift-clicks"))["QueueUrl"]  # type: ignore[attr-defined]
    return QueueRef(name="cloudthrift-clicks", url=url, dlq_url=dlq)
