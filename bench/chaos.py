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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [str(CLOUDTHRIFT), "aws-emulator", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    runs = []
    for run in range(args.runs):
        emulator, endpoint = start_emulator()
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
                report = asyncio.run(run_chaos(config, endpoint, watch={"emulator": emulator.pid}))
        finally:
            emulator.terminate()
            emulator.wait()
        result = summary(report) | {"run": run, "config": vars(args) | {"out": str(args.out)}}
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
