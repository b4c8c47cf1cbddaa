"""One complete CloudThrift scan in its own process: the benchmark's measured unit for the scanner.

It does what the scanner worker does for one message, and nothing else: build the Runtime from the
environment (as `cloudthrift worker scanner` does), build the handler from the scanner's `WORKER` spec,
hand it one ScanRequested for the regions given, and publish the ResourceFound events it returns to the
worker's output queue with the runtime's Publisher. It prints one JSON line with what it found, so the
bench can check that it agrees with Cloud Custodian.

Run by bench/scan_vs_custodian.py with AWS_ENDPOINT_URL, CLOUDTHRIFT_PREFIX (a fresh ledger per run)
and CLOUDTHRIFT_MIN_AGE_DAYS=0 (moto cannot backdate volumes created from another process).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import sys
import time

from services.scanner.main import WORKER
from shared.config import load_settings
from shared.events import Envelope, ScanRequested
from shared.logs import configure_logging
from shared.worker import open_runtime


async def scan_once(regions: tuple[str, ...]) -> dict[str, object]:
    settings = load_settings(env_file=None)
    configure_logging("json", settings.cloudthrift_log_level)
    marks = [(time.perf_counter(), time.process_time())]  # phase boundaries: (wall, CPU)
    async with open_runtime(settings) as runtime, WORKER.build(runtime) as handle:
        request = ScanRequested(regions=regions, requested_by="bench")
        marks.append((time.perf_counter(), time.process_time()))
        outputs = await handle(Envelope.wrap(request))
        marks.append((time.perf_counter(), time.process_time()))
        assert WORKER.output is not None
        await runtime.publisher.publish(runtime.queues[WORKER.output].url, outputs)
        marks.append((time.perf_counter(), time.process_time()))
    phases = {}
    for name, (start, end) in zip(("open", "scan", "publish"), itertools.pairwise(marks), strict=True):
        phases[name] = {"wall_s": round(end[0] - start[0], 3), "cpu_s": round(end[1] - start[1], 3)}
    return {
        "scan_id": request.scan_id,
        "published": len(outputs),
        "by_kind": _by_kind(outputs),
        "phases": phases,
    }


def _by_kind(outputs: list) -> dict[str, int]:  # type: ignore[type-arg]
    counts: dict[str, int] = {}
    for event in outputs:
        counts[event.finding.kind] = counts.get(event.finding.kind, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", action="append", required=True, help="Region to scan (repeatable).")
    parser.add_argument(
        "--profile", metavar="PATH", help="Write a cProfile of the scan to PATH (see --profile-clock)."
    )
    parser.add_argument(
        "--profile-clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: process time (where the CPU goes; inflates sys with a clock syscall per call); "
        "wall: where the waiting goes.",
    )
    args = parser.parse_args(argv)
    startup_cpu = time.process_time()  # interpreter start-up and every import above
    if args.profile:
        profiler = cProfile.Profile(time.process_time if args.profile_clock == "cpu" else time.perf_counter)
        result = profiler.runcall(asyncio.run, scan_once(tuple(args.region)))
        profiler.dump_stats(args.profile)
    else:
        result = asyncio.run(scan_once(tuple(args.region)))
    result["startup_cpu_s"] = round(startup_cpu, 3)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
