"""A new user's first commands: --version, readable help, listings a script can use, approvals that
say what will happen. CliRunner's stdout is not a terminal, which is what a pipe sees."""

from __future__ import annotations

import ast
import asyncio
import csv
import getpass
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

import pytest
import structlog
from rich.console import Console
from typer.testing import CliRunner, Result

from services.cli import app
from services.notifier.handler import GroupPolicy, NotifierDeps, handle_analyzed
from services.notifier.listing import FIELDS
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.discord import ConsoleDiscord
from shared.events import ApprovalGranted, utcnow
from shared.executor_status import beat
from shared.worker import open_runtime
from tests.notifier.helpers import analyzed, drain, finding

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _logging_back_to_the_real_stderr() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def invoke(*args: str, **env: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"CLOUDTHRIFT_LOG_FORMAT": "json", **env})


def seed(settings: Settings, count: int, *, executor: str | None = None) -> list[str]:
    """`count` decisions awaiting approval; `executor`: 'live' or 'dry-run' heartbeat, or none."""

    async def go() -> list[str]:
        async with AwsClients(settings) as aws:
            await bootstrap(settings, aws)
        async with open_runtime(settings) as runtime:
            sink = ConsoleDiscord(Console(file=io.StringIO()))
            deps = NotifierDeps(runtime.ledger, sink, "console", GroupPolicy(threshold=0))
            ids = []
            for i in range(count):
                event = await analyzed(runtime.ledger, finding(f"vol-{i:017x}", tags={"team": f"t{i}"}))
                await handle_analyzed(event, deps)
                decision = await runtime.ledger.get(event.payload.finding.key)
                assert decision is not None
                ids.append(decision.decision_id)
            if executor is not None:
                await beat(runtime.ledger, dry_run=executor == "dry-run")
            return ids

    return asyncio.run(go())


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.output.strip() == f"cloudthrift {version('cloudthrift')}"


@pytest.mark.parametrize("command", [[], ["local"], ["scan"], ["pending"], ["aws-emulator"], ["worker"]])
def test_help_shows_flags_as_flags_and_values_by_what_they_are(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output and "<int>" not in result.output and "<str>" not in result.output
    expected = {
        "local": ["--once / --no-once", "--port PORT"],
        "scan": ["-r, --region REGION", "-k, --kind KIND", "--role-arn ARN"],
        "pending": ["--json", "--csv"],
        "aws-emulator": ["--host HOST", "--port PORT"],
        "worker": ["NAME..."],
    }.get(command[0] if command else "", ["--version", "doctor", "findings"])
    for text in expected:
        assert text in result.output, result.output


def test_pending_on_a_pipe_prints_whole_ids(settings: Settings) -> None:
    """Without COLUMNS, rich fitted the table to 80 columns and cut the ids an operator must copy."""
    ids = seed(settings, 3)
    result = invoke("pending")
    assert result.exit_code == 0, result.output
    header, *rows = [line for line in result.stdout.splitlines() if "\t" in line]
    assert header.split("\t")[:3] == ["decision_id", "state", "kind"]
    assert sorted(row.split("\t")[0] for row in rows) == sorted(ids)
    assert "…" not in result.stdout


def test_pending_and_findings_export_every_field_as_json_and_csv(settings: Settings) -> None:
    ids = seed(settings, 2)
    exported = invoke("pending", "--json")
    assert exported.exit_code == 0, exported.output
    rows = json.loads(exported.stdout)
    assert sorted(r["decision_id"] for r in rows) == sorted(ids)
    first = rows[0]
    assert set(first) == set(FIELDS)
    assert first["state"] == "AWAITING_APPROVAL" and first["kind"] == "ebs-volume"
    assert first["account_id"] == "123456789012" and first["region"] == "us-east-1"
    assert first["monthly_usd"] == "8.00" and first["net_monthly_saving_usd"] == "7.00"
    assert first["risk"] == "low" and first["recommendation"] == "snapshot_then_delete"
    assert first["tags"]["team"].startswith("t") and first["facts"]["size_gib"] == 100
    assert first["card_id"] == first["decision_id"] and first["group_card"] is False

    as_csv = invoke("findings", "--csv")
    assert as_csv.exit_code == 0, as_csv.output
    table = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(table[0]) == list(FIELDS)
    assert sorted(r["decision_id"] for r in table) == sorted(ids)
    assert json.loads(table[0]["facts"])["volume_type"] == "gp3"

    rejected = invoke("reject", ids[0])
    assert rejected.exit_code == 0, rejected.output
    only = json.loads(invoke("findings", "--json", "--state", "rejected").stdout)
    assert [r["decision_id"] for r in only] == [ids[0]] and only[0]["decided_by"] == getpass.getuser()
    assert invoke("findings", "--state", "gone").exit_code == 2
    assert invoke("pending", "--json", "--csv").exit_code == 2


@pytest.mark.parametrize(
    ("executor", "says"),
    [
        (
            "dry-run",
            "it records what it would do and touches nothing (CLOUDTHRIFT_DRY_RUN=false to act)",
        ),
        ("live", "s ago): approved resources are cleaned up"),
        (None, "no executor has run against this ledger yet: approvals wait on the execute queue"),
    ],
)
def test_approve_says_whether_the_executor_will_act(
    executor: str | None, says: str, settings: Settings
) -> None:
    [ident] = seed(settings, 1, executor=executor)
    result = invoke("approve", ident)
    assert result.exit_code == 0, result.output
    assert says in result.output


def test_a_cli_approval_is_tagged_cli_and_the_login_once(settings: Settings) -> None:
    """The executor tags what it deletes with `name (via:id)`: that read `root (cli:cli:root)`."""
    [ident] = seed(settings, 1)
    assert invoke("approve", ident).exit_code == 0

    async def grants() -> list[dict]:  # type: ignore[type-arg]
        async with open_runtime(settings) as runtime:
            return await drain(runtime)

    [grant] = asyncio.run(grants())
    approver = ApprovalGranted.model_validate(grant["payload"]).approver
    user = getpass.getuser()
    assert (approver.via, approver.id, approver.name) == ("cli", user, user)
    assert f"{approver.via}:{approver.id}" == f"cli:{user}"


def test_a_card_says_what_an_approval_will_do(settings: Settings) -> None:
    """The notifier asks the ledger (the executor's heartbeat) before posting each card."""
    from shared.executor_status import describe_now

    async def go() -> tuple[str, str]:
        async with AwsClients(settings) as aws:
            await bootstrap(settings, aws)
        async with open_runtime(settings) as runtime:
            sink = ConsoleDiscord(Console(file=io.StringIO()))
            deps = NotifierDeps(
                runtime.ledger,
                sink,
                "console",
                GroupPolicy(threshold=0),
                executor_status=lambda: describe_now(runtime.ledger),
            )
            await beat(runtime.ledger, dry_run=True, now=utcnow() - timedelta(minutes=12))
            await handle_analyzed(await analyzed(runtime.ledger, finding("vol-00000000000000001")), deps)
            await beat(runtime.ledger, dry_run=False)
            await handle_analyzed(await analyzed(runtime.ledger, finding("vol-00000000000000002")), deps)
            return sink.posted[0][1]["content"], sink.posted[1][1]["content"]

    stale, live = asyncio.run(go())
    assert stale.startswith("Executor: no executor seen for 12 minutes (the last was dry run)")
    assert live.startswith("Executor: the executor is live")


def test_no_stage_cli_imports_the_program_that_imports_it() -> None:
    """services/cli.py imports each stage's cli.py to register it; they import services/cli_support.py."""
    stage_clis = sorted((ROOT / "services").glob("*/cli.py"))
    assert len(stage_clis) >= 5
    for path in stage_clis:
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        assert "services.cli" not in imported, path
