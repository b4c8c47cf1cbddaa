"""NAT gateways: the kind (`kind`), why one is waste (`no_traffic`: no connection, byte or packet over
the window) and the remedies that delete it and release or keep its Elastic IP(s) (`remedies`), undone by
`recreate` (docs/ARCHITECTURE.md, "Kinds, checks, remedies").
"""

from shared.kinds.nat_gateway import no_traffic, recreate, remedies
from shared.kinds.nat_gateway.kind import (
    KEEP_ADDRESS_TAG,
    NAMESPACE,
    NAT_METRICS,
    NatGateway,
    usage_text,
)
from shared.kinds.nat_gateway.no_traffic import NoTraffic
from shared.kinds.nat_gateway.recreate import RESTORES_TAG
from shared.kinds.nat_gateway.remedies import Delete, DeleteKeepAddress

__all__ = [
    "KEEP_ADDRESS_TAG",
    "NAMESPACE",
    "NAT_METRICS",
    "RESTORES_TAG",
    "Delete",
    "DeleteKeepAddress",
    "NatGateway",
    "NoTraffic",
    "no_traffic",
    "recreate",
    "remedies",
    "usage_text",
]
