"""One organization scan by CloudThrift in its own process: the organization bench's measured unit.

It runs what a scanner task runs, the scanner worker on the scan queue (`run_workers` with the
scanner's `WorkerSpec`: its consumer, handler, publisher), and puts one organization ScanRequested on
that queue, as the EventBridge schedule does. The scanner fans it out into one request per member
account and region onto the same queue, then scans them, `CLOUDTHRIFT_MAX_CONCURRENCY` at a time,
publishing each one's ResourceFound events to the analyze queue. The process stops the worker once the
handler has returned for the organization request and every fanned-out one (`--expect`), which lets the
consumer finish publishing and deleting what is in flight, and prints one JSON line: what was found, by
kind, and the phases' wall and CPU.

The handler is the scanner's own; the wrapper around it only counts what it returned.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

from services.scanner.main import WORKER
from shared.config import load_settings
from shared.events import Envelope, OrganizationScope, Payload, ResourceFound, ScanRequested
from shared.logs import configure_logging
from shared.worker import Runtime, open_runtime, run_workers


async def scan_organization(expect: int, exclude: tuple[str, ...]) -> dict[str, Any]:
    settings = load_settings(env_file=None)
    configure_logging("json", settings.cloudthrift_log_level)
    opened = (time.perf_counter(), time.process_time())
    done = asyncio.Event()
    handled = 0
    found: Counter[str] = Counter()

    @contextlib.asynccontextmanager
    async def counting(runtime: Runtime) -> AsyncIterator[Any]:
        async with WORKER.build(runtime) as handle:

            async def counted(event: Envelope[Any]) -> Sequence[Payload]:
                nonlocal handled
                outputs = await handle(event)
                found.update(o.finding.kind for o in outputs if isinstance(o, ResourceFound))
                handled += 1
                if handled >= expect:
                    done.set()
                return outputs

            yield counted

    async with open_runtime(settings) as runtime:
        started = (time.perf_counter(), time.process_time())
        request = ScanRequested(
            organization=OrganizationScope(exclude_accounts=exclude), requested_by="bench"
        )
        await runtime.publisher.publish(runtime.queues["scan"].url, [request])
        await run_workers(runtime, [replace(WORKER, build=counting)], stop=done)
        ended = (time.perf_counter(), time.process_time())
    return {
        "scan_id": request.scan_id,
        "handled": handled,
        "by_kind": dict(found),
        "phases": {
            "open": {"wall_s": round(started[0] - opened[0], 3), "cpu_s": round(started[1] - opened[1], 3)},
            "scan": {"wall_s": round(ended[0] - started[0], 3), "cpu_s": round(ended[1] - started[1], 3)},
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expect", type=int, required=True, help="Handler calls: 1 + accounts x regions.")
    parser.add_argument("--exclude", action="append", default=[], help="Account id not to scan.")
    args = parser.parse_args(argv)
    startup_cpu = time.process_time()
    result = asyncio.run(scan_organization(args.expect, tuple(args.exclude)))
    result["startup_cpu_s"] = round(startup_cpu, 3)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
