"""What moto does not report, set through the emulator itself (its in-process backends), never by
patching project code: the test server is the same process (services/embedded_aws.py).

moto's DescribeSnapshots has no `FullSnapshotSizeInBytes`; its response serializer reads each field of
the AWS model from the backend object's snake_case attribute, so setting the attribute makes the
emulator answer with the field exactly as AWS would.
"""

from __future__ import annotations

ACCOUNT = "123456789012"


def set_full_snapshot_size(region: str, snapshot_id: str, size_bytes: int, account: str = ACCOUNT) -> None:
    """Make the emulator report `FullSnapshotSizeInBytes` for one snapshot (the blocks written)."""
    from moto.ec2.models import ec2_backends

    snapshot = ec2_backends[account][region].snapshots[snapshot_id]
    snapshot.full_snapshot_size_in_bytes = size_bytes
