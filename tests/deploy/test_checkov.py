"""checkov over terraform/: no failed check, and every skipped one says why.

checkov cannot live in the project's virtualenv (it resolves to an old release there and downgrades
networkx and cryptography, PROTOCOLS.md F), so this test keeps it in its own under .venv-tools/,
installed on first use and reused afterwards (a stamp file records the pinned version). Runs that
start together share one install through a file lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.terraform_model import ROOT, TERRAFORM, tf_files

CHECKOV_VERSION = "3.3.30"
TOOLS = ROOT / ".venv-tools"
CHECKOV_VENV = TOOLS / "checkov"
STAMP = CHECKOV_VENV / ".cloudthrift-installed"
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def ensure_checkov() -> Path:
    """The checkov executable of the tool virtualenv, created or upgraded to the pin when needed."""
    TOOLS.mkdir(exist_ok=True)
    executable = CHECKOV_VENV / "bin" / "checkov"
    with (TOOLS / ".checkov.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if executable.exists() and STAMP.exists() and STAMP.read_text() == CHECKOV_VERSION:
            return executable
        venv.EnvBuilder(with_pip=True, clear=True).create(CHECKOV_VENV)
        subprocess.run(
            [
                str(CHECKOV_VENV / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
                f"checkov=={CHECKOV_VERSION}",
            ],
            check=True,
            timeout=540,
        )
        STAMP.write_text(CHECKOV_VERSION)
    return executable


def run_checkov(executable: Path) -> dict[str, Any]:
    # --skip-download: no call to Prisma Cloud for guidelines (there is no network but PyPI here).
    result = subprocess.run(
        [
            str(executable),
            "--directory",
            str(TERRAFORM),
            "--framework",
            "terraform",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LOG_LEVEL": "ERROR", "PYTHONWARNINGS": "ignore"},
        cwd=ROOT,
    )
    assert result.stdout.strip(), f"checkov printed nothing (exit {result.returncode}):\n{result.stderr}"
    report = json.loads(result.stdout)
    report["exit_code"] = result.returncode
    return report


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    return run_checkov(ensure_checkov())


@pytest.mark.timeout(900)  # the first run on a fresh machine installs checkov (about a minute)
def test_checkov_finds_no_failed_check(checkov_report: dict[str, Any]) -> None:
    assert checkov_report["check_type"] == "terraform"
    summary = checkov_report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in checkov_report["results"].get("failed_checks", [])
    ]
    assert failed == [], "\n".join(failed)
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] >= 50, "checkov saw the module through the complete example"
    assert summary["passed"] > 100
    assert checkov_report["exit_code"] == 0


@pytest.mark.timeout(900)
def test_every_skipped_check_is_explained(checkov_report: dict[str, Any]) -> None:
    skipped = checkov_report["results"].get("skipped_checks", [])
    assert skipped, "the tree has explained skips; none reported means checkov ignored the comments"
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) >= 20, f"{check['check_id']} on {check['resource']}: skip without a reason"


def test_every_skip_comment_names_a_check_and_a_reason() -> None:
    comments = [
        (path, match)
        for path in tf_files()
        for line in path.read_text().splitlines()
        if (match := SKIP_COMMENT.search(line))
    ]
    assert comments
    for path, match in comments:
        assert match.group(2) and len(match.group(2).strip()) >= 20, f"{path}: {match.group(0)}"


def test_checkov_stays_out_of_the_project_environment() -> None:
    project_site = Path(sys.prefix)
    assert not list(project_site.glob("lib/python*/site-packages/checkov")), (
        "checkov is installed in the project virtualenv: remove it (it downgrades shared packages)"
    )
