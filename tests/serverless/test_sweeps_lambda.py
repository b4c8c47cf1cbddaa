"""The scheduled sweeps function: every sweep once per invocation, no resident task."""

from __future__ import annotations

from services.serverless.sweeps import invoke, new_container
from shared.config import Settings
from shared.executor_status import read
from shared.worker import Runtime
from tests.executor.helpers import sample_finding
from tests.executor.test_sweep import LOST, approved
from tests.notifier.helpers import drain


async def test_one_invocation_re_drives_a_lost_approval_once_and_records_the_executor(
    runtime: Runtime, settings: Settings
) -> None:
    decision = await approved(runtime.ledger, sample_finding(), ago=LOST)
    container = new_container(settings)

    assert await invoke(container) == {"republished": 1, "noticed": 0, "expired": 0, "counted_usd": "0"}
    [grant] = await drain(runtime)
    assert grant["payload"]["decision_id"] == decision.decision_id
    assert (await read(runtime.ledger)).acts is False  # a dry-run executor is there for the cards

    # The next run within the window sends nothing.
    assert (await invoke(container))["republished"] == 0
    assert await drain(runtime) == []
