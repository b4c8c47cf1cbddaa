"""What a kind's `seed` gets to build its examples in the local demo estate (services/estate.py).

The estate creates what several kinds share (a default VPC's subnet, one running instance) and hands
each kind an `Estate` for one region; the kind creates its own idle and busy examples and records what
each one is expected to be, so tests can check that only the `idle` ones are ever reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.aws import Clients

Expectation = Literal["idle", "busy", "opted-out", "too-young"]
# Sets a resource's creation time (region, moto collection: EC2's `volumes` or another service's
# `elbv2:load_balancers`, resource id, attribute, when); only
# possible when moto runs in this process: the API cannot backdate.
Backdater = Callable[[str, str, str, str, datetime], None]


@dataclass(frozen=True)
class Seeded:
    kind: str
    region: str
    resource_id: str
    expectation: Expectation
    spec: dict[str, Any]


@dataclass
class Estate:
    region: str
    clients: Clients
    zone: str
    subnet_id: str
    instance_id: str
    now: datetime
    backdater: Backdater | None = None
    manifest: list[Seeded] = field(default_factory=list)

    @property
    def old(self) -> datetime:
        """The age of every example that should count as old enough to report."""
        return self.now - timedelta(days=45)

    def add(self, kind: str, resource_id: str, expectation: Expectation, **spec: Any) -> None:
        self.manifest.append(Seeded(kind, self.region, resource_id, expectation, spec))

    def backdate(self, collection: str, resource_id: str, attribute: str, when: datetime) -> None:
        if self.backdater is not None:
            self.backdater(self.region, collection, resource_id, attribute, when)


def tag_spec(resource_type: str, tags: dict[str, str]) -> list[dict[str, Any]]:
    """EC2's TagSpecifications for a create call."""
    return [{"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
