"""Log set-up: JSON lines with context, and no dependence on the stderr that existed at set-up time."""

from __future__ import annotations

import io
import json
import sys

import pytest
import structlog

from shared.logs import configure_logging


def test_logs_follow_stderr_when_it_is_replaced_after_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("json", "info")
    first.close()  # a CLI test runner closes its captured stream when the command ends
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    structlog.contextvars.bind_contextvars(scan_id="s-1")
    try:
        structlog.get_logger("t").info("scan.summary", regions=3)
    finally:
        structlog.contextvars.clear_contextvars()
    line = json.loads(second.getvalue())
    assert (line["event"], line["regions"], line["scan_id"], line["level"]) == (
        "scan.summary",
        3,
        "s-1",
        "info",
    )
    assert line["timestamp"].endswith("Z")
