"""Build the serverless mode's one artifact: a Lambda zip of the production wheel set and the project.

The same set the Dockerfile installs (pyproject's dependencies pinned by constraints.txt, no extra: no
moto, no test tools), plus shared/ and services/, for the python3.11 x86_64 runtime. Reproducible: the
.pyc files are compiled with unchecked hashes (no timestamps), and the zip lists its entries sorted,
each dated 1980-01-01 with mode 0644 (0755 for directories), so the same inputs give the same bytes and
the same SHA-256 (Terraform's source_code_hash): the compiled paths are /var/task's and the hash seed
is fixed. One zip serves every function (the handler picks).

    .venv/bin/python bench/lambda_package.py                    # build/lambda/cloudthrift-lambda.zip
    .venv/bin/python bench/lambda_package.py --out some.zip

Prints one JSON line (sizes, files, sha256) and appends it to bench/results/lambda_package.jsonl.
Lambda's limits: 50 MB zipped for a direct upload (larger goes through S3, as the Terraform module
does), 250 MB unzipped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEFAULT_OUT = ROOT / "build" / "lambda" / "cloudthrift-lambda.zip"
MIB = 1024 * 1024
LAMBDA_UNZIPPED_LIMIT = 250 * 1000 * 1000
EPOCH = (1980, 1, 1, 0, 0, 0)
# What a function never imports: the CLI's console scripts and packaging metadata stay (importlib
# reads dist-info for versions); tests shipped inside wheels do not.
_DROP_DIRS = {"tests", "__pycache__"}


def requirements() -> list[str]:
    """The Dockerfile's production rule: pyproject's dependencies, no extra."""
    return list(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


def install(target: Path) -> None:
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    listing = target.parent / "requirements.txt"
    listing.write_text("\n".join(requirements()) + "\n")
    subprocess.run(
        [*pip, "--target", str(target), "--constraint", str(ROOT / "constraints.txt"), "-r", str(listing)],
        check=True,
    )
    for package in ("shared", "services"):
        shutil.copytree(
            ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    for directory in sorted(target.rglob("*"), reverse=True):
        if directory.is_dir() and directory.name in _DROP_DIRS:
            shutil.rmtree(directory, ignore_errors=True)
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: no shell on Lambda
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            # The paths compiled in are Lambda's (/var/task), not this build's temporary directory.
            "-s",
            str(target),
            "-p",
            "/var/task",
            str(target),
        ],
        check=False,  # a wheel's deliberately invalid sample file must not stop the build
        # A fixed hash seed: frozensets in constants are marshalled in iteration order.
        env={**os.environ, "SOURCE_DATE_EPOCH": "315532800", "PYTHONHASHSEED": "0"},
    )


def write_zip(source: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = sorted(p for p in source.rglob("*") if p.is_file())
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in paths:
            info = zipfile.ZipInfo(str(path.relative_to(source)), date_time=EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def unzipped_bytes(archive: Path) -> tuple[int, int]:
    with zipfile.ZipFile(archive) as z:
        infos = z.infolist()
        return sum(i.file_size for i in infos), len(infos)


def build(out: Path) -> dict[str, object]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cloudthrift-lambda-") as tmp:
        target = Path(tmp) / "package"
        install(target)
        write_zip(target, out)
    unzipped, files = unzipped_bytes(out)
    return {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "zip": str(out.relative_to(ROOT) if out.is_relative_to(ROOT) else out),
        "zip_mib": round(out.stat().st_size / MIB, 1),
        "unzipped_mib": round(unzipped / MIB, 1),
        "unzipped_within_limit": unzipped < LAMBDA_UNZIPPED_LIMIT,
        "files": files,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "build_seconds": round(time.monotonic() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    result = build(args.out.resolve())
    line = json.dumps(result)
    print(line)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with (RESULTS / "lambda_package.jsonl").open("a") as handle:
        handle.write(line + "\n")
    return 0 if result["unzipped_within_limit"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
