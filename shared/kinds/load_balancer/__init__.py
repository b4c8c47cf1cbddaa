"""Application and Network Load Balancers: the kind (`kind`), why one is waste (`no_requests`: no
traffic over the window; `no_targets`: nothing registered behind it, so every request fails) and the
remedy that deletes it with the target groups only it used (`remedies`) (docs/ARCHITECTURE.md, "Kinds,
checks, remedies").
"""

from shared.kinds.load_balancer import no_requests, no_targets, recreate, remedies
from shared.kinds.load_balancer.kind import (
    ACTIVE_FLOWS,
    NEW_FLOWS,
    REQUESTS,
    LoadBalancer,
    metric_dimension,
)
from shared.kinds.load_balancer.no_requests import NoRequests
from shared.kinds.load_balancer.no_targets import NoTargets
from shared.kinds.load_balancer.remedies import Delete

__all__ = [
    "ACTIVE_FLOWS",
    "NEW_FLOWS",
    "REQUESTS",
    "Delete",
    "LoadBalancer",
    "NoRequests",
    "NoTargets",
    "metric_dimension",
    "no_requests",
    "no_targets",
    "recreate",
    "remedies",
]
