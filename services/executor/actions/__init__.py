"""Clean-up actions by resource kind; importing this package registers every one of them."""

from services.executor.actions import ebs_volume, elastic_ip
from services.executor.actions.base import Action, Done, Job, Refused, actions

__all__ = ["Action", "Done", "Job", "Refused", "actions", "ebs_volume", "elastic_ip"]
