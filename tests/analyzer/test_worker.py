"""The analyzer as deployed: WORKER on the real Consumer, queues and ledger on moto, SDK on the fake.

Whatever Gemini does, every message ends as one ResourceAnalyzed on the notify queue, the analyze
queue is left empty and nothing is dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from services.analyzer.main import WORKER
from services.workers import available_workers
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.events import ResourceAnalyzed, ResourceFound, parse_event
from shared.ledger import State
from shared.worker import Runtime, open_runtime, run_workers
from tests.analyzer.builders import address, volume
from tests.analyzer.conftest import MODEL
from tests.fakes.gemini import FakeGemini


@pytest.fixture
def open_analyzer_runtime(make_settings: Callable[..., Settings]) -> Callable[..., Any]:
    @contextlib.asynccontextmanager
    async def opened(**overrides: Any) -> AsyncIterator[Runtime]:
        settings = make_settings(
            **{
                "cloudthrift_wait_time_seconds": 1,
                "gemini_timeout_seconds": 0.5,
                "gemini_retry_initial_delay": 0.01,
                "gemini_retry_max_delay": 0.02,
            }
            | overrides
        )
        async with AwsClients(settings) as aws:
            await bootstrap(settings, aws)
        async with open_runtime(settings) as runtime:
            yield runtime

    return opened


async def _depth(runtime: Runtime, url: str) -> int:
    answer = await runtime.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    return sum(int(v) for v in answer["Attributes"].values())


async def _run_until_published(runtime: Runtime, count: int) -> list[ResourceAnalyzed]:
    """Run the analyzer worker until `count` events reach the notify queue, then stop it (drain)."""
    stop = asyncio.Event()
    workers = asyncio.create_task(run_workers(runtime, [WORKER], stop=stop))
    notify = runtime.queues["notify"].url
    received: list[ResourceAnalyzed] = []
    deadline = time.monotonic() + 30
    try:
        while len(received) < count and time.monotonic() < deadline:
            answer = await runtime.sqs.receive_message(
                QueueUrl=notify, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for message in answer.get("Messages", []):
                received.append(parse_event(message["Body"]).payload)  # type: ignore[arg-type]
                await runtime.sqs.delete_message(QueueUrl=notify, ReceiptHandle=message["ReceiptHandle"])
    finally:
        stop.set()
        await workers
    return received


@pytest.mark.parametrize("behaviour", ["slow", "500", "ok"])
async def test_worker_publishes_one_analysis_per_finding(
    open_analyzer_runtime, fake_gemini: FakeGemini, behaviour
):
    fake_gemini.default = behaviour
    fake_gemini.slow_seconds = 1.5
    async with open_analyzer_runtime(
        gemini_api_key=fake_gemini.api_key, gemini_base_url=fake_gemini.base_url, gemini_model=MODEL
    ) as runtime:
        findings = [volume(f"vol-{i:017x}", name=f"batch-{i}") for i in range(3)] + [address()]
        for finding in findings:
            await runtime.ledger.create(finding)
        await runtime.publisher.publish(
            runtime.queues["analyze"].url, [ResourceFound(finding=f) for f in findings]
        )

        published = await _run_until_published(runtime, len(findings))

        assert sorted(p.finding.key.pk for p in published) == sorted(f.key.pk for f in findings)
        expected_source = MODEL if behaviour == "ok" else "rules"
        assert {p.analysis.source for p in published} == {expected_source}
        for finding in findings:
            assert (await runtime.ledger.get(finding.key)).state is State.ANALYZED
        analyze = runtime.queues["analyze"]
        assert await _depth(runtime, analyze.url) == 0
        assert await _depth(runtime, analyze.dlq_url) == 0
        assert fake_gemini.problems == []


async def test_without_a_key_the_worker_says_so_once_and_uses_the_rules(open_analyzer_runtime):
    async with open_analyzer_runtime() as runtime:
        findings = [
            volume("vol-00000000000000001"),
            volume("vol-00000000000000002", volume_type="sc1", iops=None),
        ]
        for finding in findings:
            await runtime.ledger.create(finding)
        await runtime.publisher.publish(
            runtime.queues["analyze"].url, [ResourceFound(finding=f) for f in findings]
        )
        with capture_logs() as logs:
            published = await _run_until_published(runtime, len(findings))

        assert [p.analysis.source for p in published] == ["rules", "rules"]
        assert [entry["event"] for entry in logs].count("analyzer.rules_only") == 1


def test_the_analyzer_is_a_known_worker():
    spec = available_workers()["analyzer"]
    assert (spec.input, spec.output) == ("analyze", "notify")


async def test_the_worker_keeps_geminis_bound_full_whatever_the_shared_consumer_concurrency(
    open_analyzer_runtime, fake_gemini: FakeGemini
):
    """Gemini's bound (4 here) is what limits the analyzer, not CLOUDTHRIFT_MAX_CONCURRENCY (2 here):
    otherwise the default 16-call bound would never be reached behind the consumer's default of 10."""
    fake_gemini.latency = 0.4
    async with open_analyzer_runtime(
        gemini_api_key=fake_gemini.api_key,
        gemini_base_url=fake_gemini.base_url,
        gemini_model=MODEL,
        gemini_max_concurrency=4,
        gemini_timeout_seconds=5,
        cloudthrift_max_concurrency=2,
    ) as runtime:
        findings = [volume(f"vol-{i:017x}", name=f"bound-{i}") for i in range(12)]
        await runtime.ledger.create_many(findings)
        await runtime.publisher.publish(
            runtime.queues["analyze"].url, [ResourceFound(finding=f) for f in findings]
        )

        published = await _run_until_published(runtime, len(findings))

    assert len(published) == len(findings) and {p.analysis.source for p in published} == {MODEL}
    assert fake_gemini.peak_in_flight == 4, "Gemini's bound is reached, and never exceeded"
