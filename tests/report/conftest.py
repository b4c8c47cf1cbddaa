"""One ledger written by the real pipeline, and the reports and savings JSON made from it, per module.

Running the pipeline takes tens of seconds, so it runs once and the tests read what it produced; the
autouse reset of moto (tests/conftest.py) runs after this fixture, so each test still starts clean.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiobotocore.session import AioSession
from typer.testing import CliRunner

from services.cli import app
from shared.config import Settings
from tests.report.pipeline import Seeded, seed_by_pipeline


@dataclass(frozen=True)
class Built:
    seeded: Seeded
    savings: dict[str, Any]
    report: Path
    filtered: Path
    future: Path
    as_of: str


def _cli(*args: str) -> str:
    saved = structlog.get_config()  # the CLI points structlog at CliRunner's stderr, closed afterwards
    try:
        done = CliRunner().invoke(app, list(args))
    finally:
        structlog.configure(**saved)
    assert done.exit_code == 0, done.output
    return done.stdout


@pytest.fixture(scope="module")
def built(
    moto_endpoint: str, aws_session: AioSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    folder = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith(("CLOUDTHRIFT_", "DISCORD_", "GEMINI_", "GOOGLE_", "DD_")):
                env.delenv(name)
        env.setenv("AWS_ENDPOINT_URL", moto_endpoint)
        env.setenv("DD_TRACE_ENABLED", "false")
        env.setenv("DD_DOGSTATSD_DISABLE", "true")
        env.setenv("CLOUDTHRIFT_LOG_FORMAT", "json")
        env.chdir(folder)  # no stray .env is read
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            aws_endpoint_url=moto_endpoint,
            aws_region="us-east-1",
            cloudthrift_wait_time_seconds=1,
            cloudthrift_visibility_timeout=30,
            cloudthrift_drain_seconds=5,
            cloudthrift_aws_max_attempts=3,
            cloudthrift_log_format="json",
            cloudthrift_snapshot_wait_seconds=5,
        )
        seeded = asyncio.run(seed_by_pipeline(settings, aws_session))
        # One moment for both commands, so "cost avoided to date" is computed to the same instant.
        as_of = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
        savings = json.loads(_cli("savings", "--json", "--as-of", as_of))
        report, filtered, future = folder / "report.html", folder / "volumes.html", folder / "future.html"
        assert _cli("report", "--until", as_of, "--out", str(report)).strip() == str(report)
        _cli("report", "--kind", "ebs-volume", "--region", "us-east-1,eu-west-1", "--out", str(filtered))
        _cli("report", "--since", "2999-01-01", "--account", "123456789012", "--out", str(future))
    yield Built(seeded, savings, report, filtered, future, as_of)
