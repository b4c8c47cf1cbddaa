"""EBS volumes: how to list, describe, read, price and seed them. Their checks and remedies are the
modules beside this one: `unattached` (state `available`) with the `remedies` that delete a volume,
after a safety snapshot by default, and `gp2` (in-use gp2 volumes that cost less as gp3, modified
online) (docs/ARCHITECTURE.md, "Kinds, checks, remedies").
"""

from shared.kinds.ebs_volume import gp2, remedies, unattached
from shared.kinds.ebs_volume.kind import EbsVolume

__all__ = ["EbsVolume", "gp2", "remedies", "unattached"]
