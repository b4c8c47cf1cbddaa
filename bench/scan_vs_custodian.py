"""Scanner vs Cloud Custodian: the same idle-resource scan of the same moto estate, measured side by side.

    .venv/bin/python bench/scan_vs_custodian.py [--runs N] [--warmup N] [--scale F]

One moto server (a subprocess, so only the two scanners are measured) holds three regions of 1,000
EBS volumes and 100 Elastic IPs each (bench/scan_estate.py says the mix: 570 idle per region). Each
run starts one tool as a child process and reaps it with os.wait4, which gives that child's own
rusage: CPU seconds (user+sys), peak RSS (ru_maxrss), and the wall time around it. The tools run
alternately, and the order flips every run so neither always goes first. Every CloudThrift run gets a
fresh ledger and queues (its own CLOUDTHRIFT_PREFIX, bootstrapped before any timing), so each does the
same first-sighting work: every idle resource is recorded FOUND and published to the analyze queue.
Both tools must report exactly the seeded idle resources, or the bench fails.

Medians and CloudThrift/Custodian ratios are printed and written to bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from scan_custodian import count_found, custodian_command, ensure_custodian, write_policies
from scan_moto import REGIONS, MotoServer, aws_env

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
TOOLS = ("cloudthrift", "custodian")


@dataclass(frozen=True)
class Measurement:
    tool: str
    run: int
    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    peak_rss_mib: float
    found: dict[str, int]  # idle resources reported, by kind
    moto_cpu_s: float  # CPU the moto server spent answering this run (not the tool's own)
    phases: dict[str, float] | None = None  # CloudThrift only: where its wall and CPU went


def measure(command: Sequence[str], env: Mapping[str, str], logs: Path, moto: MotoServer) -> dict:
    """Run one child to completion; its own rusage comes from os.wait4 on its pid."""
    moto_before = moto.cpu_seconds()
    with (logs.with_suffix(".out")).open("wb") as out, (logs.with_suffix(".err")).open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=dict(env), cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{command[0]} exited {child.returncode}; see {logs.with_suffix('.err')}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # KiB on Linux
        "moto_cpu_s": moto.cpu_seconds() - moto_before,
    }


def base_env(endpoint: str) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "CLOUDTHRIFT_", "DD_", "PYTHON"))
    }
    return inherited | aws_env(endpoint)


def cloudthrift_env(endpoint: str, prefix: str) -> dict[str, str]:
    return base_env(endpoint) | {
        "CLOUDTHRIFT_PREFIX": prefix,
        "CLOUDTHRIFT_MIN_AGE_DAYS": "0",  # moto cannot backdate volumes made by another process
        "CLOUDTHRIFT_LOG_FORMAT": "json",
    }


def bootstrap(endpoint: str, prefix: str) -> None:
    subprocess.run(
        [str(VENV_BIN / "cloudthrift"), "bootstrap"],
        env=cloudthrift_env(endpoint, prefix),
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def estate(*args: str) -> dict:
    """bench/scan_estate.py in its own process (boto3 stays out of this one: see scan_moto.py)."""
    command = [str(VENV_BIN / "python"), str(ROOT / "bench" / "scan_estate.py"), *args]
    answer = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(answer.stdout.strip().splitlines()[-1])


def run_cloudthrift(run: int, prefix: str, moto: MotoServer, out: Path) -> Measurement:
    command = [str(VENV_BIN / "python"), str(ROOT / "bench" / "scan_once.py")]
    for region in REGIONS:
        command += ["--region", region]
    logs = out / f"cloudthrift-{run}"
    figures = measure(command, cloudthrift_env(moto.endpoint, prefix), logs, moto)
    result = json.loads(logs.with_suffix(".out").read_text().strip().splitlines()[-1])
    published = int(result["published"])
    found = {kind: int(count) for kind, count in result["by_kind"].items()}
    on_queue = estate("depth", "--endpoint", moto.endpoint, "--queue", f"{prefix}-analyze")["depth"]
    if on_queue != published:
        raise RuntimeError(
            f"run {run}: scanner returned {published} findings but {on_queue} reached the queue"
        )
    phases = {"startup_cpu_s": float(result["startup_cpu_s"])}
    for phase, spent in result["phases"].items():
        phases |= {f"{phase}_wall_s": spent["wall_s"], f"{phase}_cpu_s": spent["cpu_s"]}
    return Measurement(tool="cloudthrift", run=run, found=found, phases=phases, **figures)


def run_custodian(run: int, custodian: Path, policies: Path, moto: MotoServer, out: Path) -> Measurement:
    output_dir = out / f"custodian-{run}"
    command = custodian_command(custodian, policies, output_dir, REGIONS)
    figures = measure(command, base_env(moto.endpoint), out / f"custodian-{run}", moto)
    found = count_found(output_dir, REGIONS)
    return Measurement(tool="custodian", run=run, found=found, **figures)


def summarise(measurements: Sequence[Measurement]) -> dict[str, dict[str, float]]:
    metrics = ("wall_s", "cpu_s", "user_s", "sys_s", "peak_rss_mib", "moto_cpu_s")
    medians = {
        tool: {m: statistics.median(getattr(x, m) for x in measurements if x.tool == tool) for m in metrics}
        for tool in TOOLS
    }
    medians["ratio"] = {m: medians["cloudthrift"][m] / medians["custodian"][m] for m in metrics}
    phased = [x.phases for x in measurements if x.phases]
    medians["cloudthrift_phases"] = {k: statistics.median(p[k] for p in phased) for k in phased[0]}
    return medians


def render(summary: Mapping[str, Mapping[str, float]], meta: Mapping[str, object]) -> str:
    rows = [
        ("wall seconds", "wall_s"),
        ("CPU seconds (user+sys)", "cpu_s"),
        ("  user", "user_s"),
        ("  sys", "sys_s"),
        ("peak RSS MiB", "peak_rss_mib"),
        ("moto server CPU seconds", "moto_cpu_s"),
    ]
    lines = [
        f"{meta['date']} · {meta['cpus']} cores · Python {meta['python']} · {meta['runs']} runs each "
        f"(+{meta['warmup']} warm-up) · {meta['idle_expected']} idle of {meta['resources']} resources",
        "",
        "| median of runs | CloudThrift | Cloud Custodian | CloudThrift / Custodian |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, key in rows:
        ct, c7n, ratio = (summary[t][key] for t in ("cloudthrift", "custodian", "ratio"))
        lines.append(f"| {label} | {ct:.2f} | {c7n:.2f} | {ratio:.2f} |")
    phases = summary["cloudthrift_phases"]
    lines += [
        "",
        "| CloudThrift process, median | wall s | CPU s |",
        "| --- | ---: | ---: |",
        f"| interpreter start-up and imports | | {phases['startup_cpu_s']:.2f} |",
    ]
    for phase, label in (
        ("open", "open_runtime + handler (clients, queue URLs)"),
        ("scan", "handle_scan (list, price, ledger)"),
        ("publish", "publish ResourceFound (SendMessageBatch)"),
    ):
        lines.append(f"| {label} | {phases[phase + '_wall_s']:.2f} | {phases[phase + '_cpu_s']:.2f} |")
    cpu_ok = summary["ratio"]["cpu_s"] <= 0.5
    wall_ok = summary["ratio"]["wall_s"] <= 1.0
    lines += [
        "",
        f"target CPU <= 0.5 x Custodian: {'met' if cpu_ok else 'MISSED'}; "
        f"wall no worse: {'met' if wall_ok else 'MISSED'}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CloudThrift scanner vs Cloud Custodian on one moto estate.")
    parser.add_argument("--runs", type=int, default=5, help="Measured runs of each tool (default 5).")
    parser.add_argument(
        "--warmup", type=int, default=1, help="Unmeasured runs of each tool first (default 1)."
    )
    parser.add_argument("--scale", type=float, default=1.0, help="Shrink the estate (a quick trial: 0.1).")
    args = parser.parse_args(argv)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"scan_vs_custodian-{stamp}"
    out.mkdir(parents=True)
    custodian = ensure_custodian(ROOT)
    policies = write_policies(out)
    total = args.warmup + args.runs
    with MotoServer(VENV_BIN, out / "moto.log") as moto:
        started = time.monotonic()
        seeded = estate("seed", "--endpoint", moto.endpoint, "--scale", str(args.scale))
        idle_by_region, shape = seeded["idle_by_region"], seeded["shape"]
        expected_by_kind = {
            "ebs-volume": len(REGIONS)
            * (shape["volumes"] - shape["instances"] * (1 + shape["data_volumes_per_instance"])),
            "elastic-ip": len(REGIONS) * (shape["addresses"] - shape["associated_addresses"]),
        }
        expected = sum(idle_by_region.values())
        assert sum(expected_by_kind.values()) == expected, (expected_by_kind, idle_by_region)
        print(
            f"seeded {moto.endpoint}: {idle_by_region} idle ({time.monotonic() - started:.1f} s)", flush=True
        )
        prefixes = [f"bench{stamp[9:15]}r{run}" for run in range(total)]
        for prefix in prefixes:
            bootstrap(moto.endpoint, prefix)
        measurements: list[Measurement] = []
        for run in range(total):
            order = TOOLS if run % 2 == 0 else TOOLS[::-1]
            for tool in order:
                if tool == "cloudthrift":
                    m = run_cloudthrift(run, prefixes[run], moto, out)
                else:
                    m = run_custodian(run, custodian, policies, moto, out)
                if m.found != expected_by_kind:  # both tools, every run: the same idle resources
                    raise RuntimeError(f"{tool} run {run} found {m.found} idle, seeded {expected_by_kind}")
                warm = " (warm-up)" if run < args.warmup else ""
                print(
                    f"run {run} {tool:<11} wall {m.wall_s:6.2f} s  cpu {m.cpu_s:6.2f} s  "
                    f"rss {m.peak_rss_mib:6.1f} MiB  found {sum(m.found.values())}{warm}",
                    flush=True,
                )
                if not warm:
                    measurements.append(m)
    summary = summarise(measurements)
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.platform(),
        "runs": args.runs,
        "warmup": args.warmup,
        "regions": list(REGIONS),
        "shape_per_region": shape,
        "idle_expected": expected,
        "resources": len(REGIONS) * (shape["volumes"] + shape["addresses"]),
        # The floor under every child's ru_maxrss (see scan_moto.py): must stay far below both tools.
        "bench_parent_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    table = render(summary, meta)
    print("\n" + table)
    report = {"meta": meta, "medians": summary, "runs": [asdict(m) for m in measurements]}
    (out / "summary.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "summary.md").write_text(table + "\n")
    (ROOT / "bench" / "results" / "scan_vs_custodian-latest.md").write_text(table + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)}/", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
