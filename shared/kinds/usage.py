"""Usage numbers for checks that judge by CloudWatch metrics, read in bulk: never one call per resource.

GetMetricData takes up to 500 queries a call (paginated by NextToken); each query here asks for one
metric of one resource with a period as long as the whole window, so CloudWatch returns at most one
aggregated datapoint per query. What a missing datapoint means is the metric's own declaration
(`Metric.missing_means_zero`): zero traffic, or no data, in which case the usage is unknown and the
check does not call the resource idle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from shared.errors import SettingsError
from shared.kinds.base import Check, Clients, Metric, Observation, Usage

MAX_QUERIES = 500  # GetMetricData's limit per request
_HOUR = 3600
# CloudWatch keeps hourly datapoints 455 days: a longer window would read less than it says.
MAX_WINDOW_DAYS = 455


def all_checks() -> list[Check]:
    """One of every registered check (the kinds discovered)."""
    from shared.kinds import discover

    return [check() for _, kind in discover() for _, check in kind.checks]


def usage_window(check: Check, overrides: Mapping[str, float]) -> timedelta:
    """The window `check` reads usage over: the operator's (CLOUDTHRIFT_USAGE_WINDOW_DAYS, keyed
    `kind/check`) or the check's own. The scanner and the executor's re-check read the same one."""
    days = overrides.get(f"{check.kind.name}/{check.name}")
    return check.window if days is None else timedelta(days=days)


def checked_windows(overrides: Mapping[str, float], checks: Sequence[Check]) -> dict[str, float]:
    """CLOUDTHRIFT_USAGE_WINDOW_DAYS once checked: SettingsError for a key naming no usage check or a
    day count outside 1..455, at start-up, so a typo never silently leaves the default in place."""
    if problems := _window_problems(overrides, checks):
        raise SettingsError(f"invalid setting CLOUDTHRIFT_USAGE_WINDOW_DAYS: {'; '.join(problems)}")
    return dict(overrides)


def _window_problems(overrides: Mapping[str, float], checks: Sequence[Check]) -> list[str]:
    known = {f"{check.kind.name}/{check.name}" for check in checks if check.metrics}
    problems = [
        f"{key!r} is not a check judged by usage (known: {', '.join(sorted(known))})"
        for key in overrides
        if key not in known
    ]
    problems += [
        f"{key}: {days} days is outside 1..{MAX_WINDOW_DAYS}"
        for key, days in overrides.items()
        if not 1 <= days <= MAX_WINDOW_DAYS
    ]
    return problems


def window_period(window: timedelta) -> int:
    """One period for the whole window, rounded up to whole hours (CloudWatch wants multiples of
    3,600 s for data older than 15 days; a period longer than the window just covers it)."""
    seconds = int(window.total_seconds())
    return max(_HOUR, -(-seconds // _HOUR) * _HOUR)


async def read_usage(
    clients: Clients,
    metrics: Sequence[Metric],
    observations: Sequence[Observation],
    *,
    window: timedelta,
    now: datetime,
) -> dict[str, Usage]:
    """Usage of every resource over `window` ending `now`, for every metric: resource id -> Usage."""
    wanted = [(o.resource_id, metric, metric.dimension_value(o)) for o in observations for metric in metrics]
    if not wanted:
        return {}
    cloudwatch = await clients("cloudwatch")
    period = window_period(window)
    found: dict[tuple[str, str], float] = {}
    for start in range(0, len(wanted), MAX_QUERIES):
        chunk = wanted[start : start + MAX_QUERIES]
        queries = [
            _query(f"q{index}", value, metric, period) for index, (_, metric, value) in enumerate(chunk)
        ]
        paginator = cloudwatch.get_paginator("get_metric_data")
        async for page in paginator.paginate(
            MetricDataQueries=queries, StartTime=now - window, EndTime=now, ScanBy="TimestampDescending"
        ):
            for result in page.get("MetricDataResults", []):
                rid, metric, _ = chunk[int(result["Id"][1:])]
                values = result.get("Values") or []
                if values:
                    key = (rid, metric.name)
                    found[key] = _combine(metric.stat, [found[key], *values] if key in found else values)
    usage: dict[str, Usage] = {}
    for observation in observations:
        rid = observation.resource_id
        numbers: dict[str, float | None] = {}
        for metric in metrics:
            value = found.get((rid, metric.name))
            numbers[metric.name] = (
                value if value is not None else (0.0 if metric.missing_means_zero else None)
            )
        usage[rid] = Usage(window=window, values=numbers)
    return usage


def _query(query_id: str, dimension_value: str, metric: Metric, period: int) -> Mapping[str, object]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": metric.namespace,
                "MetricName": metric.name,
                "Dimensions": [{"Name": metric.dimension, "Value": dimension_value}],
            },
            "Period": period,
            "Stat": metric.stat,
        },
        "ReturnData": True,
    }


def _combine(stat: str, values: Sequence[float]) -> float:
    """Fold datapoints of one query (a window that spans two periods) the way the statistic does."""
    if stat == "Maximum":
        return max(values)
    if stat == "Minimum":
        return min(values)
    if stat == "Average":  # unweighted: the periods are equal
        return float(sum(values)) / len(values)
    return float(sum(values))
