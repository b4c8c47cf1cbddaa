"""EBS volumes: how to list, describe, read, price and seed them. Their checks and remedies are the
modules beside this one: `unattached` (state `available`), and the `remedies` that delete a volume,
after a safety snapshot by default (docs/ARCHITECTURE.md, "Kinds, checks, remedies").
"""

from shared.kinds.ebs_volume import remedies, unattached
from shared.kinds.ebs_volume.kind import EbsVolume

__all__ = ["EbsVolume", "remedies", "unattached"]
