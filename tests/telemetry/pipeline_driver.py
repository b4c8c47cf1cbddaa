"""A worker process for the trace test: `python -m tests.telemetry.pipeline_driver`.

It runs what a CloudThrift runner runs (settings from the environment, `open_runtime`, `run_workers`),
so ddtrace and the datadog package find their Agent through the DD_* variables exactly as in a
container. All four stages are the real workers; the approval click goes through the interactions
endpoint's own `decide`, which resumes the trace the notifier stored with the decision and publishes
ApprovalGranted with that context.
"""

from __future__ import annotations

import asyncio

import structlog

from services.analyzer.main import WORKER as ANALYZER
from services.executor.main import WORKER as EXECUTOR
from services.notifier.decide import DecideDeps, decide
from services.notifier.main import WORKER as NOTIFIER
from services.scanner.main import WORKER as SCANNER
from shared.config import load_settings
from shared.events import Approver, ScanRequested, utcnow
from shared.ledger import State
from shared.logs import configure_logging
from shared.worker import Runtime, open_runtime, run_workers

log = structlog.get_logger("cloudthrift.driver")


async def main() -> None:
    settings = load_settings(env_file=None)
    configure_logging("json", "info")
    # Every stage is the real worker: the analyzer with the Gemini settings the test gives (its fake, or
    # none: then the rules), the notifier without a bot token (console card), the executor in its
    # default dry run.
    specs = [SCANNER, ANALYZER, NOTIFIER, EXECUTOR]
    async with open_runtime(settings) as runtime:
        stop = asyncio.Event()
        workers = asyncio.create_task(run_workers(runtime, specs, stop=stop))
        await runtime.publisher.publish(
            runtime.queues["scan"].url, [ScanRequested(requested_by="trace test")]
        )
        async with asyncio.timeout(40):
            pk = await announced(runtime)
            await click_approve(runtime, pk)
            while (await runtime.ledger.get(pk)).state is not State.EXECUTED:  # type: ignore[union-attr]
                await asyncio.sleep(0.1)
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
    deps = DecideDeps(
        runtime.ledger,
        runtime.publisher,
        runtime.queues["execute"].url,
        metrics=stage.metrics,
        tracing=stage.tracing,
    )
    approver = Approver(id="42", name="tester", via="discord")
    outcome = await decide(deps, decision.decision_id, "approve", approver, now=utcnow(), pk=pk)
    assert outcome.published == 1


if __name__ == "__main__":
    asyncio.run(main())
