"""Scanner vs Cloud Custodian: the same idle-resource scan of the same moto estate, measured side by side.

    .venv/bin/python bench/scan_vs_custodian.py [--runs N] [--warmup N] [--scale F] [--no-drain] [--no-repeat]

One moto server (a subprocess, so only the two scanners are measured) holds three regions of 1,000
EBS volumes and 100 Elastic IPs each (bench/scan_estate.py says the mix: 570 idle per region). Each
run starts one tool as a child process and reaps it with os.wait4, which gives that child's own
rusage: CPU seconds (user+sys), peak RSS (ru_maxrss), and the wall time around it. The tools run
alternately, and the order flips every run so neither always goes first. Every CloudThrift run gets a
fresh ledger and queues (its own CLOUDTHRIFT_PREFIX, bootstrapped before any timing), so each does the
same first-sighting work: every idle resource is recorded FOUND and published to the analyze queue.
Right after it, the scanner runs a second time on the same prefix ("repeat": the ledger already holds
every decision as FOUND, as on every scheduled scan after the first; FOUND is re-announced, and with no
analyzer here nothing ever leaves FOUND, so the repeat publishes every finding again).

While a CloudThrift run goes, a drainer (bench/scan_drain.py, its own process, not measured) consumes
that run's analyze queue as the analyzer would (receive 10, delete the batch, 1 s long poll; 4 such
loops, because on moto a receive costs the queue's depth per message too and one loop falls behind a
sequential publisher), so the queue stays short: moto's SQS makes every send cost the queue's whole
depth, which real SQS does not. `--no-drain` leaves the messages on the queue, as the first version of
this bench did.

Both tools must report exactly the seeded idle resources, and every finding CloudThrift published must
be accounted for (distinct messages consumed by the drainer, all with this run's scan id, plus what is
left on the queue; duplicate receives are counted once), or the bench fails.

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
TOOLS = ("cloudthrift", "cloudthrift-repeat", "custodian")
SCANNERS = ("cloudthrift", "cloudthrift-repeat")  # CloudThrift's two kinds of run, each against Custodian


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
    load_1m: float = 0.0  # the machine's 1-minute load average as the run started
    phases: dict[str, float] | None = None  # CloudThrift only: where its wall and CPU went
    drain: dict[str, float] | None = None  # CloudThrift with the drainer: what it consumed, its own CPU


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


def load_1m() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


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


class Drain:
    """bench/scan_drain.py consuming one analyze queue while a CloudThrift run publishes to it."""

    def __init__(self, endpoint: str, queue: str, logs: Path) -> None:
        command = [
            str(VENV_BIN / "python"),
            str(ROOT / "bench" / "scan_drain.py"),
            "--endpoint",
            endpoint,
            "--queue",
            queue,
        ]
        self._err = logs.with_suffix(".drain.err")
        with self._err.open("wb") as err:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=err)
        assert self.process.stdout is not None
        ready = self.process.stdout.readline()  # its client and queue URL are resolved: no start-up race
        if not ready.strip().startswith(b'{"ready"'):
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"drainer did not start; see {self._err}")

    def stop(self) -> dict:
        """SIGTERM: it takes what is still on the queue, prints its counts and exits."""
        assert self.process.stdout is not None
        self.process.terminate()
        output = self.process.stdout.read()
        _, status, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        if self.process.returncode != 0:
            raise RuntimeError(f"drainer exited {self.process.returncode}; see {self._err}")
        result = json.loads(output.decode().strip().splitlines()[-1])
        result["drainer_cpu_s"] = usage.ru_utime + usage.ru_stime
        return result

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def run_cloudthrift(
    run: int, prefix: str, moto: MotoServer, out: Path, *, repeat: bool, drain: bool, queued_before: int
) -> Measurement:
    """One scanner run; `queued_before` is what the queue already holds (undrained repeat runs only)."""
    tool = "cloudthrift-repeat" if repeat else "cloudthrift"
    command = [str(VENV_BIN / "python"), str(ROOT / "bench" / "scan_once.py")]
    for region in REGIONS:
        command += ["--region", region]
    logs = out / f"{tool}-{run}"
    queue = f"{prefix}-analyze"
    drainer = Drain(moto.endpoint, queue, logs) if drain else None
    load = load_1m()
    try:
        figures = measure(command, cloudthrift_env(moto.endpoint, prefix), logs, moto)
        drained = drainer.stop() if drainer else None
    finally:
        if drainer:
            drainer.kill()
    result = json.loads(logs.with_suffix(".out").read_text().strip().splitlines()[-1])
    published = int(result["published"])
    found = {kind: int(count) for kind, count in result["by_kind"].items()}
    on_queue = estate("depth", "--endpoint", moto.endpoint, "--queue", queue)["depth"]
    summary = None
    if drained is None:
        if on_queue != queued_before + published:
            raise RuntimeError(
                f"{tool} run {run}: scanner returned {published} findings onto a queue holding "
                f"{queued_before}, but the queue holds {on_queue}"
            )
    else:
        # Duplicates are not failures: SQS delivers at least once, and moto's ReceiveMessage is not
        # atomic across concurrent receivers. What must hold is that every distinct message is ours.
        problems = {k: drained[k] for k in ("unparsed", "failed_deletes") if drained[k]}
        ours = drained["by_scan"].get(result["scan_id"], 0)
        if problems or drained["consumed"] + on_queue != published or ours != drained["consumed"]:
            raise RuntimeError(
                f"{tool} run {run}: scanner returned {published} findings (scan {result['scan_id']}); "
                f"drainer consumed {drained['consumed']} ({ours} of this scan, by scan "
                f"{drained['by_scan']}), {on_queue} left on the queue, problems {problems}"
            )
        if on_queue == 0 and drained["by_kind"] != found:
            raise RuntimeError(f"{tool} run {run}: drained {drained['by_kind']}, scanner found {found}")
        summary = {
            "consumed": drained["consumed"],
            "left_on_queue": on_queue,
            # what the scanner had published but the drainer not yet taken when the scanner exited
            "behind_at_exit": published - drained["consumed_at_stop"],
            "tail_s": drained["tail_s"],
            "receives": drained["receives"],
            "duplicates": drained["duplicates"],
            "drainer_cpu_s": drained["drainer_cpu_s"],
        }
    phases = {"startup_cpu_s": float(result["startup_cpu_s"])}
    for phase, spent in result["phases"].items():
        phases |= {f"{phase}_wall_s": spent["wall_s"], f"{phase}_cpu_s": spent["cpu_s"]}
    return Measurement(tool=tool, run=run, found=found, phases=phases, drain=summary, load_1m=load, **figures)


def run_custodian(run: int, custodian: Path, policies: Path, moto: MotoServer, out: Path) -> Measurement:
    output_dir = out / f"custodian-{run}"
    command = custodian_command(custodian, policies, output_dir, REGIONS)
    load = load_1m()
    figures = measure(command, base_env(moto.endpoint), out / f"custodian-{run}", moto)
    found = count_found(output_dir, REGIONS)
    return Measurement(tool="custodian", run=run, found=found, load_1m=load, **figures)


def summarise(measurements: Sequence[Measurement]) -> dict[str, dict[str, float]]:
    metrics = ("wall_s", "cpu_s", "user_s", "sys_s", "peak_rss_mib", "moto_cpu_s", "load_1m")
    tools = [tool for tool in TOOLS if any(x.tool == tool for x in measurements)]
    medians = {
        tool: {m: statistics.median(getattr(x, m) for x in measurements if x.tool == tool) for m in metrics}
        for tool in tools
    }
    for tool in SCANNERS:
        if tool not in tools:
            continue
        medians[f"{tool}/custodian"] = {m: medians[tool][m] / medians["custodian"][m] for m in metrics[:-1]}
        phased = [x.phases for x in measurements if x.tool == tool and x.phases]
        medians[f"{tool}_phases"] = {k: statistics.median(p[k] for p in phased) for k in phased[0]}
        drained = [x.drain for x in measurements if x.tool == tool and x.drain]
        if drained:
            medians[f"{tool}_drain"] = {k: statistics.median(d[k] for d in drained) for k in drained[0]}
    return medians


def render(summary: Mapping[str, Mapping[str, float]], meta: Mapping[str, object]) -> str:
    rows = [
        ("wall seconds", "wall_s"),
        ("CPU seconds (user+sys)", "cpu_s"),
        ("  user", "user_s"),
        ("  sys", "sys_s"),
        ("peak RSS MiB", "peak_rss_mib"),
        ("moto server CPU seconds", "moto_cpu_s"),
        ("1-min load average at start", "load_1m"),
    ]
    scanners = [tool for tool in SCANNERS if tool in summary]
    title = {"cloudthrift": "CloudThrift first sighting", "cloudthrift-repeat": "CloudThrift repeat"}
    mode = "drained" if meta["drain"] else "undrained (--no-drain)"
    lines = [
        f"{meta['date']} · {meta['cpus']} cores · Python {meta['python']} · {meta['runs']} runs each "
        f"(+{meta['warmup']} warm-up) · {meta['idle_expected']} idle of {meta['resources']} resources · "
        f"analyze queue {mode} · load average {meta['load_avg_start']} at start, "
        f"{meta['load_avg_end']} at end",
        "",
        "| median of runs | "
        + " | ".join(title[t] for t in scanners)
        + " | Cloud Custodian | "
        + " | ".join(f"{title[t]} / Custodian" for t in scanners)
        + " |",
        "| --- |" + " ---: |" * (2 * len(scanners) + 1),
    ]
    for label, key in rows:
        cells = [f"{summary[t][key]:.2f}" for t in (*scanners, "custodian")]
        cells += ["" if key == "load_1m" else f"{summary[f'{t}/custodian'][key]:.2f}" for t in scanners]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| CloudThrift process, median | "
        + " | ".join(f"{title[t]} wall s | CPU s" for t in scanners)
        + " |",
        "| --- |" + " ---: |" * (2 * len(scanners)),
        "| interpreter start-up and imports | "
        + " | ".join(f" | {summary[f'{t}_phases']['startup_cpu_s']:.2f}" for t in scanners)
        + " |",
    ]
    for phase, label in (
        ("open", "open_runtime + handler (clients, queue URLs)"),
        ("scan", "handle_scan (list, price, ledger)"),
        ("publish", "publish ResourceFound (SendMessageBatch)"),
    ):
        spent = [summary[f"{t}_phases"] for t in scanners]
        cells = [f"{p[phase + '_wall_s']:.2f} | {p[phase + '_cpu_s']:.2f}" for p in spent]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if any(f"{t}_drain" in summary for t in scanners):
        lines += [
            "",
            "| drainer, median | " + " | ".join(title[t] for t in scanners) + " |",
            "| --- |" + " ---: |" * len(scanners),
        ]
        for label, key, digits in (
            ("messages consumed", "consumed", 0),
            ("not yet consumed when the scanner exited", "behind_at_exit", 0),
            ("duplicate receives (at-least-once; not counted twice)", "duplicates", 0),
            ("drainer CPU seconds (not in CloudThrift's)", "drainer_cpu_s", 2),
        ):
            cells = [f"{summary[f'{t}_drain'][key]:.{digits}f}" for t in scanners]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    for t in scanners:
        ratio = summary[f"{t}/custodian"]
        lines.append(
            f"{title[t]}: target CPU <= 0.5 x Custodian: {'met' if ratio['cpu_s'] <= 0.5 else 'MISSED'}; "
            f"wall <= 1 x Custodian: {'met' if ratio['wall_s'] <= 1.0 else 'MISSED'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CloudThrift scanner vs Cloud Custodian on one moto estate.")
    parser.add_argument("--runs", type=int, default=5, help="Measured runs of each tool (default 5).")
    parser.add_argument(
        "--warmup", type=int, default=1, help="Unmeasured runs of each tool first (default 1)."
    )
    parser.add_argument("--scale", type=float, default=1.0, help="Shrink the estate (a quick trial: 0.1).")
    parser.add_argument(
        "--no-drain",
        dest="drain",
        action="store_false",
        help="Leave the ResourceFound messages on the analyze queue (the first version of this bench; "
        "moto's SQS then makes publishing quadratic in the queue's depth).",
    )
    parser.add_argument(
        "--no-repeat",
        dest="repeat",
        action="store_false",
        help="Skip the second scanner run on each prefix (the steady-state scan).",
    )
    args = parser.parse_args(argv)
    load_start = Path("/proc/loadavg").read_text().split()[:3]

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
            scanner = ["cloudthrift", "cloudthrift-repeat"] if args.repeat else ["cloudthrift"]
            order = [*scanner, "custodian"] if run % 2 == 0 else ["custodian", *scanner]
            queued = 0  # on this run's analyze queue (stays there only with --no-drain)
            for tool in order:
                if tool == "custodian":
                    m = run_custodian(run, custodian, policies, moto, out)
                else:
                    m = run_cloudthrift(
                        run,
                        prefixes[run],
                        moto,
                        out,
                        repeat=tool == "cloudthrift-repeat",
                        drain=args.drain,
                        queued_before=queued,
                    )
                    queued += 0 if args.drain else sum(m.found.values())
                if m.found != expected_by_kind:  # every tool, every run: the same idle resources
                    raise RuntimeError(f"{tool} run {run} found {m.found} idle, seeded {expected_by_kind}")
                warm = " (warm-up)" if run < args.warmup else ""
                behind = f"  drainer behind {m.drain['behind_at_exit']:g} at exit" if m.drain else ""
                print(
                    f"run {run} {tool:<18} wall {m.wall_s:6.2f} s  cpu {m.cpu_s:6.2f} s  "
                    f"rss {m.peak_rss_mib:6.1f} MiB  found {sum(m.found.values())}  "
                    f"load {m.load_1m:.2f}{behind}{warm}",
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
        "drain": args.drain,
        "repeat": args.repeat,
        "load_avg_start": " ".join(load_start),
        "load_avg_end": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
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
