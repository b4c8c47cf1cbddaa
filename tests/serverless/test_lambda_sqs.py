"""The SQS Lambda adapter (shared/lambda_sqs.py) and the worker entry, on moto, with AWS-shaped events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from services.executor import main as executor
from services.serverless.worker import container_for, invoke
from shared.config import Settings
from shared.errors import SettingsError, TransientError
from shared.events import Envelope, ResourceFound, ScanRequested
from shared.lambda_sqs import handle_sqs_event
from shared.ledger import State
from shared.queue import REASON_ATTRIBUTE, RECEIVES_ATTRIBUTE, SOURCE_ATTRIBUTE
from shared.telemetry import MemoryMetrics, Stage, Tracing
from shared.unit import Backoff, MessageWork
from shared.worker import Runtime
from tests.notifier.helpers import finding
from tests.serverless.aws_events import queue_arn, receive, record, sqs_event
from tests.shared.test_queue import drain_raw

TRACE = '{"x-datadog-trace-id": "1234", "x-datadog-parent-id": "5678", "x-datadog-sampling-priority": "1"}'


def scan_work(runtime: Runtime, fail: set[str], metrics: MemoryMetrics | None = None) -> MessageWork:
    """The scan queue's unit of work with a handler that fails transiently for the named scans."""

    async def handler(event: Envelope[Any]) -> list[Any]:
        if event.payload.scan_id in fail:
            raise TransientError(f"{event.payload.scan_id}: throttled")
        return []

    return MessageWork(
        sqs=runtime.sqs,
        queue=runtime.queues["scan"],
        handler=handler,
        publisher=runtime.publisher,
        backoff=Backoff(max_receives=3, base_seconds=60),
        telemetry=Stage("scanner", metrics or MemoryMetrics(), Tracing("cloudthrift-scanner", enabled=False)),
        accepts=frozenset({ScanRequested.event_type}),
    )


async def scan_batch(runtime: Runtime, scan_ids: list[str], **kw: Any) -> tuple[list[dict[str, Any]], str]:
    queue = runtime.queues["scan"]
    trace = {"_datadog": {"DataType": "String", "StringValue": TRACE}}
    await runtime.publisher.publish(queue.url, [ScanRequested(scan_id=s) for s in scan_ids], attributes=trace)
    arn = await queue_arn(runtime.sqs, queue)
    return [record(m, arn, **kw) for m in await receive(runtime.sqs, queue, len(scan_ids))], arn


async def test_exactly_the_failed_records_are_reported_and_left_hidden_for_the_backoff(
    runtime: Runtime,
) -> None:
    metrics = MemoryMetrics()
    records, _ = await scan_batch(runtime, ["a", "b", "c", "d"])
    by_scan = {json.loads(r["body"])["payload"]["scan_id"]: r["messageId"] for r in records}
    answer = await handle_sqs_event(sqs_event(records), scan_work(runtime, {"b", "d"}, metrics))
    assert sorted(f["itemIdentifier"] for f in answer["batchItemFailures"]) == sorted(
        [by_scan["b"], by_scan["d"]]
    )
    assert set(answer) == {"batchItemFailures"}
    # The failed ones got the runtime's backoff (60 s), not Lambda's default: nothing is visible again.
    visible = await runtime.sqs.receive_message(QueueUrl=runtime.queues["scan"].url, WaitTimeSeconds=0)
    assert visible.get("Messages", []) == []
    outcomes = {
        tuple(sorted(s.tags.items())) for s in metrics.samples if s.name == "cloudthrift.stage.messages"
    }
    assert any(("outcome", "retry") in tags for tags in outcomes)
    assert any(("outcome", "ok") in tags for tags in outcomes)


async def test_a_poison_message_is_dead_lettered_with_its_reason_and_its_trace_context(
    runtime: Runtime,
) -> None:
    queue = runtime.queues["scan"]
    arn = await queue_arn(runtime.sqs, queue)
    await runtime.sqs.send_message(
        QueueUrl=queue.url,
        MessageBody="{not json",
        MessageAttributes={"_datadog": {"DataType": "String", "StringValue": TRACE}},
    )
    [poison] = await receive(runtime.sqs, queue, 1)
    answer = await handle_sqs_event(sqs_event([record(poison, arn)]), scan_work(runtime, set()))
    assert answer == {"batchItemFailures": []}  # Lambda deletes it: it is on the DLQ now
    [dead] = await drain_raw(runtime, queue.dlq_url)
    attributes = dead["MessageAttributes"]
    assert attributes[REASON_ATTRIBUTE]["StringValue"].startswith("invalid event: body is not JSON")
    assert attributes[SOURCE_ATTRIBUTE]["StringValue"] == queue.name
    assert attributes[RECEIVES_ATTRIBUTE]["StringValue"] == "1"
    assert attributes["_datadog"]["StringValue"] == TRACE
    assert dead["Body"] == "{not json"


async def test_the_last_allowed_receive_is_dead_lettered_not_failed_again(runtime: Runtime) -> None:
    records, _ = await scan_batch(runtime, ["x"], receive_count=3)
    answer = await handle_sqs_event(sqs_event(records), scan_work(runtime, {"x"}))
    assert answer == {"batchItemFailures": []}
    [dead] = await drain_raw(runtime, runtime.queues["scan"].dlq_url)
    assert dead["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"] == (
        "gave up after 3 receives: TransientError: x: throttled"
    )


async def test_a_misrouted_event_and_a_record_of_another_queue(runtime: Runtime) -> None:
    records, arn = await scan_batch(runtime, ["ok"])
    other = dict(records[0], eventSourceARN=arn.replace(":cloudthrift-scan", ":cloudthrift-notify"))
    with pytest.raises(SettingsError, match="check the event source mapping"):
        await handle_sqs_event(sqs_event([other]), scan_work(runtime, set()))


async def test_a_redelivered_batch_through_the_analyzer_function_changes_nothing(
    runtime: Runtime, settings: Settings, make_settings: Callable[..., Settings]
) -> None:
    findings = [finding(f"vol-{i:017x}") for i in range(3)]
    for f in findings:
        assert (await runtime.ledger.create(f)).applied
    analyze = runtime.queues["analyze"]
    await runtime.publisher.publish(analyze.url, [ResourceFound(finding=f) for f in findings])
    arn = await queue_arn(runtime.sqs, analyze)
    messages = await receive(runtime.sqs, analyze, 3)
    container = container_for("analyzer", settings)  # a cold function: opens its runtime on first use

    first = await invoke(container, sqs_event([record(m, arn) for m in messages]))
    assert first == {"batchItemFailures": []}
    items = {f.key.pk: dict((await runtime.ledger.get(f.key)).attrs) for f in findings}  # type: ignore[union-attr]
    assert {(await runtime.ledger.get(f.key)).state for f in findings} == {State.ANALYZED}  # type: ignore[union-attr]
    published = await drain_raw(runtime, runtime.queues["notify"].url)
    assert len(published) == 3

    again = await invoke(container, sqs_event([record(m, arn, receive_count=2) for m in messages]))
    assert again == {"batchItemFailures": []}
    assert {f.key.pk: dict((await runtime.ledger.get(f.key)).attrs) for f in findings} == items  # type: ignore[union-attr]
    republished = await drain_raw(runtime, runtime.queues["notify"].url)
    assert {json.loads(m["Body"])["id"] for m in republished} <= {
        json.loads(m["Body"])["id"] for m in published
    }
    assert await drain_raw(runtime, analyze.dlq_url) == []


def resident_loops() -> set[str]:
    return {t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("executor:")}


async def test_the_executor_function_starts_no_sweep_of_its_own(runtime: Runtime, settings: Settings) -> None:
    """Its sweeps and heartbeat run from EventBridge Scheduler; in a Lambda they would only run, erratically,
    while a batch is being handled. The ECS worker's build (resident) still starts them."""
    async with executor.build(runtime):
        assert resident_loops() == {"executor:sweep", "executor:money", "executor:heartbeat"}
    container = container_for("executor", settings)
    state = await container.state()
    await asyncio.sleep(0)
    assert resident_loops() == set() and state.runtime.resident is False
    assert await invoke(container, sqs_event([])) == {"batchItemFailures": []}
