"""EC2 instances stopped for a long time. Check: long-stopped. Remedy: image the instance (all its
volumes, no reboot, tagged with the decision), wait for the image, then terminate it and release its
Elastic IPs. Undo: launch from that image with the recorded type, subnet, security groups, key pair, IAM
profile and tags (a new instance id and private IP).

A stopped instance bills nothing for compute, but every EBS volume attached to it and every Elastic IP
associated with it keep billing: that is its price. Never proposed: instances with termination
protection, members of an Auto Scaling group (the group would replace them), opted-out ones.

How long it has been stopped: AWS writes the stop time into `StateTransitionReason` ("User initiated
(2026-01-02 10:00:00 GMT)"); the kind reports that time as the observation's age, so the check's
`min_age` (30 days, CLOUDTHRIFT_CHECK_MIN_AGE_DAYS "ec2-instance/long-stopped") is "stopped longer
than". When the text cannot be parsed (stopped by the service, or hibernated), the age is unknown and
the scanner holds the finding until the ledger has seen it stopped for that long (first seen stopped).
"""

from shared.kinds.ec2_instance import remedies, stopped
from shared.kinds.ec2_instance.kind import Ec2Instance

__all__ = ["Ec2Instance", "remedies", "stopped"]
