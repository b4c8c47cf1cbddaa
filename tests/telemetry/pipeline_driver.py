"""A worker process for the trace test: `python -m tests.telemetry.pipeline_driver`.

It runs what a CloudThrift runner runs (settings from the environment, `open_runtime`, `run_workers`),
so ddtrace and the datadog package find their Agent through the DD_* variables exactly as in a
container. The real scanner consumes the scan queue; two tiny stages stand in for the analyzer and the
executor; between them the approval click is done the way the interactions endpoint does it: resume
the trace stored with the decision, then publish ApprovalGranted with that context.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog

from services.scanner.main import WORKER as SCANNER
from shared.config import load_settings
from shared.events import ApprovalGranted, Approver, Envelope, ScanRequested, utcnow
from shared.ledger import State
from shared.logs import configure_logging
from shared.queue import Handler
from shared.telemetry import TRACE_CONTEXT_FIELD
from shared.worker import Runtime, WorkerSpec, open_runtime, run_workers

log = structlog.get_logger("cloudthrift.driver")


async def main() -> None:
    settings = load_settings(env_file=None)
    configure_logging("json", "info")
    analyzed: asyncio.Queue[str] = asyncio.Queue()
    executed = asyncio.Event()

    @contextlib.asynccontextmanager
    async def analyzer(runtime: Runtime) -> AsyncIterator[Handler]:
        tracing = runtime.telemetry.stage("analyzer").tracing

        async def handle(event: Envelope[Any]) -> list:
            key = event.payload.finding.key
            with tracing.span("gemini.generate", resource="generate_content"):  # a call inside the stage
                await asyncio.sleep(0.01)
            log.info("analyzer.handled", pk=key.pk)
            # What the notifier will do when it asks a human: keep the trace with the decision.
            await runtime.ledger.transition(key, State.FOUND, State.ANALYZED, fields=tracing.ledger_fields())
            await analyzed.put(key.pk)
            return []

        yield handle

    @contextlib.asynccontextmanager
    async def executor(runtime: Runtime) -> AsyncIterator[Handler]:
        async def handle(event: Envelope[Any]) -> list:
            log.info("executor.handled", decision_id=event.payload.decision_id)
            executed.set()
            return []

        yield handle

    specs = [
        SCANNER,
        WorkerSpec("analyzer", "analyze", None, analyzer),
        WorkerSpec("executor", "execute", None, executor),
    ]
    async with open_runtime(settings) as runtime:
        stop = asyncio.Event()
        workers = asyncio.create_task(run_workers(runtime, specs, stop=stop))
        await runtime.publisher.publish(
            runtime.queues["scan"].url, [ScanRequested(requested_by="trace test")]
        )
        async with asyncio.timeout(40):
            pk = await analyzed.get()
            await click_approve(runtime, pk)
            await executed.wait()
        stop.set()
        await workers


async def click_approve(runtime: Runtime, pk: str) -> None:
    """The interactions endpoint's part: its own service, a child of the trace stored with the decision."""
    decision = await runtime.ledger.get(pk)
    assert decision is not None
    tracing = runtime.telemetry.stage("interactions").tracing
    with tracing.resume(decision.get(TRACE_CONTEXT_FIELD), "interactions.click", resource="approve"):
        log.info("interactions.approved", pk=pk)
        approval = ApprovalGranted(
            decision_id=decision.decision_id,
            key=decision.key,
            approver=Approver(id="42", name="tester", via="discord"),
            approved_at=utcnow(),
            finding=decision.finding,
            fingerprint=decision.get("fingerprint"),
        )
        await runtime.publisher.publish(
            runtime.queues["execute"].url, [approval], attributes=tracing.message_attributes()
        )


if __name__ == "__main__":
    asyncio.run(main())
