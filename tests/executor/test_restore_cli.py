"""`cloudthrift restore DECISION_ID` on moto: refused plainly (nothing written or sent), or sent to the
executor, whose undo then makes a second request a refusal too."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from services.cli import app
from services.executor.handler import ExecutionPolicy, ExecutorDeps, handle_approval
from services.executor.restore import handle_restore
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.events import Envelope, RestoreRequested, parse_event
from shared.ledger import Ledger, State
from tests.executor.helpers import REGION, Reporter, approve, idle_volume, observe

ENV = {"CLOUDTHRIFT_LOG_FORMAT": "json", "COLUMNS": "250"}


@pytest.fixture(autouse=True)
def _logging_back_to_the_real_stderr() -> Iterator[None]:
    yield
    structlog.reset_defaults()


async def _executed(settings: Settings, *, dry_run: bool) -> tuple[str, str]:
    """A volume cleaned up for real (or rehearsed): its decision id and ledger key."""
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
        ledger = Ledger(await aws.client("dynamodb"), settings.table_name)
        ec2 = await aws.client("ec2", REGION)
        finding = await observe(ec2, "ebs-volume", await idle_volume(ec2))
        event = await approve(ledger, finding)
        await handle_approval(event, _deps(aws, ledger, dry_run=dry_run))
        return event.payload.decision_id, finding.key.pk


def _deps(aws: AwsClients, ledger: Ledger, *, dry_run: bool = False) -> ExecutorDeps:
    policy = ExecutionPolicy(dry_run=dry_run, claim_ttl=timedelta(seconds=30), snapshot_wait_seconds=5)
    return ExecutorDeps(aws=aws, ledger=ledger, reporter=Reporter(), policy=policy)


async def _execute_queue(settings: Settings, *, run: bool) -> tuple[list[dict[str, Any]], State, int]:
    """What the execute queue holds (handled by the executor when `run`), the decision's state and version."""
    async with AwsClients(settings) as aws:
        sqs = await aws.client("sqs")
        url = (await sqs.get_queue_url(QueueName=settings.queue_name("execute")))["QueueUrl"]
        answer = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        bodies = [m["Body"] for m in answer.get("Messages", [])]
        ledger = Ledger(await aws.client("dynamodb"), settings.table_name)
        for body in bodies if run else []:
            event = parse_event(body)
            assert isinstance(event.payload, RestoreRequested)
            await handle_restore(Envelope.wrap(event.payload), _deps(aws, ledger))
        [decision] = [d async for d in ledger.everything() if "state" in d.attrs]
        return (
            [parse_event(b).payload.model_dump(mode="json") for b in bodies],
            decision.state,
            decision.version,
        )


def test_restore_sends_one_undo_and_then_refuses_an_undo_of_it(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    decision_id, _ = asyncio.run(_executed(settings, dry_run=False))
    runner = CliRunner()

    sent = runner.invoke(app, ["restore", decision_id[:8], "--as", "Dana Ops"], env=ENV)
    assert sent.exit_code == 0, sent.output
    assert "undo of vol-" in sent.output and "asked by Dana Ops" in sent.output
    [request], state, _ = asyncio.run(_execute_queue(settings, run=True))
    assert request["decision_id"] == decision_id
    assert request["requested_by"]["via"] == "cli" and request["requested_by"]["name"] == "Dana Ops"

    _, state, version = asyncio.run(_execute_queue(settings, run=False))
    assert state is State.RESTORED
    again = runner.invoke(app, ["restore", decision_id], env=ENV)
    assert again.exit_code == 1
    assert "already restored" in again.output and "never undone" in again.output
    messages, state, after = asyncio.run(_execute_queue(settings, run=False))
    assert messages == [] and state is State.RESTORED and after == version


def test_restore_of_a_dry_run_or_an_unknown_id_is_refused(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    decision_id, _ = asyncio.run(_executed(settings, dry_run=True))
    runner = CliRunner()

    dry = runner.invoke(app, ["restore", decision_id], env=ENV)
    assert dry.exit_code == 1 and "dry run" in dry.output
    unknown = runner.invoke(app, ["restore", "ffffffff-0000"], env=ENV)
    assert unknown.exit_code == 1 and "matches no decision" in unknown.output
    messages, state, _ = asyncio.run(_execute_queue(settings, run=False))
    assert messages == [] and state is State.EXECUTED
