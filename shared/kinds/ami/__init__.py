"""AMIs nobody can launch any more. Check: unused. Remedies: deregister, then delete its snapshots
(preferred: that is where the money is; no undo), or deregister alone, keeping its snapshots (undo:
register it again from them).

Unused means: owned by the account, available, not public, older than the check's minimum age, and not
the image of any instance (any state but terminated), of the default or latest version of any launch
template, or of any launch configuration CloudThrift can see in the region. An AMI shared with other
accounts may be used there: that use is invisible from here, which the card says.

Why 90 days by default (`Check.min_age`, CLOUDTHRIFT_CHECK_MIN_AGE_DAYS "ami/unused"): images are
release artifacts, and a rollback reaches back a release or two, weeks rather than months; a quarter
without any template, configuration or instance naming it is past any such window. It is also the old
snapshot check's age, so an image deregistered alone hands its snapshots to that check after as long.

Price: the sum of its EBS snapshots' sizes (the block device mapping's VolumeSize) at the standard
snapshot rate, an upper bound (snapshots bill changed blocks), as for old snapshots.
"""

from shared.kinds.ami import remedies, unused
from shared.kinds.ami.kind import Ami

__all__ = ["Ami", "remedies", "unused"]
