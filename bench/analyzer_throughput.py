"""Analyzer throughput: 1,000 findings through the handler, Gemini faked with a 300 ms answer.

    .venv/bin/python bench/analyzer_throughput.py [--findings 1000] [--latency 0.3] [--driver 32]

The measured process holds only the analyzer: the ledger is a moto server in a subprocess and the fake
Gemini (tests/fakes/gemini.py) is another subprocess, so peak RSS is the analyzer's own. Every finding
is distinct (no cache hit), shaped like the scanner's (real facts, cost lines and 7 tags), so prompts
are real-sized. The handler runs with the settings' defaults (GEMINI_MAX_CONCURRENCY=16); `--driver`
is how many messages are in flight at once, by default what the analyzer worker's consumer keeps
(`messages_in_flight`: twice the Gemini bound, so the bound, not the ledger, sets the pace).

Reported: findings/s; peak RSS (ru_maxrss); the share of wall time not explained by the fake's
latency, 1 - (N x latency / min(driver, gemini bound)) / wall; and tokens per finding as counted by
the fake (len(text)/4, Google's rule of thumb, not a real tokenizer), priced with the shipped table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# What the Dockerfile sets for every container, so the measured process starts as a deployed worker does
# (with it, shared/logs.py imports structlog without rich).
DEPLOYED_ENV = {"CLOUDTHRIFT_LOG_FORMAT": "json"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM our own child; moto's threaded server may ignore it with connections open: then kill."""
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextmanager
def moto_subprocess() -> Iterator[tuple[str, int]]:
    port = _free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        yield endpoint, proc.pid
    finally:
        _stop(proc)


@contextmanager
def fake_gemini_subprocess(latency: float) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.gemini", "--latency", str(latency)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("port "):
            raise RuntimeError(f"the fake Gemini did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        _stop(proc)


def _read(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.read()


def finding_at(index: int):
    """Finding number `index`, the same every time (seeded by its index): made when needed, not held."""
    from tests.analyzer.builders import volume

    rng = random.Random(index)
    teams, envs = ["payments", "search", "data", "platform", "ml"], ["prod", "staging", "dev", "test"]
    mix = [("gp3", 3000), ("gp2", None), ("io2", 16000), ("st1", None), ("sc1", None), ("io1", 4000)]
    volume_type, iops = mix[index % len(mix)]
    team = rng.choice(teams)
    return volume(
        f"vol-{index:017x}",
        volume_type=volume_type,
        iops=iops,
        size=rng.choice([50, 100, 200, 500, 1000, 2000]),
        name=f"{team}-{rng.choice(['db', 'cache', 'scratch', 'build', 'logs'])}-{index}",
        tags={
            "env": rng.choice(envs),
            "team": team,
            "owner": f"{team}-oncall@example.com",
            "cost-center": f"cc-{rng.randint(1000, 9999)}",
            "project": rng.choice(["checkout", "ranking", "etl", "warehouse"]),
            "created-by": "terraform",
        },
        source_snapshot_id=f"snap-{index:017x}" if index % 5 == 0 else None,
        idle_days=rng.randint(8, 200),
        age_days=rng.randint(200, 900),
        scan_id="bench",
    )


def _settings(endpoint: str, gemini_url: str = "http://127.0.0.1:9"):
    from shared.config import Settings

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        aws_endpoint_url=endpoint,
        gemini_api_key="fake-gemini-key",
        gemini_base_url=gemini_url,
        cloudthrift_log_level="warning",
    )


async def seed(endpoint: str, count: int) -> None:
    """Queues, table and `count` FOUND decisions, as the scanner leaves them (run in a child process)."""
    from shared.aws import AwsClients
    from shared.bootstrap import bootstrap
    from shared.ledger import Ledger
    from shared.logs import configure_logging

    configure_logging("json", "warning")
    settings = _settings(endpoint)
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
        ledger = Ledger(await aws.client("dynamodb"), settings.table_name)
        for start in range(0, count, 100):
            await ledger.create_many([finding_at(i) for i in range(start, min(count, start + 100))])


def _cpu_seconds(pid: int) -> float:
    """utime + stime of another process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(count: int, latency: float, driver: int | None) -> dict:
    # First, as in the worker's entry point (services/cli.py): shared.logs decides how structlog is imported.
    from shared.logs import configure_logging

    configure_logging("json", "warning")  # as a deployed worker logs: JSON lines, here only warnings
    from services.analyzer.costs import load_model_prices
    from services.analyzer.handler import handle_found
    from services.analyzer.main import analyzer_deps, messages_in_flight
    from shared.aws import AwsClients
    from shared.events import Envelope, ResourceFound
    from shared.ledger import Ledger

    with moto_subprocess() as (endpoint, moto_pid), fake_gemini_subprocess(latency) as gemini_url:
        seeding = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--seed", endpoint, "--findings", str(count), cwd=ROOT
        )
        if await seeding.wait() != 0:
            raise RuntimeError("seeding the ledger failed")
        settings = _settings(endpoint, gemini_url)
        driver = driver or messages_in_flight(settings)
        async with AwsClients(settings) as aws:
            ledger = Ledger(await aws.client("dynamodb"), settings.table_name)
            async with analyzer_deps(ledger, settings) as deps:
                gate = asyncio.Semaphore(driver)
                latencies: list[float] = []
                sources: set[str] = set()

                async def one(index: int) -> None:
                    try:
                        event = Envelope.wrap(ResourceFound(finding=finding_at(index)))
                        started = time.perf_counter()
                        (out,) = await handle_found(event, deps)
                        latencies.append(time.perf_counter() - started)
                        sources.add(out.analysis.source)
                    finally:
                        gate.release()

                rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                moto_cpu = _cpu_seconds(moto_pid)
                cpu, started = time.process_time(), time.perf_counter()
                tasks = set()
                for index in range(count):  # a bounded number in flight, as the Consumer does
                    await gate.acquire()
                    task = asyncio.create_task(one(index))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                await asyncio.gather(*tasks)
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
                moto_cpu = _cpu_seconds(moto_pid) - moto_cpu
        stats = json.loads(await asyncio.to_thread(_read, f"{gemini_url}/_fake/stats"))
    bound = min(driver, settings.gemini_max_concurrency)
    ideal = count * latency / bound
    tokens_in, tokens_out = stats["prompt_tokens"] / count, stats["output_tokens"] / count
    cost = load_model_prices().cost(settings.gemini_model, round(tokens_in * 1000), round(tokens_out * 1000))
    return {
        "findings": count,
        "latency_s": latency,
        "driver": driver,
        "gemini_max_concurrency": settings.gemini_max_concurrency,
        "wall_s": round(wall, 3),
        "findings_per_s": round(count / wall, 1),
        "ceiling_per_s": round(bound / latency, 1),
        "outside_latency_share": round(1 - ideal / wall, 3),
        "handler_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "analyzer_cpu_ms_per_finding": round(cpu / count * 1000, 2),
        "moto_cpu_ms_per_finding": round(moto_cpu / count * 1000, 2),
        "fake_cpu_ms_per_finding": round(stats["cpu_s"] / count * 1000, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_before_run_mib": round(rss_before, 1),
        "gemini_requests": stats["requests"],
        "gemini_sources": sorted(sources),
        "tokens_in_per_finding": round(tokens_in, 1),
        "tokens_out_per_finding": round(tokens_out, 1),
        "usd_per_1000_findings": str(cost),
        "model": settings.gemini_model,
        "fake_problems": stats["problems"][:3],
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--findings", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.3, help="the fake's answer delay, seconds")
    parser.add_argument(
        "--driver",
        type=int,
        default=None,
        help="messages in flight (default: what the analyzer worker keeps, 2 x GEMINI_MAX_CONCURRENCY)",
    )
    parser.add_argument("--seed", metavar="ENDPOINT", help=argparse.SUPPRESS)  # the seeding child
    args = parser.parse_args(argv)
    os.environ.update(CREDENTIALS)
    os.environ.update(DEPLOYED_ENV)
    os.environ.pop("AWS_PROFILE", None)
    sys.path.insert(0, str(ROOT))
    if args.seed:
        asyncio.run(seed(args.seed, args.findings))
        return 0
    result = asyncio.run(run(args.findings, args.latency, args.driver))
    result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
