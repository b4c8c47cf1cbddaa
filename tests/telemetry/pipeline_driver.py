"""A worker process for the trace test: `python -m tests.telemetry.pipeline_driver`.

It runs what a CloudThrift runner runs (settings from the environment, `open_runtime`, `run_workers`),
so ddtrace and the datadog package find their Agent through the DD_* variables exactly as in a
container. The real scanner consumes the scan queue; two tiny stages stand in for the analyzer and the
executor; between them the approval click goes through the interactions endpoint's own `decide`,
which resumes the trace stored with the decision and publishes ApprovalGranted with that context.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog

from services.notifier.decide import DecideDeps, decide
from services.scanner.main import WORKER as SCANNER
from shared.config import load_settings
from shared.events import Approver, Envelope, ScanRequested, utcnow
from shared.ledger import State
from shared.logs import configure_logging
from shared.queue import Handler
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
    """The interactions endpoint's part, through its real code: the card is posted (AWAITING_APPROVAL),
    then `decide` continues the trace stored with the decision and publishes ApprovalGranted in it."""
    decision = await runtime.ledger.get(pk)
    assert decision is not None
    await runtime.ledger.transition(
        pk, State.ANALYZED, State.AWAITING_APPROVAL, expected_decision_id=decision.decision_id
    )
    stage = runtime.telemetry.stage("interactions")
    deps = DecideDeps(runtime.ledger, runtime.publisher, runtime.queues["execute"].url, tracing=stage.tracing)
    approver = Approver(id="42", name="tester", via="discord")
    outcome = await decide(deps, decision.decision_id, "approve", approver, now=utcnow(), pk=pk)
    assert outcome.published == 1


if __name__ == "__main__":
    asyncio.run(main())
