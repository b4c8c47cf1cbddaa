"""The `cloudthrift` program as an operator runs it: real processes, real signals, moto over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import Settings


def env(moto_endpoint: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "CLOUDTHRIFT_LOG_FORMAT": "json",
        "CLOUDTHRIFT_WAIT_TIME_SECONDS": "1",
        **extra,
    }


def cloudthrift(*args: str, moto_endpoint: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env(moto_endpoint, **extra),
    )


async def ready(settings: Settings) -> None:
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)


async def messages(settings: Settings, queue: str) -> list[dict[str, Any]]:
    async with AwsClients(settings) as aws:
        sqs = await aws.client("sqs")
        url = (await sqs.get_queue_url(QueueName=queue))["QueueUrl"]
        answer = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return answer.get("Messages", [])


def test_bootstrap_command_is_idempotent(moto_endpoint: str) -> None:
    first = cloudthrift("bootstrap", moto_endpoint=moto_endpoint)
    second = cloudthrift("bootstrap", moto_endpoint=moto_endpoint)
    assert first.returncode == second.returncode == 0, first.stderr
    assert first.stdout.count("created") == 9
    assert "created" not in second.stdout and second.stdout.count("exists") == 9


async def test_scan_command_enqueues_a_scan_request(moto_endpoint: str, settings: Settings) -> None:
    await ready(settings)
    done = cloudthrift("scan", "-r", "eu-west-1", "-k", "elastic-ip", moto_endpoint=moto_endpoint)
    assert done.returncode == 0, done.stderr
    [message] = await messages(settings, settings.queue_name("scan"))
    body = json.loads(message["Body"])
    assert body["type"] == "ScanRequested"
    assert body["payload"]["regions"] == ["eu-west-1"] and body["payload"]["kinds"] == ["elastic-ip"]
    assert body["payload"]["requested_by"].startswith("cli:")


async def test_dlq_commands_list_and_replay(moto_endpoint: str, settings: Settings) -> None:
    await ready(settings)
    async with AwsClients(settings) as aws:
        sqs = await aws.client("sqs")
        dlq = (await sqs.get_queue_url(QueueName=settings.dlq_name("analyze")))["QueueUrl"]
        await sqs.send_message(
            QueueUrl=dlq,
            MessageBody="{}",
            MessageAttributes={
                "cloudthrift-error": {
                    "DataType": "String",
                    "StringValue": "invalid event: unsupported schema None",
                }
            },
        )
    listed = cloudthrift("dlq", "list", moto_endpoint=moto_endpoint)
    assert "cloudthrift-analyze-dlq: 1 message(s)" in listed.stdout
    assert "invalid event: unsupported schema None" in listed.stdout
    replayed = cloudthrift("dlq", "replay", "analyze", moto_endpoint=moto_endpoint)
    assert "replayed 1 message(s) from cloudthrift-analyze-dlq to cloudthrift-analyze" in replayed.stdout
    assert [m["Body"] for m in await messages(settings, settings.queue_name("analyze"))] == ["{}"]
    unknown = cloudthrift("dlq", "replay", "nowhere", moto_endpoint=moto_endpoint)
    assert unknown.returncode == 2 and "unknown queue 'nowhere'" in unknown.stderr


def test_a_worker_process_stops_cleanly_on_sigterm(moto_endpoint: str, settings: Settings) -> None:
    # Synchronous on purpose: it blocks reading the worker's log lines, with no event loop to stall.
    asyncio.run(ready(settings))
    process = subprocess.Popen(
        [sys.executable, "-m", "services", "worker", "scanner"],
        env=env(moto_endpoint),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        for line in process.stderr:  # logs are JSON lines on stderr
            if '"workers.started"' in line or time.monotonic() > deadline:
                break
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        rest = process.stderr.read()
        assert '"consumer.stopped"' in rest and "Traceback" not in rest
    finally:
        if process.poll() is None:
            process.kill()


def test_unknown_worker_is_refused(moto_endpoint: str) -> None:
    done = cloudthrift("worker", "janitor", moto_endpoint=moto_endpoint)
    assert done.returncode == 2 and "unknown worker(s) janitor" in done.stderr


@pytest.mark.timeout(300)  # a whole local run, report included, on a shared 2-core machine
def test_local_once_finds_the_seeded_idle_resources_with_their_costs(tmp_path: Path) -> None:
    """The README's first command, end to end: its own moto server, seeded estate, every worker, one scan."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CLOUDTHRIFT_", "DISCORD_", "GEMINI_"))
    }
    done = subprocess.run(
        [sys.executable, "-m", "services", "local", "--once"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**clean, "CLOUDTHRIFT_LOG_FORMAT": "json"},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "111 idle resource(s), $12722.88/month wasted" in done.stdout
    # Issue 14: the five cold volumes (sc1/st1) whose snapshot costs more than they save are not summed
    # into the net (it was $10208.00 with their -$233.30 in it); their cards offer the cheaper choices.
    # Issue 16: the three load balancers under deletion protection (one a region, $53.22 in all) are
    # reported but offered no clean-up: they save nothing ($10750.08 before).
    assert "$10696.86/month saved net of snapshots" in done.stdout
    assert "3 of them are offered no clean-up" in done.stdout
    assert "5 of them lose money if snapshotted first" in done.stdout
    assert "--remedy delete" in done.stdout and "archive-snapshot-then-delete" in done.stdout
    assert "trading-db-replica-old" in done.stdout and "2469.00" in done.stdout
    assert "dr-restore-point" not in done.stdout  # opted out
    assert "just-provisioned" not in done.stdout  # too young
    # ...and the savings report of the demo estate, written where the user ran it, its path printed.
    report = tmp_path / "cloudthrift-report.html"
    assert f"Savings report: {report}" in done.stdout
    assert 'data-figure="pending.waste_monthly_usd">12722.88<' in report.read_text()


async def test_aws_emulator_command_serves_atomic_conditional_writes_and_stops_on_sigterm(
    make_settings: Any,
) -> None:
    """docker-compose's `moto` container runs this: the ledger's races must hold on it as in tests."""
    from datetime import UTC, datetime, timedelta

    from shared.ledger import State
    from shared.worker import open_runtime
    from tests.shared.factories import finding

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services",
        "aws-emulator",
        "--port",
        str(port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get(f"{endpoint}/moto-api/") as answer:
                        if answer.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert server.returncode is None and time.monotonic() < deadline, "the emulator did not start"
                await asyncio.sleep(0.2)
        settings = make_settings(aws_endpoint_url=endpoint)
        await ready(settings)
        now = datetime.now(UTC)
        async with open_runtime(settings) as runtime:
            ledger = runtime.ledger
            for round_ in range(60):  # plain moto_server lets two claims through within ~5 to 20 rounds
                f = finding(f"vol-race-{round_}")
                await ledger.create(f)
                for expected, new in [
                    (State.FOUND, State.ANALYZED),
                    (State.ANALYZED, State.AWAITING_APPROVAL),
                    (State.AWAITING_APPROVAL, State.APPROVED),
                ]:
                    await ledger.transition(f.key, expected, new)
                results = await asyncio.gather(
                    *(
                        ledger.transition(
                            f.key,
                            State.APPROVED,
                            State.EXECUTING,
                            fields={"claim_expires_at": now + timedelta(minutes=5)},
                            claim_expired_before=now,
                        )
                        for _ in range(8)
                    )
                )
                assert sum(r.applied for r in results) == 1, f"round {round_}"
        server.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.wait(), 15) == 0
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
