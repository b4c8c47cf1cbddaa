"""EBS snapshots nobody manages any more. Check: old. Remedies: archive (when the volume is gone), or
delete (when it lives on: `Old.remedy_order`).

Old means: owned by the account, completed, in the standard tier, older than the check's minimum age,
and none of: used by a registered AMI of the account (deleting it would break the image, and AWS
refuses); managed by AWS Backup (the EC2 API cannot delete those: c7n #9459) or by Data Lifecycle
Manager (it expires them itself); a CloudThrift safety snapshot (tag `cloudthrift:decision-id`: it is
the undo of an approved deletion, kept until someone decides otherwise); opted out.

Why 90 days by default (`Check.min_age`, CLOUDTHRIFT_CHECK_MIN_AGE_DAYS to change it): backup rotations
that people run by hand keep days to weeks of snapshots; a snapshot no AMI, Backup plan or DLM policy
owns that is older than a quarter has outlived any such rotation. It is also the archive tier's
minimum billing period, so anything archived at that age is not likely to be wanted back within it.

Priced on `FullSnapshotSizeInBytes` (all blocks written to the volume when the snapshot was taken) when
AWS reports it, else on the volume's size: an upper bound either way, since standard snapshots bill
only the blocks that changed since the previous one (the card says so). Archiving bills the full size
at a quarter of the price, so it is priced, not assumed, to be cheaper.
"""

from shared.kinds.ebs_snapshot import old, remedies
from shared.kinds.ebs_snapshot.kind import EbsSnapshot

__all__ = ["EbsSnapshot", "old", "remedies"]
