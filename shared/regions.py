"""Is this an AWS region name? Checked offline against botocore's own partition data.

A misspelt region (`mars-1`, `us east 1`, `eu-west-9`) would otherwise be accepted at start-up and fail
later: a request to an endpoint that does not exist, retried for a minute, or a scan request that is
dead-lettered. botocore ships `partitions.json` (7 KB: each partition's region pattern and its known
regions), the file its endpoint resolver reads, so the check needs no network and loads no service model.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

# The shape every AWS region name has: lower-case words joined by dashes, ending in a number.
REGION_SHAPE = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$")


@dataclass(frozen=True)
class Partition:
    name: str
    pattern: re.Pattern[str]
    regions: frozenset[str]


@functools.cache
def partitions() -> tuple[Partition, ...]:
    from botocore.loaders import Loader

    data = Loader().load_data("partitions")
    return tuple(
        Partition(
            name=entry["id"],
            pattern=re.compile(entry["regionRegex"]),
            # The "-global" entries are signing pseudo-regions, not places resources live in.
            regions=frozenset(name for name in entry["regions"] if not name.endswith("-global")),
        )
        for entry in data["partitions"]
    )


def region_problem(name: str) -> str | None:
    """Why `name` is not a region, or None when it is one botocore knows."""
    if not REGION_SHAPE.match(name):
        return f"{name!r} is not an AWS region name (like us-east-1)"
    for partition in partitions():
        if partition.pattern.match(name):
            if name in partition.regions:
                return None
            close = difflib.get_close_matches(name, sorted(partition.regions), n=3, cutoff=0.6)
            hint = f": did you mean {', '.join(close)}?" if close else ""
            return f"{name!r} is not a region botocore knows in partition {partition.name}{hint}"
    return f"{name!r} belongs to no AWS partition (like us-east-1, cn-north-1, us-gov-west-1)"
