"""Without a Datadog Agent, nothing waits on it and nothing complains about it more than once.

`cloudthrift approve` with tracing at its default (on) and no Agent took 4.3-4.7 s instead of 0.9 s
and printed ddtrace's "failed to send" errors; workers printed them too. Spans are now made only while
the trace Agent accepts connections (shared/telemetry/agent.py).
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from structlog.testing import capture_logs

from services.notifier.handler import GroupPolicy, NotifierDeps, handle_analyzed
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.discord import ConsoleDiscord
from shared.telemetry import Telemetry
from shared.telemetry.agent import AgentGate, trace_agent_url
from shared.telemetry.metrics import DogStatsdMetrics, NullMetrics
from shared.worker import open_runtime
from tests.notifier.helpers import analyzed, finding
from tests.telemetry.conftest import ApmTestAgent

ROOT = Path(__file__).resolve().parents[2]


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def awaiting_approval(settings: Settings) -> str:
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
    async with open_runtime(settings) as runtime:
        deps = NotifierDeps(
            runtime.ledger, ConsoleDiscord(Console(file=io.StringIO())), "console", GroupPolicy(threshold=0)
        )
        event = await analyzed(runtime.ledger, finding("vol-0a0a0a0a0a0a0a0a0"))
        await handle_analyzed(event, deps)
        decision = await runtime.ledger.get(event.payload.finding.key)
        assert decision is not None
        return decision.decision_id


async def test_approve_without_an_agent_prints_no_datadog_errors(
    moto_endpoint: str, settings: Settings
) -> None:
    ident = await awaiting_approval(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DD_")} | {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "DD_TRACE_AGENT_URL": closed_url(),  # tracing stays at its default: on
        "CLOUDTHRIFT_LOG_FORMAT": "json",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services", "approve", ident],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "approve: 1 decision(s)" in done.stdout
    noise = [line for line in done.stderr.splitlines() if "ddtrace" in line or "failed to send" in line]
    assert noise == []
    assert "telemetry.agent_unreachable" not in done.stderr  # a CLI command says it at debug level only


def test_no_agent_means_no_spans_and_one_info_line_for_a_worker(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(dd_trace_enabled=True)
    monkeypatch.setenv("DD_TRACE_AGENT_URL", closed_url())
    with capture_logs() as logs:
        worker = Telemetry.from_settings(settings)
        cli = Telemetry.from_settings(settings, short_lived=True)
    stage = worker.stage("executor")
    assert stage.tracing.enabled is False and stage.tracing.start("x") is None
    assert cli.stage("interactions").tracing.enabled is False
    # The worker says it once at info; the CLI command only at debug (filtered out at the default level).
    said = [(log["log_level"], log["event"]) for log in logs if log["log_level"] != "debug"]
    assert said == [("info", "telemetry.agent_unreachable")]
    worker.close()
    cli.close()


def test_an_agent_that_answers_turns_tracing_on(
    make_settings: Callable[..., Settings], test_agent: ApmTestAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DD_TRACE_AGENT_URL", test_agent.url)
    telemetry = Telemetry.from_settings(make_settings(dd_trace_enabled=True), short_lived=True)
    assert telemetry.stage("interactions").tracing.enabled is True
    telemetry.close()


def test_a_worker_notices_an_agent_that_starts_after_it() -> None:
    """An Agent sidecar slower to start than the worker: tracing turns on without a restart."""
    with socket.socket() as agent:
        agent.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{agent.getsockname()[1]}"
        gate = AgentGate(url, announce=False)
        assert gate() is False
        gate.watch(every=0.05)
        agent.listen()
        deadline = time.monotonic() + 10
        while not gate() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gate() is True
    gate.close()


def test_the_agent_address_is_the_one_ddtrace_uses() -> None:
    assert trace_agent_url({"DD_TRACE_AGENT_URL": "unix:///tmp/apm.sock"}) == "unix:///tmp/apm.sock"
    assert trace_agent_url({"DD_AGENT_HOST": "agent", "DD_TRACE_AGENT_PORT": "9126"}) == "http://agent:9126"
    assert trace_agent_url({"DD_AGENT_HOST": "agent"}) == "http://agent:8126"


@pytest.mark.parametrize("trace_enabled", [True, False])
def test_a_cli_command_without_an_agent_sends_no_metrics_and_skips_the_datadog_package(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, trace_enabled: bool
) -> None:
    """No Agent configured or answering: a short-lived command stays quiet (metrics included), so it
    need not import datadog (its HTTP API client is ~0.1 s of `approve`). A worker still sends."""
    for name in ("DD_AGENT_HOST", "DD_DOGSTATSD_URL", "DD_DOGSTATSD_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DD_TRACE_AGENT_URL", closed_url())
    settings = make_settings(dd_trace_enabled=trace_enabled, dd_dogstatsd_disable=False)
    cli = Telemetry.from_settings(settings, short_lived=True)
    worker = Telemetry.from_settings(settings)
    assert isinstance(cli.metrics, NullMetrics)
    assert isinstance(worker.metrics, DogStatsdMetrics)
    cli.close()
    worker.close()


def test_a_cli_command_sends_metrics_to_a_configured_or_answering_agent(
    make_settings: Callable[..., Settings], test_agent: ApmTestAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DD_TRACE_AGENT_URL", test_agent.url)
    answering = Telemetry.from_settings(
        make_settings(dd_trace_enabled=False, dd_dogstatsd_disable=False), short_lived=True
    )
    assert isinstance(answering.metrics, DogStatsdMetrics)
    answering.close()
    monkeypatch.setenv("DD_TRACE_AGENT_URL", closed_url())
    monkeypatch.setenv("DD_DOGSTATSD_URL", "udp://127.0.0.1:8125")
    configured = Telemetry.from_settings(make_settings(dd_dogstatsd_disable=False), short_lived=True)
    assert isinstance(configured.metrics, DogStatsdMetrics)
    configured.close()


def test_approve_without_an_agent_does_not_import_the_datadog_package() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from shared.config import load_settings\n"
            "from shared.telemetry import Telemetry\n"
            "Telemetry.from_settings(load_settings(env_file=None), short_lived=True).close()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('datadog', 'ddtrace')))",
        ],
        env={k: v for k, v in os.environ.items() if not k.startswith("DD_")}
        | {"DD_TRACE_AGENT_URL": closed_url()},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
