"""Issue 20's worst day: 360 approved clean-ups, two executors, a worker SIGKILLed every 0.5-2 s.

    .venv/bin/python bench/chaos.py                    # 300 volumes + 60 addresses, 250 kills, 3 runs
    .venv/bin/python bench/chaos.py --kills 0          # the same without kills: throughput
    .venv/bin/python bench/chaos.py --runs 1 --kills 20 --volumes 50 --addresses 10

Each run starts a fresh `cloudthrift aws-emulator` (a subprocess, so its CPU is its own), two
`cloudthrift worker executor` and one `cloudthrift worker notifier` (real processes, restarted at once
when killed), seeds the resources and two group cards, approves both cards with the click's code, and
kills workers from then on (tests/chaos.py is the harness, shared with tests/test_chaos.py). Dry run
is off: snapshots, deletes and releases really happen on the emulator. Nobody replays anything.

Reported per run, and as medians over the runs: kills; time from the approvals to the last decision
terminal, and from the last kill to then (the settle time); decisions per second over the execution;
messages published per decision (the click's plus the sweep's re-drives, max and mean); the peak depth
of the execute queue; what is left in any DLQ; doubled actions (a second outcome or a second fresh
claim on a decision, more than one snapshot of a volume); CPU per decision of the executors and of the
emulator over the execution. Raw results go to bench/results/chaos.jsonl (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _name, _value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
    os.environ.setdefault(_name, _value)
os.environ.setdefault("AWS_REGION", "us-east-1")

from tests.chaos import CLOUDTHRIFT, ChaosConfig, ChaosReport, run_chaos  # noqa: E402
from tests.fakes.aws_proxy import AwsProxy  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_emulator(costs: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """`cloudthrift aws-emulator`; with `costs`, the same emulator accounting its CPU by operation
    (bench/emulator_costs.py), written to `costs` when it is stopped."""
    port = free_port()
    argv = [str(CLOUDTHRIFT), "aws-emulator", "--port", str(port)]
    if costs is not None:
        argv = [sys.executable, str(ROOT / "bench" / "emulator_costs.py"), str(port), str(costs)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
            return process, endpoint
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the emulator did not start")


def summary(report: ChaosReport) -> dict[str, Any]:
    executing = report.execute_seconds
    cpu = report.cpu_seconds
    return {
        "kills": report.kills,
        "kills_by_worker": dict(report.kills_by_worker),
        "all_terminal": report.all_terminal_at is not None,
        "states": dict(report.states),
        "execute_s": round(executing, 1) if executing is not None else None,
        "left_at_last_kill": report.left_at_last_kill,
        "settle_after_last_kill_s": (
            round(report.settle_after_last_kill, 1) if report.settle_after_last_kill is not None else None
        ),
        "decisions_per_s": round(report.decisions / executing, 2) if executing else None,
        "messages_per_decision_max": report.messages_max,
        "messages_per_decision_mean": report.messages_mean,
        "redriven": report.redriven,
        "peak_execute_depth": report.peak_execute_depth,
        "dlq_left": sum(report.dlq_depths.values()),
        "doubled": len(report.doubled) + sum(n for k, n in report.snapshots_per_volume.items() if k > 1),
        "volumes_without_snapshot": report.snapshots_per_volume.get(0, 0),
        "left_in_aws": report.volumes_left + report.addresses_left,
        "executor_cpu_ms_per_decision": round(1000 * cpu.get("executors", 0) / report.decisions, 1),
        "emulator_cpu_ms_per_decision": round(1000 * cpu.get("emulator", 0) / report.decisions, 1),
        "log_events": dict(report.log_events),
    }


async def run_once(
    config: ChaosConfig, endpoint: str, emulator_pid: int, count: bool
) -> tuple[ChaosReport, dict[str, int]]:
    """One scenario; with `count`, the workers' requests pass through a counting proxy (by operation)."""
    if not count:
        return await run_chaos(config, endpoint, watch={"emulator": emulator_pid}), {}
    proxy = AwsProxy(endpoint)
    await proxy.start()
    try:
        report = await run_chaos(
            config, endpoint, watch={"emulator": emulator_pid}, worker_endpoint=proxy.endpoint
        )
    finally:
        await proxy.stop()
    return report, dict(sorted(proxy.calls.items()))


def requests_summary(calls: dict[str, int], decisions: int) -> dict[str, Any]:
    """The workers' requests by operation, in all and per decision (polls and sweeps included)."""
    if not calls:
        return {}
    return {
        "requests": calls,
        "requests_per_decision": round(sum(calls.values()) / decisions, 2),
        "requests_per_decision_by_op": {k: round(n / decisions, 2) for k, n in calls.items()},
    }


def costs_summary(costs: dict[str, dict[str, float]], decisions: int) -> dict[str, Any]:
    """The emulator's CPU on the workers' requests (seeding and watching left out), per decision."""
    if not costs:
        return {}
    by_op = {name: round(c["cpu_ms"] / decisions, 2) for name, c in costs.items()}
    mean = {name: round(c["cpu_ms"] / max(c["requests"], 1), 2) for name, c in costs.items()}
    return {
        "emulator_worker_cpu_ms_per_decision": round(sum(by_op.values()), 1),
        "emulator_cpu_ms_per_decision_by_op": dict(sorted(by_op.items(), key=lambda kv: -kv[1])),
        "emulator_cpu_ms_per_request_by_op": mean,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--volumes", type=int, default=300)
    parser.add_argument("--addresses", type=int, default=60)
    parser.add_argument("--kills", type=int, default=250)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--visibility", type=int, default=30, help="CLOUDTHRIFT_VISIBILITY_TIMEOUT")
    parser.add_argument("--claim-ttl", type=int, default=15, help="CLOUDTHRIFT_CLAIM_TTL_SECONDS")
    parser.add_argument("--sweep", type=float, default=10, help="CLOUDTHRIFT_APPROVAL_SWEEP_SECONDS")
    parser.add_argument("--recover", type=int, default=120, help="CLOUDTHRIFT_APPROVAL_RECOVER_SECONDS")
    parser.add_argument("--settle-timeout", type=float, default=1200)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "chaos.jsonl")
    parser.add_argument(
        "--count-requests", action="store_true", help="the workers' AWS requests by operation (a proxy)"
    )
    parser.add_argument(
        "--emulator-costs", action="store_true", help="the emulator's CPU by operation, workers' requests"
    )
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    runs = []
    for run in range(args.runs):
        costs_file = Path(tempfile.mkstemp(prefix="emulator-costs-", suffix=".json")[1])
        emulator, endpoint = start_emulator(costs_file if args.emulator_costs else None)
        try:
            with tempfile.TemporaryDirectory(prefix="chaos-") as logs:
                config = ChaosConfig(
                    volumes=args.volumes,
                    addresses=args.addresses,
                    kills=args.kills,
                    visibility_timeout=args.visibility,
                    claim_ttl=args.claim_ttl,
                    sweep_seconds=args.sweep,
                    recover_seconds=args.recover,
                    settle_timeout=args.settle_timeout,
                    seed=run,
                    log_dir=Path(logs),
                )
                report, calls = asyncio.run(run_once(config, endpoint, emulator.pid, args.count_requests))
        finally:
            emulator.terminate()
            emulator.wait()
        costs = json.loads(costs_file.read_text() or "{}").get("worker", {})
        costs_file.unlink()
        result = (
            summary(report)
            | requests_summary(calls, report.decisions)
            | costs_summary(costs, report.decisions)
            | {"run": run, "config": vars(args) | {"out": str(args.out)}}
        )
        runs.append(result)
        with args.out.open("a") as out:
            out.write(json.dumps(result, default=str) + "\n")
        print(json.dumps(result, default=str), flush=True)
    medians = {
        name: statistics.median(r[name] for r in runs)
        for name in (
            "kills",
            "execute_s",
            "settle_after_last_kill_s",
            "decisions_per_s",
            "messages_per_decision_max",
            "messages_per_decision_mean",
            "peak_execute_depth",
            "dlq_left",
            "doubled",
            "executor_cpu_ms_per_decision",
            "emulator_cpu_ms_per_decision",
        )
        if all(r[name] is not None for r in runs)
    }
    print("medians:", json.dumps(medians))


if __name__ == "__main__":
    main()
