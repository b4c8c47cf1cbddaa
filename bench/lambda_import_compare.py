"""Cold import of the interactions entry from two Lambda zips, side by side, interleaved.

On a shared machine the load moves by the minute, so two separate runs of bench/lambda_cold_start.py
compare the load as much as the code. This unzips both artifacts and imports
`services.serverless.interactions` in fresh interpreters (`python3.11 -I -S`, the artifact only, as in
Lambda's /var/task), alternating A, B, A, B... so both see the same load. Prints the medians, the
ratio, the modules loaded by the import, and the 1-minute load average before and after.

    .venv/bin/python bench/lambda_import_compare.py BEFORE.zip AFTER.zip [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

CHILD = r"""
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import services.serverless.interactions
elapsed = time.perf_counter() - started
heavy = ("boto3", "shared.kinds", "services.notifier.decide", "shared.worker")
heavy = [m for m in heavy if m in sys.modules]
print(json.dumps({"import_s": elapsed, "modules": len(sys.modules), "heavy": heavy}))
"""


def one(python: str, task: Path) -> dict[str, object]:
    env = {"PATH": "/usr/bin:/bin", "DD_TRACE_ENABLED": "false", "CLOUDTHRIFT_LOG_FORMAT": "json"}
    done = subprocess.run(
        [python, "-I", "-S", "-c", CHILD, str(task)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("zips", nargs=2, type=Path)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--python", default=getattr(sys, "_base_executable", sys.executable))
    args = parser.parse_args()
    results: dict[str, list[dict[str, object]]] = {str(z): [] for z in args.zips}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cloudthrift-compare-") as tmp:
        tasks = []
        for index, archive in enumerate(args.zips):
            task = Path(tmp) / str(index)
            zipfile.ZipFile(archive).extractall(task)
            tasks.append((str(archive), task))
        for _ in range(args.runs):
            for name, task in tasks:
                results[name].append(one(args.python, task))
    summary = {
        "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "runs": args.runs,
    }
    medians = []
    for name, runs in results.items():
        median = statistics.median(float(r["import_s"]) for r in runs)  # type: ignore[arg-type]
        medians.append(median)
        summary[name] = {
            "import_s_median": round(median, 3),
            "import_s_all": [round(float(r["import_s"]), 3) for r in runs],  # type: ignore[arg-type]
            "modules": runs[0]["modules"],
            "heavy_modules_loaded": runs[0]["heavy"],
        }
    summary["ratio_b_over_a"] = round(medians[1] / medians[0], 2)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
