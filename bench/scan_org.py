"""CloudThrift's organization scan vs c7n-org at AWS-like latency: 20 member accounts x 4 regions of the
emulator's organization, behind the delaying proxy of bench/scan_latency.py, side by side.

    .venv/bin/python bench/scan_org.py [--runs N] [--warmup N] [--accounts 20] [--idle 16]

The embedded AWS and the proxy are bench/scan_latency.py's (their own processes, not measured). The
estate (bench/scan_org_estate.py, seeded straight into the emulator, not timed): an organization whose
management account is the emulator's default one, `--accounts` member accounts, and in each member
account and region `--idle` idle resources (7 in 8 unattached volumes, the rest unassociated Elastic
IPs). Both tools reach the member accounts through the same role, `cloudthrift-scan`, assumed with STS.

- c7n-org 0.6.52 (with c7n 0.9.53, in .venv-tools/c7n): `c7n-org run` with an accounts file listing the
  same member accounts (id, name, role, the 4 regions), the same two policies as the single-account
  bench, `--cache-period 0`, and its default parallelism (a process pool of 4 x CPUs workers, one job
  per account and region).
- CloudThrift: bench/scan_org_once.py, the scanner worker on the scan queue given one organization
  ScanRequested (management account excluded): it lists the organization's accounts, probes each
  (AssumeRole, DescribeRegions), fans out one request per account and region onto the scan queue and
  scans them, CLOUDTHRIFT_MAX_CONCURRENCY (10) at a time, publishing every finding to the analyze
  queue, which a drainer consumes as the analyzer would. Long polls of 1 s (not 20) so that the
  process can stop as soon as the last scan is published: a deployed scanner task keeps running.

Each tool is a child process reaped with os.wait4 (CPU: its own and its reaped children's, which for
c7n-org includes every pool worker; ru_maxrss: the largest single process). Because c7n-org runs 9
processes, the peak of the summed RSS of the child's whole process tree is sampled every 50 ms from
/proc as well, and that is the RSS compared. Both must report exactly the seeded idle resources.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import scan_vs_custodian as base
from scan_custodian import KIND_OF_POLICY, ensure_c7n_org, write_policies
from scan_latency import DELAYS, LatencyAws

ROOT = Path(__file__).resolve().parent.parent
VENV_PY = ROOT / ".venv" / "bin" / "python"
REGIONS = ("us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2")  # 10, 70, 95 and 230 ms
HOME_ACCOUNT = "123456789012"  # the emulator's default account: the organization's management account
ROLE = "cloudthrift-scan"


def tree_rss_kib(root: int) -> int:
    """Summed VmRSS of `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def measure(command: Sequence[str], env: Mapping[str, str], logs: Path, aws: LatencyAws) -> dict[str, float]:
    """base.measure, plus the peak summed RSS of the child's process tree."""
    peak = 0
    aws_before = aws.cpu_seconds()
    with logs.with_suffix(".out").open("wb") as out, logs.with_suffix(".err").open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=dict(env), cwd=ROOT, stdout=out, stderr=err)
        finished = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not finished.wait(0.05):
                peak = max(peak, tree_rss_kib(child.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        finished.set()
        sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command[0]} failed; see {logs.with_suffix('.err')}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "max_process_rss_mib": usage.ru_maxrss / 1024,
        "tree_rss_mib": peak / 1024,
        "emulator_cpu_s": aws.cpu_seconds() - aws_before,
        "load_1m": base.load_1m(),
    }


def accounts_file(directory: Path, accounts: list[dict[str, str]]) -> Path:
    """c7n-org's accounts file: every member account, its role and the bench's regions (JSON is YAML)."""
    entries = [
        {
            "account_id": a["id"],
            "name": a["name"],
            "role": f"arn:aws:iam::{a['id']}:role/{ROLE}",
            "regions": list(REGIONS),
        }
        for a in accounts
    ]
    path = directory / "accounts.yml"
    path.write_text(json.dumps({"accounts": entries}, indent=1))
    return path


def c7n_org_found(output_dir: Path, accounts: list[dict[str, str]]) -> dict[str, int]:
    counts = dict.fromkeys(KIND_OF_POLICY.values(), 0)
    for account in accounts:
        for region in REGIONS:
            for policy, kind in KIND_OF_POLICY.items():
                path = output_dir / account["name"] / region / policy / "resources.json"
                if not path.exists():
                    raise RuntimeError(f"c7n-org wrote no {path}")
                counts[kind] += len(json.loads(path.read_text()))
    return counts


def run_c7n_org(run: int, c7n_org: Path, accounts: Path, policies: Path, aws: LatencyAws, out: Path) -> dict:
    output_dir = out / f"c7n-org-{run}"
    command = [str(c7n_org), "run", "-c", str(accounts), "-u", str(policies), "-s", str(output_dir)]
    command += ["--cache-period", "0"]
    figures = measure(command, base.base_env(aws.endpoint), out / f"c7n-org-{run}", aws)
    return figures | {"tool": "c7n-org", "run": run, "output_dir": str(output_dir)}


def run_cloudthrift(run: int, prefix: str, expect: int, aws: LatencyAws, out: Path) -> dict:
    env = base.cloudthrift_env(aws.endpoint, prefix) | {
        "CLOUDTHRIFT_KINDS": "ebs-volume,elastic-ip",
        "CLOUDTHRIFT_REGIONS": ",".join(REGIONS),
        "CLOUDTHRIFT_WAIT_TIME_SECONDS": "1",
        "DD_TRACE_ENABLED": "false",
        "DD_DOGSTATSD_DISABLE": "true",
    }
    command = [str(VENV_PY), str(ROOT / "bench" / "scan_org_once.py"), "--expect", str(expect)]
    command += ["--exclude", HOME_ACCOUNT]
    logs = out / f"cloudthrift-{run}"
    drainer = base.Drain(aws.endpoint, f"{prefix}-analyze", logs)
    try:
        figures = measure(command, env, logs, aws)
        drained = drainer.stop()
    finally:
        drainer.kill()
    result = json.loads(logs.with_suffix(".out").read_text().strip().splitlines()[-1])
    if result["handled"] != expect or drained["consumed"] != sum(result["by_kind"].values()):
        raise RuntimeError(
            f"cloudthrift run {run}: handled {result['handled']} of {expect}, drained {drained}"
        )
    return figures | {
        "tool": "cloudthrift",
        "run": run,
        "found": result["by_kind"],
        "phases": result["phases"] | {"startup_cpu_s": result["startup_cpu_s"]},
        "drained": drained["consumed"],
        "drainer_cpu_s": drained["drainer_cpu_s"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--idle", type=int, default=16, help="Idle resources per account and region.")
    args = parser.parse_args(argv)
    load_start = Path("/proc/loadavg").read_text().split()[:3]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"scan_org-{stamp}"
    out.mkdir(parents=True)
    c7n_org = ensure_c7n_org(ROOT)
    policies = write_policies(out)
    runs = []
    with LatencyAws(out) as aws:
        seed = [str(VENV_PY), str(ROOT / "bench" / "scan_org_estate.py"), "--endpoint", aws.direct]
        seed += ["--accounts", str(args.accounts), "--regions", ",".join(REGIONS), "--idle", str(args.idle)]
        seeding = subprocess.run(
            seed,
            cwd=ROOT,
            env=base.base_env(aws.direct) | {"PYTHONPATH": str(ROOT / "bench")},
            check=True,
            capture_output=True,
            text=True,
        )
        estate = json.loads(seeding.stdout.strip().splitlines()[-1])
        members = estate["accounts"]
        idle = sum(n for regions in estate["idle"].values() for n in regions.values())
        print(f"seeded {idle} idle resources in {len(members)} accounts x {len(REGIONS)} regions", flush=True)
        accounts = accounts_file(out, members)
        expect = 1 + len(members) * len(REGIONS)
        for run in range(args.warmup + args.runs):
            prefix = f"org{run}{int(time.time()) % 100000}"
            base.bootstrap(aws.endpoint, prefix)
            order = ("cloudthrift", "c7n-org") if run % 2 == 0 else ("c7n-org", "cloudthrift")
            for tool in order:
                if tool == "cloudthrift":
                    m = run_cloudthrift(run, prefix, expect, aws, out)
                    found = m["found"]
                else:
                    m = run_c7n_org(run, c7n_org, accounts, policies, aws, out)
                    found = c7n_org_found(Path(m["output_dir"]), members)
                if sum(found.values()) != idle:
                    raise RuntimeError(f"{tool} run {run} found {found}, seeded {idle} idle")
                warm = " (warm-up)" if run < args.warmup else ""
                print(
                    f"run {run} {tool}: wall {m['wall_s']:.2f} s, CPU {m['cpu_s']:.2f} s, tree RSS "
                    f"{m['tree_rss_mib']:.0f} MiB, emulator CPU {m['emulator_cpu_s']:.2f} s, "
                    f"load {m['load_1m']:.2f}{warm}",
                    flush=True,
                )
                if not warm:
                    runs.append(m)
    keys = ("wall_s", "cpu_s", "tree_rss_mib", "max_process_rss_mib", "emulator_cpu_s", "load_1m")
    medians = {
        tool: {k: statistics.median(r[k] for r in runs if r["tool"] == tool) for k in keys}
        for tool in ("cloudthrift", "c7n-org")
    }
    meta = {
        "date": stamp,
        "accounts": len(members),
        "regions": list(REGIONS),
        "delays_ms": {region: round(DELAYS[region] * 1000) for region in REGIONS},
        "idle_expected": idle,
        "runs": args.runs,
        "warmup": args.warmup,
        "load_avg_start": " ".join(load_start),
        "load_avg_end": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }
    (out / "results.json").write_text(json.dumps({"meta": meta, "medians": medians, "runs": runs}, indent=2))
    print(json.dumps(meta))
    print("| median | CloudThrift | c7n-org | ratio | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    for label, key, target in (
        ("wall s", "wall_s", 0.5),
        ("CPU s", "cpu_s", None),
        ("RSS MiB, process tree", "tree_rss_mib", None),
        ("emulator CPU s", "emulator_cpu_s", None),
    ):
        ct, org = medians["cloudthrift"][key], medians["c7n-org"][key]
        verdict = "" if target is None else f"<= {target} {'met' if ct / org <= target else 'MISSED'}"
        print(f"| {label} | {ct:.2f} | {org:.2f} | {ct / org:.2f} | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
