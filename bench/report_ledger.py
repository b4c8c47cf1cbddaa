"""`cloudthrift report` over a ledger of 10,000 decisions on the embedded AWS.

    .venv/bin/python bench/report_ledger.py [--decisions 10000] [--runs 3]

The embedded AWS (`cloudthrift aws-emulator`, services/embedded_aws.py) runs as a subprocess; this
process seeds it with decisions as the Ledger's own transitions leave them (bench/report_seed.py: two
of each ending played through the Ledger and checked against the bulk builder, the rest written 25 per
BatchWriteItem), with findings shaped like the scanner's (facts, cost lines, seven tags). Then
`cloudthrift report` runs as the user runs it, a fresh process each time (its start-up and
matplotlib's import included), and in-process the two halves are timed apart: reading the ledger (by
state, projected) and drawing. `--hold` seeds, prints the endpoint and waits (to profile against it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
# `--moto-as-shipped`: the embedded AWS without services/emulator/query.py, for the before/after.
AS_SHIPPED = """
import sys, threading
import services.embedded_aws as embedded
embedded.speed_up_queries = lambda: None
embedded.EmbeddedAws(port=int(sys.argv[1])).start()
threading.Event().wait()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def seed(endpoint: str, count: int) -> dict[str, int]:
    """The ledger's decisions, a sample through its transitions and the rest in bulk (report_seed.py)."""
    from bench.report_seed import seed as seed_ledger
    from shared.aws import AwsClients
    from shared.bootstrap import bootstrap
    from shared.config import load_settings
    from shared.ledger import Ledger

    settings = load_settings(aws_endpoint_url=endpoint)
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
        dynamodb = await aws.client("dynamodb")
        return await seed_ledger(Ledger(dynamodb, settings.table_name), dynamodb, count)


async def measure_in_process(endpoint: str) -> dict[str, float]:
    from services.report.data import Filters, load
    from services.report.page import render
    from shared.aws import AwsClients
    from shared.config import load_settings
    from shared.ledger import Ledger

    settings = load_settings(aws_endpoint_url=endpoint)
    async with AwsClients(settings) as aws:
        ledger = Ledger(await aws.client("dynamodb"), settings.table_name)
        started = time.perf_counter()
        data = await load(ledger, Filters())
        read = time.perf_counter() - started
    started = time.perf_counter()
    html = render(data, generated=datetime.now(UTC))
    return {"read_s": read, "render_s": time.perf_counter() - started, "bytes": len(html.encode())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hold", action="store_true", help="seed, print the endpoint, wait for Ctrl-C")
    parser.add_argument("--moto-as-shipped", action="store_true", help="without the query speed-ups")
    args = parser.parse_args()
    os.environ.update(ENV)
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    cloudthrift = str(Path(sys.executable).with_name("cloudthrift"))
    serve = [cloudthrift, "aws-emulator", "--port", str(port)]
    if args.moto_as_shipped:
        serve = [sys.executable, "-c", AS_SHIPPED, str(port)]
    emulator = subprocess.Popen(serve, stderr=subprocess.DEVNULL, env=os.environ | ENV, cwd=ROOT)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        started = time.perf_counter()
        ended = asyncio.run(seed(endpoint, args.decisions))
        seeded = time.perf_counter() - started
        print(f"seeded {args.decisions} decisions in {seeded:.1f} s: {ended}", flush=True)
        if args.hold:
            print(f"AWS_ENDPOINT_URL={endpoint}", flush=True)
            _hold()
            return
        runs = []
        with tempfile.TemporaryDirectory() as folder:
            for run in range(args.runs):
                out = Path(folder) / f"report-{run}.html"
                started, cpu, served = time.perf_counter(), _children_cpu(), _cpu_of(emulator.pid)
                env = os.environ | ENV | {"AWS_ENDPOINT_URL": endpoint, "CLOUDTHRIFT_LOG_FORMAT": "json"}
                subprocess.run(
                    [cloudthrift, "report", "--out", str(out)], check=True, env=env, stdout=subprocess.DEVNULL
                )
                command = time.perf_counter() - started
                cpu = {
                    "command_cpu_s": _children_cpu() - cpu,
                    "emulator_cpu_s": _cpu_of(emulator.pid) - served,
                }
                parts = asyncio.run(measure_in_process(endpoint))
                runs.append({"command_s": command, **cpu, **parts, "load_1min": os.getloadavg()[0]})
                print(json.dumps({k: round(v, 2) for k, v in runs[-1].items()}), flush=True)
        summary = {
            "decisions": args.decisions,
            "seed_s": round(seeded, 1),
            "moto_as_shipped": args.moto_as_shipped,
            **{f"median_{k}": round(statistics.median(r[k] for r in runs), 2) for k in runs[0]},
            "runs": runs,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        results = ROOT / "bench" / "results"
        results.mkdir(exist_ok=True)
        with (results / "report_ledger.jsonl").open("a") as log:
            log.write(json.dumps(summary) + "\n")
        print(json.dumps({k: v for k, v in summary.items() if k != "runs"}))
    finally:
        emulator.terminate()
        try:
            emulator.wait(timeout=10)
        except subprocess.TimeoutExpired:  # busy past SIGTERM on a loaded machine
            emulator.kill()
            emulator.wait()


def _children_cpu() -> float:
    """CPU seconds of the finished child processes (the command): what the machine's load does not add."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_of(pid: int) -> float:
    """CPU seconds a running process (the emulator) has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hold() -> None:
    try:
        while True:
            time.sleep(60)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
