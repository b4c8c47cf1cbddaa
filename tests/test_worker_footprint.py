"""What a deployed worker process imports: each module it does not need is resident memory for its life.

Each check runs in a fresh interpreter, entered the way a container enters (`services.cli`, the
`cloudthrift` entry point), because what matters is what the first import of each library brings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDTHRIFT_")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_a_json_logging_worker_does_not_import_rich_and_the_cli_still_can() -> None:
    """structlog imports rich (5 MiB) for console tracebacks; a container logs JSON (the Dockerfile's env)."""
    done = python(
        """
import sys
import services.cli
from services.workers import available_workers
available_workers()["analyzer"]
import services.analyzer.gemini
print(sorted(m for m in sys.modules if m == "rich" or m.startswith("rich.")))
from shared.logs import configure_logging
import structlog
configure_logging("json", "info")
try:
    1 / 0
except ZeroDivisionError:
    structlog.get_logger("t").exception("worker.failed")
from rich.console import Console  # the CLI's tables and printed cards still have rich
print(Console.__name__)
""",
        CLOUDTHRIFT_LOG_FORMAT="json",
    )
    rich_modules, console = done.stdout.split("\n")[:2]
    assert rich_modules == "[]"
    assert console == "Console"
    (line,) = [json.loads(text) for text in done.stderr.splitlines() if text.startswith("{")]
    assert line["event"] == "worker.failed"
    assert line["exception"][0]["exc_type"] == "ZeroDivisionError"  # tracebacks stay structured


def test_a_console_process_prints_plain_tracebacks_without_importing_rich() -> None:
    """rich's traceback renderer cost every command ~60 ms of start-up (the `approve` budget): a
    console process prints Python's own traceback instead, and nothing in a CLI command's start-up
    imports rich until it prints a table."""
    done = python(
        """
import sys
import services.cli
import structlog
from shared.logs import configure_logging
configure_logging("console", "info")
print(sorted(m for m in sys.modules if m == "rich" or m.startswith("rich.")))
try:
    1 / 0
except ZeroDivisionError:
    structlog.get_logger("t").exception("command.failed")
"""
    )
    assert done.stdout.split("\n")[0] == "[]"
    assert "command.failed" in done.stderr
    assert "Traceback (most recent call last)" in done.stderr  # the plain one, not rich's box
    assert "ZeroDivisionError: division by zero" in done.stderr


def test_a_worker_process_imports_only_its_own_stage() -> None:
    done = python(
        """
import sys
from services.workers import available_workers
workers = available_workers()
print(sorted(workers), "scanner" in workers, "janitor" in workers)
spec = workers["analyzer"]
print(spec.name, sorted(m for m in sys.modules if m.startswith("services.") and m.endswith(".main")))
"""
    )
    names, analyzer = done.stdout.splitlines()
    assert names == "['analyzer', 'executor', 'notifier', 'scanner'] True False"
    assert analyzer == "analyzer ['services.analyzer.main']"


def test_containers_are_started_json_only() -> None:
    """The saving above depends on the variable being in the process's environment from the start."""
    assert re.search(r"^\s*CLOUDTHRIFT_LOG_FORMAT=json\b", (ROOT / "Dockerfile").read_text(), re.M)
    terraform = (ROOT / "terraform/modules/cloudthrift/main.tf").read_text()
    assert re.search(r'^\s*CLOUDTHRIFT_LOG_FORMAT\s*=\s*"json"', terraform, re.M)
