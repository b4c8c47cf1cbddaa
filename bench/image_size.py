"""Installed size of the image's dependencies, without and with the `local` extra (moto).

No Docker engine is needed: what the Dockerfile's build stage installs into its virtualenv is the
project's dependencies pinned by constraints.txt (plus the extras of EXTRAS), so this installs the same
set with `pip install --target` into a temporary directory per variant and measures it. pip compiles
the .pyc files there as it does in the image; the Python base image, pip itself and the project's own
sources (a few hundred KiB) are not counted.

    .venv/bin/python bench/image_size.py            # production (no extra) vs EXTRAS=local

Prints one JSON line per variant and appends them to bench/results/image_size.jsonl.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
MIB = 1024 * 1024


def requirements(extras: tuple[str, ...]) -> list[str]:
    """What the Dockerfile's build stage installs for these extras (the same rule, from pyproject)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + [d for e in extras for d in project["optional-dependencies"][e]]


def disk_usage(directory: Path) -> tuple[int, int, int]:
    """(bytes on disk as `du` counts them, apparent bytes, files) under a directory."""
    on_disk = apparent = files = 0
    for path in directory.rglob("*"):
        stat = path.lstat()
        on_disk += stat.st_blocks * 512
        if path.is_file():
            apparent += stat.st_size
            files += 1
    return on_disk, apparent, files


def distributions(directory: Path) -> dict[str, int]:
    """Each installed distribution with the bytes on disk of the files its RECORD lists (.pyc included)."""
    sizes: dict[str, int] = {}
    for record in directory.glob("*.dist-info/RECORD"):
        paths = (directory / line.split(",", 1)[0] for line in record.read_text().splitlines())
        name = record.parent.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        sizes[name] = sum(path.lstat().st_blocks * 512 for path in paths if path.is_file())
    return sizes


@dataclass(frozen=True)
class Measured:
    extras: str
    python: str
    mib_on_disk: float
    mib_apparent: float
    files: int
    distributions: int
    largest: list[tuple[str, float]]
    install_seconds: float


def measure(extras: tuple[str, ...]) -> Measured:
    with tempfile.TemporaryDirectory(prefix="cloudthrift-image-") as tmp:
        target = Path(tmp) / "site-packages"
        listing = Path(tmp) / "requirements.txt"
        listing.write_text("\n".join(requirements(extras)) + "\n")
        started = time.monotonic()
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run(
            [
                *pip,
                "--only-binary=:all:",
                "--target",
                str(target),
                "--constraint",
                str(ROOT / "constraints.txt"),
                "--requirement",
                str(listing),
            ],
            check=True,
        )
        seconds = time.monotonic() - started
        on_disk, apparent, files = disk_usage(target)
        sizes = distributions(target)
        largest = sorted(sizes.items(), key=lambda item: -item[1])[:12]
        return Measured(
            extras=",".join(extras),
            python=".".join(map(str, sys.version_info[:2])),
            mib_on_disk=round(on_disk / MIB, 1),
            mib_apparent=round(apparent / MIB, 1),
            files=files,
            distributions=len(sizes),
            largest=[(name, round(size / MIB, 1)) for name, size in largest],
            install_seconds=round(seconds, 1),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", action="append", help="a variant to measure (repeat; '' = no extra)")
    args = parser.parse_args()
    variants = [tuple(e for e in v.split(",") if e) for v in (args.extras or ["", "local"])]
    RESULTS.mkdir(parents=True, exist_ok=True)
    measured = [measure(extras) for extras in variants]
    with (RESULTS / "image_size.jsonl").open("a") as out:
        for result in measured:
            line = json.dumps(asdict(result))
            print(line)
            out.write(line + "\n")
    if len(measured) == 2:
        small, large = measured
        saved = large.mib_on_disk - small.mib_on_disk
        print(
            f"without {large.extras!r}: {small.mib_on_disk} MiB, with: {large.mib_on_disk} MiB "
            f"({saved:.1f} MiB, {saved / large.mib_on_disk:.0%} less without it)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
