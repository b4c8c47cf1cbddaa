"""Wall time of `cloudthrift approve ID`, as an operator runs it, with no Datadog Agent on the machine.

Starts the embedded AWS (`cloudthrift aws-emulator`) on a free port, runs `cloudthrift bootstrap`, seeds
one decision awaiting approval per run (through the notifier's own handler, cards printed to a
buffer), then times `cloudthrift approve <id>` in a fresh process per run with the DD_* variables
unset (tracing and metrics at their defaults) and, for comparison, with DD_TRACE_ENABLED=false. It
prints one JSON line per variant: the wall times and their median, the median CPU time of the
command (what the machine's load does not inflate), and how many ddtrace / datadog log lines the
command wrote to stderr.

    .venv/bin/python bench/approve_latency.py            # 5 runs per variant
    .venv/bin/python bench/approve_latency.py --runs 7
    .venv/bin/python bench/approve_latency.py --root /tmp/main-worktree   # the code before a change

Nothing may listen on 127.0.0.1:8126 / 8125 during the run (the point is an absent Agent).

The checkout's bytecode is compiled first (`compileall`), as pip does when it installs a wheel: with
PYTHONDONTWRITEBYTECODE set (this workplace sets it), an editable checkout otherwise compiles every one
of the project's modules from source in every run, which no installed `cloudthrift` does.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOUDTHRIFT = [sys.executable, "-m", "services"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DD_", "CLOUDTHRIFT_", "AWS_"))}
    return env | {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
        "CLOUDTHRIFT_PREFIX": "bench-approve",
    }


async def seed(count: int) -> list[str]:
    """`count` decisions awaiting approval, recorded as the scanner, analyzer and notifier would."""
    from rich.console import Console

    from services.notifier.handler import GroupPolicy, NotifierDeps, handle_analyzed
    from shared.config import load_settings
    from shared.discord import ConsoleDiscord
    from shared.events import Analysis, CostEstimate, DecisionKey, Envelope, Finding, ResourceAnalyzed
    from shared.ledger import State
    from shared.worker import open_runtime

    settings = load_settings(env_file=None)
    ids = []
    async with open_runtime(settings) as runtime:
        sink = ConsoleDiscord(Console(file=io.StringIO()))
        deps = NotifierDeps(runtime.ledger, sink, "console", GroupPolicy(threshold=0))
        for index in range(count):
            finding = Finding(
                key=DecisionKey(
                    account_id="123456789012",
                    region="us-east-1",
                    kind="ebs-volume",
                    check="unattached",
                    resource_id=f"vol-{time.time_ns():017x}",
                ),
                facts={"volume_type": "gp3", "size_gib": 100, "state": "available"},
                idle_since=datetime.now(UTC),
                idle_reason="unattached",
                cost=CostEstimate(
                    monthly_usd=Decimal(8),
                    net_monthly_saving_usd=Decimal(7),
                    price_source="bench",
                    price_date="2026-11-01",
                ),
                scan_id=f"bench-{index}",
            )
            analysis = Analysis(
                summary="idle",
                likely_cause="left behind",
                risk="low",
                risk_reason="scratch",
                recommendation="delete",
                confidence=0.9,
                source="rules",
            )
            await runtime.ledger.create(finding)
            await runtime.ledger.transition(
                finding.key, State.FOUND, State.ANALYZED, fields={"analysis": analysis}
            )
            await handle_analyzed(Envelope.wrap(ResourceAnalyzed(finding=finding, analysis=analysis)), deps)
            decision = await runtime.ledger.get(finding.key)
            assert decision is not None and decision.state is State.AWAITING_APPROVAL
            ids.append(decision.decision_id)
    return ids


def time_approve(ident: str, env: dict[str, str], root: Path) -> tuple[float, float, int, int]:
    """Wall and CPU seconds of one `approve` process (CPU: its rusage, which the machine's load does
    not inflate), and its Datadog log lines."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([*CLOUDTHRIFT, "approve", ident], env=env, capture_output=True, text=True, cwd=root)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"approve failed: {done.stderr[-2000:]}")
    noisy = [line for line in done.stderr.splitlines() if "ddtrace" in line or "datadog" in line]
    errors = [line for line in noisy if "ERROR" in line or '"error"' in line]
    return wall, cpu, len(noisy), len(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="checkout whose `services` runs (e.g. a worktree of main)"
    )
    args = parser.parse_args()
    root = args.root.resolve()
    compile_all = [sys.executable, "-m", "compileall", "-q", "services", "shared"]
    subprocess.run(compile_all, cwd=root, check=True, capture_output=True)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    emulator = subprocess.Popen(
        [*CLOUDTHRIFT, "aws-emulator", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=root,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the emulator did not start") from None
                time.sleep(0.2)
        env = base_env(endpoint)
        subprocess.run([*CLOUDTHRIFT, "bootstrap"], env=env, check=True, capture_output=True, cwd=root)
        os.environ.update(env)
        variants = {"defaults (no Agent)": env, "DD_TRACE_ENABLED=false": env | {"DD_TRACE_ENABLED": "false"}}
        ids = asyncio.run(seed(args.runs * len(variants)))
        for index, (name, variant_env) in enumerate(variants.items()):
            mine = ids[index * args.runs : (index + 1) * args.runs]
            runs = [time_approve(ident, variant_env, root) for ident in mine]
            walls = [round(wall, 3) for wall, _, _, _ in runs]
            cpus = [round(cpu, 3) for _, cpu, _, _ in runs]
            print(
                json.dumps(
                    {
                        "variant": name,
                        "root": str(root),
                        "median_s": round(statistics.median(walls), 3),
                        "walls_s": walls,
                        "median_cpu_s": round(statistics.median(cpus), 3),
                        "load_1min": round(os.getloadavg()[0], 2),
                        "datadog_log_lines": [noisy for _, _, noisy, _ in runs],
                        "datadog_error_lines": [errors for _, _, _, errors in runs],
                    }
                ),
                flush=True,
            )
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)


if __name__ == "__main__":
    main()
