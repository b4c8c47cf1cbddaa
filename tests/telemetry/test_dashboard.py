"""The FinOps dashboard (terraform/datadog) is valid HCL and reads only metrics the code emits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2

import shared.telemetry

DASHBOARD = Path(__file__).resolve().parents[2] / "terraform" / "datadog"
METRIC = re.compile(r"\bcloudthrift\.[a-z_]+(?:\.[a-z_]+)*")


def _values(node: Any, key: str | None = None) -> Iterator[tuple[str | None, str]]:
    """Every string in the parsed HCL, with the attribute name it was assigned to."""
    if isinstance(node, dict):
        for name, value in node.items():
            yield from _values(value, name)
    elif isinstance(node, list):
        for item in node:
            yield from _values(item, key)
    elif isinstance(node, str):
        yield key, node.strip('"')


def _parsed() -> list[dict[str, Any]]:
    # The dashboard only: monitors.tf beside it has no template variables (tests/deploy/test_datadog.py).
    files = [DASHBOARD / "dashboard.tf"]
    return [hcl2.loads(path.read_text()) for path in files]


def _locals(parsed: list[dict[str, Any]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for document in parsed:
        for block in document.get("locals", []):
            found |= {name: value.strip('"') for name, value in block.items() if isinstance(value, str)}
    return found


def _resolve(text: str, local: dict[str, str]) -> str:
    for _ in range(5):  # locals may refer to locals
        text = re.sub(r"\$\{local\.(\w+)\}", lambda m: local[m.group(1)], text)
        text = re.sub(r"^local\.(\w+)$", lambda m: local[m.group(1)], text)
    return text


def test_the_dashboard_reads_only_documented_metrics_and_covers_what_the_issue_asks() -> None:
    parsed = _parsed()
    local = _locals(parsed)
    queries = [
        _resolve(value, local) for document in parsed for key, value in _values(document) if key == "query"
    ]
    used = {name for query in queries for name in METRIC.findall(query)}
    documented = set(METRIC.findall(shared.telemetry.__doc__ or ""))

    assert used <= documented, used - documented
    asked = {
        "cloudthrift.cost_avoided.monthly_usd",  # cost avoided over time
        "cloudthrift.scan.waste_monthly_usd",  # waste found vs cleaned
        "cloudthrift.approvals.pending",  # pending approvals...
        "cloudthrift.approvals.pending_age_max",  # ...and their age
        "cloudthrift.queue.lag",  # pipeline health
        "cloudthrift.stage.errors",
        "cloudthrift.dlq.depth",
    }
    assert asked <= used, asked - used


def test_every_query_is_scoped_by_the_env_template_variable() -> None:
    parsed = _parsed()
    local = _locals(parsed)
    queries = [
        _resolve(value, local) for document in parsed for key, value in _values(document) if key == "query"
    ]
    assert len(queries) >= 15
    unscoped = [query for query in queries if "$env" not in query]
    assert not unscoped
