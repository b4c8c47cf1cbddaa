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
from services.notifier.main import WORKER as NOTIFIER
from services.scanner.main import WORKER as SCANNER
from shared.config import load_settings
from shared.events import Analysis, Approver, Envelope, ResourceAnalyzed, ScanRequested, utcnow
from shared.ledger import State
from shared.logs import configure_logging
from shared.queue import Handler
from shared.worker import Runtime, WorkerSpec, open_runtime, run_workers

log = structlog.get_logger("cloudthrift.driver")


async def main() -> None:
    settings = load_settings(env_file=None)
    configure_logging("json", "info")
    executed = asyncio.Event()

    @contextlib.asynccontextmanager
    async def analyzer(runtime: Runtime) -> AsyncIterator[Handler]:
        tracing = runtime.telemetry.stage("analyzer").tracing

        async def handle(event: Envelope[Any]) -> list:
            key = event.payload.finding.key
            with tracing.span("gemini.generate", resource="generate_content"):  # a call inside the stage
                await asyncio.sleep(0.01)
            log.info("analyzer.handled", pk=key.pk)
            await runtime.ledger.transition(key, State.FOUND, State.ANALYZED)
            analysis = Analysis(
                summary="An unattached gp3 volume.",
                likely_cause="left behind",
                risk="low",
                risk_reason="no attachment",
                recommendation="delete",
                confidence=0.5,
                source="rules",
            )
            return [ResourceAnalyzed(finding=event.payload.finding, analysis=analysis)]

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
        WorkerSpec("analyzer", "analyze", "notify", analyzer),
        NOTIFIER,  # the real notifier: posts the card (console) and keeps the trace with the decision
        WorkerSpec("executor", "execute", None, executor),
    ]
    async with open_runtime(settings) as runtime:
        stop = asyncio.Event()
        workers = asyncio.create_task(run_workers(runtime, specs, stop=stop))
        await runtime.publisher.publish(
            runtime.queues["scan"].url, [ScanRequested(requested_by="trace test")]
        )
        async with asyncio.timeout(40):
            pk = await announced(runtime)
            await click_approve(runtime, pk)
            await executed.wait()
        stop.set()
        await workers


async def announced(runtime: Runtime) -> str:
    """The first decision the notifier has put in front of a human."""
    while True:
        async for decision in runtime.ledger.by_state(State.AWAITING_APPROVAL):
            return decision.pk
        await asyncio.sleep(0.1)


async def click_approve(runtime: Runtime, pk: str) -> None:
    """The interactions endpoint's part, through its real code: `decide` continues the trace the notifier
    stored with the decision and publishes ApprovalGranted in it."""
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
