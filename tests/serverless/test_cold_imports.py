"""The interactions entry imports only what answers a cold click (no timing: which modules, not how long).

A cold container must answer within Discord's 3 s after its import; the deciding half, the kinds and
boto3's DynamoDB codec are loaded when the clicks queue's invocation opens the endpoint (bench/README.md)."""

from __future__ import annotations

import json
import subprocess
import sys

DEFERRED = ("boto3", "s3transfer", "shared.kinds", "services.notifier.decide", "shared.worker", "shared.undo")


def loaded_by(module: str) -> set[str]:
    script = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


def test_the_cold_entry_leaves_the_deciding_half_and_boto3_for_later() -> None:
    modules = loaded_by("services.serverless.interactions")
    assert "services.notifier.gate" in modules and "shared.aws" in modules
    assert "shared.undo_button" in modules  # an Undo click is recognised, and queued, cold too
    assert {name for name in DEFERRED if name in modules} == set()


def test_the_deciding_half_still_brings_what_it_needs() -> None:
    """The aiohttp endpoint and the warm path import the whole endpoint; the ledger's codec stays lazy
    until the ledger is used (shared/record.py)."""
    modules = loaded_by("services.notifier.interactions")
    assert {"services.notifier.decide", "shared.worker", "shared.undo"} <= modules
