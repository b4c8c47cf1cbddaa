"""Scanner vs Cloud Custodian at AWS-like latency: 8 regions behind a proxy that delays each request by
its region's round trip, side by side, medians of N runs.

    .venv/bin/python bench/scan_latency.py [--runs N] [--warmup N] [--idle-per-region 320]

On moto every request is cheap in network time and dear in moto's CPU, which hides what concurrency
buys and punishes requests per finding. Here the embedded AWS (bench/aws_server.py: moto, DynamoDB
serialised, one table backup per transaction) runs in its own process, and both tools reach it only
through tests/fakes/aws_proxy.py, also its own process, which sleeps each request's region delay
(DELAYS below, read from the SigV4 credential scope) before forwarding it. The estate, seeded directly
(not through the proxy, not timed), is 320 idle resources per region (280 unattached volumes, 40
unassociated addresses) plus attached volumes and associated addresses that neither tool may report.

Everything else is bench/scan_vs_custodian.py's method, reused: each tool is a child process reaped
with os.wait4 (its own CPU and peak RSS), tools alternate, every CloudThrift run gets a fresh ledger
and queues, a drainer consumes the analyze queue as the analyzer would (through the proxy: the home
region's delay), and both tools must report exactly the seeded idle resources.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import scan_vs_custodian as base
from scan_custodian import ensure_custodian, write_policies
from scan_moto import free_port

ROOT = Path(__file__).resolve().parent.parent
VENV_PY = ROOT / ".venv" / "bin" / "python"

# One-way-ish request latency from a task in us-east-1 (the home region: queues and ledger) to each
# region's endpoints: typical inter-region round trips, from 10 ms at home to 230 ms for Sydney.
DELAYS = {
    "us-east-1": 0.010,
    "us-east-2": 0.020,
    "ca-central-1": 0.030,
    "us-west-2": 0.070,
    "eu-west-1": 0.080,
    "eu-central-1": 0.095,
    "ap-northeast-1": 0.160,
    "ap-southeast-2": 0.230,
}
REGIONS = tuple(DELAYS)


class LatencyAws:
    """The embedded AWS and the delaying proxy in front of it, as child processes.

    `endpoint` is the proxy (what the tools use); `direct` is the emulator (seeding, queue depth);
    `cpu_seconds()` is the emulator's CPU, as MotoServer's, so the bench's tables keep that column."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []

    def _start(self, command: list[str], name: str) -> str:
        err = (self._logs / f"{name}.log").open("wb")
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, env=self._env())
        self.processes.append(process)
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        if not line.startswith("http"):
            raise RuntimeError(f"{name} did not start; see {self._logs / f'{name}.log'}")
        return line

    @staticmethod
    def _env() -> dict[str, str]:
        return dict(os.environ) | {"PYTHONPATH": str(ROOT)}

    def __enter__(self) -> LatencyAws:
        self.direct = self._start(
            [str(VENV_PY), str(ROOT / "bench" / "aws_server.py"), str(free_port())], "aws"
        )
        proxy = [
            str(VENV_PY),
            "-m",
            "tests.fakes.aws_proxy",
            self.direct,
            str(free_port()),
            json.dumps(DELAYS),
        ]
        self.endpoint = self._start(proxy, "proxy")
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.processes[0].pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def shape(idle_per_region: int) -> dict[str, int]:
    """280 of 320 idle are volumes, 40 addresses (scaled alike); 10 attached volumes, 5 associated."""
    addresses = max(1, idle_per_region // 8)
    return {
        "volumes": idle_per_region - addresses + 10,
        "addresses": addresses + 5,
        "instances": 5,
        "data_volumes_per_instance": 1,
        "associated_addresses": 5,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--idle-per-region", type=int, default=320)
    args = parser.parse_args(argv)
    base.REGIONS = REGIONS  # the reused runners scan and check these regions
    # The kinds Custodian's policies cover (scan_custodian.py), so both tools do the same listing.
    cloudthrift_env = base.cloudthrift_env
    base.cloudthrift_env = lambda endpoint, prefix: (
        cloudthrift_env(endpoint, prefix)
        | {
            "CLOUDTHRIFT_KINDS": "ebs-volume,elastic-ip",
            "DD_TRACE_ENABLED": "false",  # no Datadog Agent here: never wait for one
            "DD_DOGSTATSD_DISABLE": "true",
        }
    )
    load_start = Path("/proc/loadavg").read_text().split()[:3]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"scan_latency-{stamp}"
    out.mkdir(parents=True)
    custodian = ensure_custodian(ROOT)
    policies = write_policies(out)
    measurements = []
    with LatencyAws(out) as aws:
        seeded = base.estate(
            "seed",
            "--endpoint",
            aws.direct,
            "--regions",
            ",".join(REGIONS),
            "--shape",
            json.dumps(shape(args.idle_per_region)),
        )
        idle = sum(seeded["idle_by_region"].values())
        print(f"seeded {idle} idle resources in {len(REGIONS)} regions", file=sys.stderr, flush=True)
        for run in range(args.warmup + args.runs):
            prefix = f"lat{run}{int(time.time()) % 100000}"
            base.bootstrap(aws.endpoint, prefix)
            order = ("cloudthrift", "custodian") if run % 2 == 0 else ("custodian", "cloudthrift")
            for tool in order:
                if tool == "cloudthrift":
                    m = base.run_cloudthrift(run, prefix, aws, out, repeat=False, drain=True, queued_before=0)  # type: ignore[arg-type]
                else:
                    m = base.run_custodian(run, custodian, policies, aws, out)  # type: ignore[arg-type]
                if sum(m.found.values()) != idle:
                    raise RuntimeError(f"{tool} run {run} found {m.found}, seeded {idle} idle")
                print(
                    f"run {run} {tool}: wall {m.wall_s:.2f} s, CPU {m.cpu_s:.2f} s, "
                    f"RSS {m.peak_rss_mib:.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
                if run >= args.warmup:
                    measurements.append(m)
    summary = base.summarise(measurements)
    meta = {
        "date": stamp,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "runs": args.runs,
        "warmup": args.warmup,
        "idle_expected": idle,
        "regions": list(REGIONS),
        "delays_ms": {region: round(delay * 1000) for region, delay in DELAYS.items()},
        "load_avg_start": " ".join(load_start),
        "load_avg_end": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }
    (out / "results.json").write_text(
        json.dumps({"meta": meta, "summary": summary, "runs": [asdict(m) for m in measurements]}, indent=2)
    )
    ct, c7n = summary["cloudthrift"], summary["custodian"]
    print(json.dumps(meta))
    print("| median | CloudThrift | Custodian | ratio | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    for label, key, target in (
        ("wall s", "wall_s", 0.5),
        ("CPU s", "cpu_s", 1.0),
        ("peak RSS MiB", "peak_rss_mib", 0.6),
    ):
        ratio = ct[key] / c7n[key]
        verdict = "met" if ratio <= target else "MISSED"
        print(f"| {label} | {ct[key]:.2f} | {c7n[key]:.2f} | {ratio:.2f} | <= {target} {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
