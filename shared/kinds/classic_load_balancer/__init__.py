"""Classic Load Balancers: the kind (`kind`), why one is waste (`no_instances`: no instance
registered, so every request fails; `no_requests`: instances but no traffic over the window) and the
remedy that deletes it after recording its configuration for an undo (`remedies`)
(docs/ARCHITECTURE.md, "Kinds, checks, remedies").
"""

from shared.kinds.classic_load_balancer import no_instances, no_requests, remedies
from shared.kinds.classic_load_balancer.kind import REQUESTS, ClassicLoadBalancer
from shared.kinds.classic_load_balancer.no_instances import NoInstances
from shared.kinds.classic_load_balancer.no_requests import NoRequests
from shared.kinds.classic_load_balancer.remedies import Delete

__all__ = [
    "REQUESTS",
    "ClassicLoadBalancer",
    "Delete",
    "NoInstances",
    "NoRequests",
    "no_instances",
    "no_requests",
    "remedies",
]
