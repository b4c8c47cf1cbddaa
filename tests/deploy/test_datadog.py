"""terraform/datadog: the monitors the issue asks for exist, and every metric a monitor or the dashboard
queries is one the code really sends, with tags it really sets.

The metric names the code sends are read from its source (shared/ and services/): the first argument
of every `gauge`/`increment`/`distribution`/`histogram` call, and the names a loop feeds to such a call.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Any

import pytest

from shared.ledger import State
from tests.deploy.terraform_model import ROOT, TERRAFORM, parse

DATADOG = TERRAFORM / "datadog"
METRIC_CALLS = {"gauge", "increment", "decrement", "distribution", "histogram", "timing"}
STANDARD_TAGS = {"env", "service", "version"}  # set on every metric by shared/telemetry
# metric{scope} by {tags}; the scope may hold Terraform interpolations such as ${local.env_scope}.
_METRIC = re.compile(r"\b(cloudthrift\.[a-z0-9_.]+)\{((?:\$\{[^}]*\}|[^}])*)\}(?:\s*by\s*\{([^}]*)\})?")


def _metric_call(node: ast.AST) -> ast.expr | None:
    """The name argument of a metrics call (`metrics.gauge("x", ...)`), or None for anything else."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    if node.func.attr not in METRIC_CALLS:
        return None
    if node.args:
        return node.args[0]
    return next((k.value for k in node.keywords if k.arg in {"name", "metric"}), None)


def emitted_in(source: str) -> set[str]:
    names: set[str] = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        argument = _metric_call(node)
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            names.add(argument.value)
        if isinstance(node, ast.For):
            targets = {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
            fed = any(
                isinstance(arg := _metric_call(inner), ast.Name) and arg.id in targets
                for statement in node.body
                for inner in ast.walk(statement)
            )
            if fed:
                names |= {
                    c.value
                    for c in ast.walk(node.iter)
                    if isinstance(c, ast.Constant)
                    and isinstance(c.value, str)
                    and c.value.startswith("cloudthrift.")
                }
    return names


@functools.cache
def emitted_metrics() -> frozenset[str]:
    found: set[str] = set()
    for package in ("shared", "services"):
        for path in sorted((ROOT / package).rglob("*.py")):
            found |= emitted_in(path.read_text())
    return frozenset(name for name in found if name.startswith("cloudthrift."))


@functools.cache
def documented_tags() -> dict[str, set[str]]:
    """Metric name → the tags shared/telemetry/__init__.py documents for it (its table)."""
    import shared.telemetry

    table: dict[str, set[str]] = {}
    for line in (shared.telemetry.__doc__ or "").splitlines():
        match = re.match(r"\s+(cloudthrift\.[a-z0-9_.]+)\s+(gauge|count|distribution)\s+(.*)$", line)
        if match:  # "kind, region, account_id; 0 for clean combos", "decision (approved|...), via, kind"
            listed = re.sub(r"\([^)]*\)", "", match.group(3).split(";")[0])
            items = (item.split(":")[0].strip() for item in listed.split(","))
            table[match.group(1)] = {item for item in items if re.fullmatch(r"[a-z_]+", item)} | STANDARD_TAGS
    return table


def queries(directory: Path, *files: str) -> list[tuple[str, str]]:
    """(where, query text) for every metric query string in the given .tf files."""
    found = []
    for name in files:
        text = (directory / name).read_text()
        for match in re.finditer(r'query\s*=\s*"((?:[^"\\]|\\.)*)"', text):
            found.append((name, match.group(1)))
        for key, value in re.findall(r"^\s*(real_saved|waste)\s*=\s*\"(.*)\"$", text, re.M):
            found.append((f"{name}:{key}", value))
    return found


@pytest.fixture(scope="module")
def monitors() -> dict[str, dict[str, Any]]:
    parsed = parse(DATADOG / "monitors.tf")
    return {
        name: body
        for block in parsed["resource"]
        for type_name, named in block.items()
        if type_name == "datadog_monitor"
        for name, body in named.items()
    }


# --- the extraction itself ------------------------------------------------------------------------


def test_the_extractor_finds_literal_and_looped_metric_names() -> None:
    source = """
for url, name in ((a, "cloudthrift.queue.depth"), (b, "cloudthrift.dlq.depth")):
    metrics.gauge(name, 1, {"queue": q})
stage.metrics.distribution("cloudthrift.stage.latency", 0.1, tags)
log = logging.getLogger("cloudthrift.telemetry")
span.set_tag("cloudthrift.event_id", "x")
for name in ("cloudthrift.not.a.metric",):
    print(name)
"""
    assert emitted_in(source) == {
        "cloudthrift.queue.depth",
        "cloudthrift.dlq.depth",
        "cloudthrift.stage.latency",
    }


def test_the_code_sends_the_metrics_the_monitors_need() -> None:
    emitted = emitted_metrics()
    needed = {
        "cloudthrift.dlq.depth",
        "cloudthrift.approvals.pending_age_max",
        "cloudthrift.executions",
        "cloudthrift.scan.duration",
    }
    assert needed <= emitted, sorted(needed - emitted)


# --- the monitors ---------------------------------------------------------------------------------


def test_the_four_monitors_of_the_issue_exist(monitors: dict[str, dict[str, Any]]) -> None:
    by_metric = {
        metric: name for name, body in monitors.items() for metric, _, _ in _METRIC.findall(body["query"])
    }
    dlq = monitors[by_metric["cloudthrift.dlq.depth"]]
    assert dlq["query"].endswith("> 0") and "by {queue}" in dlq["query"]
    waiting = monitors[by_metric["cloudthrift.approvals.pending_age_max"]]
    assert "var.pending_approval_critical_hours * 3600" in waiting["query"]
    thresholds = waiting["monitor_thresholds"][0]
    assert thresholds["warning"] == "${var.pending_approval_warning_hours * 3600}"
    failed = monitors[by_metric["cloudthrift.executions"]]
    assert f"outcome:{State.FAILED.value.lower()}" in failed["query"], "the tag value the executor sends"
    assert ".as_count()" in failed["query"] and failed["query"].endswith("> 0")
    scan = monitors[by_metric["cloudthrift.scan.duration"]]
    assert "last_${var.scan_max_silence_hours}h" in scan["query"] and scan["query"].endswith("< 1")
    assert scan["notify_no_data"] is True, "no scan at all sends nothing: silence must alert"
    assert scan["no_data_timeframe"] == "${var.scan_max_silence_hours * 60}"
    for name, body in monitors.items():
        assert "${local.env_scope}" in body["query"], f"{name}: scope the monitor to one env"
        assert "${local.notify}" in body["message"], f"{name}: notify someone"


def test_the_default_silence_window_fits_the_default_schedule() -> None:
    variables = {n: b for block in parse(DATADOG / "variables.tf")["variable"] for n, b in block.items()}
    assert variables["scan_max_silence_hours"]["default"] == 26
    module = {
        n: b
        for block in parse(TERRAFORM / "modules/cloudthrift/variables.tf")["variable"]
        for n, b in block.items()
    }
    schedule = module["scan_schedule"]["default"]
    # cron(minutes hours day-of-month month day-of-week year): a daily run leaves no gap above 24 h.
    fields = schedule.removeprefix("cron(").removesuffix(")").split()
    assert len(fields) == 6 and fields[2] == "*" and fields[4] == "?", schedule


# --- every queried metric exists, with tags the code sets ----------------------------------------


@pytest.mark.parametrize("files", [("monitors.tf",), ("dashboard.tf",)], ids=["monitors", "dashboard"])
def test_every_queried_metric_is_sent_by_the_code_with_those_tags(files: tuple[str, ...]) -> None:
    found = queries(DATADOG, *files)
    assert found
    emitted = emitted_metrics()
    documented = documented_tags()
    problems = []
    for where, query in found:
        matches = _METRIC.findall(query)
        if not matches:
            problems.append(f"{where}: no cloudthrift metric in {query!r}")
        for metric, scope, grouped in matches:
            if metric not in emitted:
                problems.append(f"{where}: {metric} is not sent by shared/ or services/")
                continue
            if metric not in documented:
                problems.append(f"{where}: {metric} is missing from shared/telemetry/__init__.py's table")
                continue
            tags = {t.split(":", 1)[0] for t in scope.split(",") if ":" in t}
            tags |= {t.strip() for t in (grouped or "").split(",") if t.strip()}
            unknown = tags - documented[metric]
            if unknown:
                problems.append(f"{where}: {metric} has no tag {sorted(unknown)}")
    assert not problems, "\n".join(problems)
