"""`cloudthrift pending / approve / reject` against moto: the same decision code as the buttons."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator

import pytest
import structlog
from rich.console import Console
from typer.testing import CliRunner

from services.cli import app
from services.notifier.handler import GroupPolicy, NotifierDeps, handle_analyzed
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.discord import ConsoleDiscord
from shared.events import ApprovalGranted
from shared.ledger import State
from shared.worker import open_runtime
from tests.notifier.helpers import analyzed, drain, finding


@pytest.fixture(autouse=True)
def _logging_back_to_the_real_stderr() -> Iterator[None]:
    """`cloudthrift` points structlog at CliRunner's stderr, which is closed after each invoke."""
    yield
    structlog.reset_defaults()


async def _seed(settings: Settings, count: int) -> list[str]:
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
    async with open_runtime(settings) as runtime:
        deps = NotifierDeps(
            runtime.ledger, ConsoleDiscord(Console(file=io.StringIO())), "console", GroupPolicy(threshold=0)
        )
        ids = []
        for i in range(count):
            event = await analyzed(runtime.ledger, finding(f"vol-{i:017x}"))
            await handle_analyzed(event, deps)
            ids.append((await runtime.ledger.get(event.payload.finding.key)).decision_id)  # type: ignore[union-attr]
        return ids


async def _outcome(settings: Settings) -> tuple[dict[str, State], list[dict]]:  # type: ignore[type-arg]
    async with open_runtime(settings) as runtime:
        states = {d.decision_id: d.state async for d in runtime.ledger.everything() if "state" in d.attrs}
        return states, await drain(runtime)


def test_the_cli_lists_approves_and_rejects_like_the_buttons(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    approve_id, reject_id = asyncio.run(_seed(settings, 2))
    runner = CliRunner()
    env = {"CLOUDTHRIFT_LOG_FORMAT": "json", "COLUMNS": "250"}

    listed = runner.invoke(app, ["pending"], env=env)
    assert listed.exit_code == 0, listed.output
    assert approve_id in listed.output and reject_id in listed.output

    approved = runner.invoke(app, ["approve", approve_id[:8], "--as", "Dana Ops"], env=env)
    assert approved.exit_code == 0, approved.output
    assert "approve: 1 decision(s) by Dana Ops, 1 sent to the executor" in approved.output
    again = runner.invoke(app, ["approve", approve_id, "--as", "Eve"], env=env)
    assert again.exit_code == 1 and "Already approved by Dana Ops" in again.output

    rejected = runner.invoke(app, ["reject", reject_id], env=env)
    assert rejected.exit_code == 0, rejected.output

    states, grants = asyncio.run(_outcome(settings))
    assert states[approve_id] is State.APPROVED and states[reject_id] is State.REJECTED
    [grant] = grants
    event = ApprovalGranted.model_validate(grant["payload"])
    assert event.decision_id == approve_id
    assert event.approver.via == "cli" and event.approver.name == "Dana Ops"
