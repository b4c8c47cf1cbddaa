"""RDS DB instances: the kind (`kind`), why one is waste (`no_connections`: no database connection over
the window) and the remedy that deletes it after a final snapshot, undone by restoring from it
(`remedies`) (docs/ARCHITECTURE.md, "Kinds, checks, remedies"). Supported: standalone instances, read
replicas included.
"""

from shared.kinds.rds_instance import no_connections, remedies
from shared.kinds.rds_instance.kind import CONNECTIONS, STORAGE_TYPES, RdsInstance
from shared.kinds.rds_instance.no_connections import NoConnections
from shared.kinds.rds_instance.remedies import (
    DECISION_TAG,
    RESTORES_TAG,
    SPEC,
    SnapshotThenDelete,
    final_snapshot_id,
)

__all__ = [
    "CONNECTIONS",
    "DECISION_TAG",
    "RESTORES_TAG",
    "SPEC",
    "STORAGE_TYPES",
    "NoConnections",
    "RdsInstance",
    "SnapshotThenDelete",
    "final_snapshot_id",
    "no_connections",
    "remedies",
]
