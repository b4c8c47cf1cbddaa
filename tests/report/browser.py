"""Headless Chromium (Debian's package; .ci/run installs it), driven from its command line.

Every console message a page produces is logged by `--enable-logging=stderr --v=0` as a line with
`:CONSOLE`; the report has no script, and its Content-Security-Policy turns any attempt to load
something from outside into such a message, so a clean report logs none.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)


def chromium() -> str:
    """The browser, or a skip on a developer machine without it (CI installs it: there it must exist)."""
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run should have installed it")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


@dataclass(frozen=True)
class Visit:
    output: str
    console: list[str]


def visit(page: Path, profile: Path, *action: str) -> Visit:
    """Open `page` once with `action` (`--dump-dom`, `--screenshot=...`); its stdout and console lines."""
    profile.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *action, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return Visit(done.stdout, console)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height
