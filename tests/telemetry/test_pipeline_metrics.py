"""What the queue runtime reports for every stage: lag at receive, latency, outcomes, errors, DLQ moves,
and the sampled depths and pending approvals. The real Consumer against moto; metrics in memory."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from shared.errors import TransientError
from shared.events import Envelope, ScanRequested
from shared.ledger import State
from shared.queue import Consumer, ConsumerConfig
from shared.telemetry import MemoryMetrics, Stage, Tracing, report_gauges
from shared.worker import Runtime
from tests.shared.factories import finding

# A failing message comes back at once, and is dead-lettered on its second receive.
FAST = ConsumerConfig(
    wait_time_seconds=1, visibility_timeout=30, max_receives=2, drain_seconds=5, backoff_base_seconds=0
)


async def test_every_message_reports_lag_latency_and_its_outcome(runtime: Runtime) -> None:
    memory = MemoryMetrics()
    stage = Stage("analyzer", memory.tagged(service="cloudthrift-analyzer"), Tracing("x", enabled=False))
    queue = runtime.queues["analyze"]

    async def handle(event: Envelope[ScanRequested]) -> list:
        if event.payload.requested_by == "flaky":
            raise TransientError("Gemini is busy")
        await asyncio.sleep(0.05)
        return []

    await runtime.publisher.publish(
        queue.url, [ScanRequested(requested_by="ok"), ScanRequested(requested_by="flaky")]
    )
    await runtime.publisher.send_raw(queue.url, [{"MessageBody": "not an event"}])
    await asyncio.sleep(1.1)  # so the lag is visibly the time spent waiting on the queue
    consumer = Consumer(
        sqs=runtime.sqs,
        queue=queue,
        handler=handle,
        publisher=runtime.publisher,
        config=FAST,
        telemetry=stage,
    )
    run = asyncio.create_task(consumer.run())
    async with asyncio.timeout(20):
        # Outcomes are recorded after each message is settled: poll the recorder.
        while len(memory.values("cloudthrift.stage.messages")) < 4:
            await asyncio.sleep(0.05)
    consumer.stop()
    await run

    # Four receives; a redelivery's lag still counts from the first send (SentTimestamp).
    lags = memory.values("cloudthrift.queue.lag", queue=queue.name, stage="analyzer")
    assert len(lags) == 4 and all(1.0 <= lag < 30 for lag in lags), lags
    outcomes = sorted(
        (s.tags["event_type"], s.tags["outcome"])
        for s in memory.samples
        if s.name == "cloudthrift.stage.messages"
    )
    assert outcomes == [
        ("ScanRequested", "dead_letter"),
        ("ScanRequested", "ok"),
        ("ScanRequested", "retry"),
        ("unknown", "dead_letter"),
    ]
    [ok_latency] = memory.values("cloudthrift.stage.latency", outcome="ok")
    assert 0.05 <= ok_latency < 10
    errors = sorted(
        (s.tags["error"], s.tags["outcome"]) for s in memory.samples if s.name == "cloudthrift.stage.errors"
    )
    assert errors == [
        ("InvalidEvent", "dead_letter"),
        ("TransientError", "dead_letter"),
        ("TransientError", "retry"),
    ]
    moved = sorted(
        (s.tags["error"], s.tags["queue"], s.tags["stage"])
        for s in memory.samples
        if s.name == "cloudthrift.dlq.moved"
    )
    assert moved == [("InvalidEvent", queue.name, "analyzer"), ("TransientError", queue.name, "analyzer")]
    assert all(s.tags["service"] == "cloudthrift-analyzer" for s in memory.samples)


async def test_gauges_report_queue_and_dlq_depth_and_what_waits_on_a_human(runtime: Runtime) -> None:
    notify = runtime.queues["notify"]
    await runtime.publisher.publish(notify.url, [ScanRequested()])
    await runtime.publisher.send_raw(notify.dlq_url, [{"MessageBody": "x"}, {"MessageBody": "y"}])
    now = datetime.now(UTC)
    for index, resource_id in enumerate(("vol-1", "vol-2", "vol-3")):
        f = finding(resource_id)
        await runtime.ledger.create(f, now=now)
        await runtime.ledger.transition(f.key, State.FOUND, State.ANALYZED, now=now)
        if index < 2:  # two wait on a human, the oldest for two hours
            await runtime.ledger.transition(
                f.key, State.ANALYZED, State.AWAITING_APPROVAL, now=now - timedelta(hours=2 - index)
            )

    memory = MemoryMetrics()
    await report_gauges(runtime.sqs, [notify], memory, runtime.ledger, now=now)

    assert memory.values("cloudthrift.queue.depth", queue=notify.name) == [1]
    assert memory.values("cloudthrift.dlq.depth", queue=notify.name) == [2]
    assert memory.values("cloudthrift.approvals.pending") == [2]
    assert memory.values("cloudthrift.approvals.pending_age_max") == [7200]
    assert memory.values("cloudthrift.approvals.pending_monthly_usd") == [16.0]
