"""Delete a DB instance with a final snapshot named after the decision (tagged with it, waited for).
Undo: restore from that snapshot.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

from shared.aws import is_error
from shared.events import CostLine
from shared.kinds.base import (
    Clients,
    Done,
    Job,
    Observation,
    Refused,
    Remedy,
    Restored,
    UndoJob,
    tags_of,
)
from shared.kinds.pricing import Rates, line
from shared.kinds.rds_instance.kind import RdsInstance

DECISION_TAG = "cloudthrift:decision-id"
_WAIT_DELAY_SECONDS = 30  # botocore's own delay for the RDS waiters
_PROTECTED = "deletion protection is on: CloudThrift does not delete a protected DB instance"


def final_snapshot_id(decision_id: str) -> str:
    """Deterministic, so a redelivered approval finds the snapshot an earlier attempt asked for."""
    return f"cloudthrift-final-{decision_id}"[:255]


@RdsInstance.remedy("snapshot-then-delete")
class SnapshotThenDelete(Remedy):
    action = "final_snapshot_then_delete"
    summary = (
        "delete the instance with a final snapshot named and tagged after the decision, then wait for it"
    )
    permissions = (
        "rds:DescribeDBInstances",
        "rds:DescribeDBSnapshots",
        "rds:DeleteDBInstance",
        "rds:CreateDBSnapshot",
        "rds:AddTagsToResource",
        "rds:RestoreDBInstanceFromDBSnapshot",  # the undo
    )
    undo = (
        "restore from the final snapshot under the same identifier with the same class, subnet group, "
        "parameter and option groups, security groups, Multi-AZ and tags"
    )
    keeps_snapshot = True

    def residual(self, observation: Observation, rates: Rates) -> CostLine:
        """Snapshot storage up to the allocated size, priced as gp2 storage (an upper bound)."""
        size = int(observation.facts.get("allocated_gib") or 0)
        return line("final snapshot (upper bound)", size, "GB-month", rates["rds.gp2.gb_month"])

    async def apply(self, clients: Clients, job: Job) -> Done | Refused:
        if job.facts.get("deletion_protection"):
            return Refused(_PROTECTED)
        rds = await clients("rds")
        snapshot = final_snapshot_id(job.decision_id)
        spec = await _spec(rds, job.resource_id)  # what an undo needs, read before the delete
        await job.guard()
        try:
            await rds.delete_db_instance(
                DBInstanceIdentifier=job.resource_id,
                FinalDBSnapshotIdentifier=snapshot,
                SkipFinalSnapshot=False,
                DeleteAutomatedBackups=False,  # kept until their retention ends: a second way back
            )
        except Exception as exc:
            if is_error(exc, "InvalidParameterCombination") and "protect" in str(exc):
                return Refused(_PROTECTED)  # turned on in the moments since the re-check
            if not is_error(exc, *RdsInstance.gone_codes):
                raise
        done = await self._finish(rds, job, already_gone=False)
        return replace(done, record={**done.record, SPEC: spec}) if spec else done

    async def rehearse(self, clients: Clients, job: Job) -> Done | Refused:
        """RDS has no DryRun: read what the real run reads, and say what it would do."""
        if job.facts.get("deletion_protection"):
            return Refused(_PROTECTED)
        await (await clients("rds")).describe_db_instances(DBInstanceIdentifier=job.resource_id)
        return Done(self.action, keeps_snapshot=True, snapshot_id=final_snapshot_id(job.decision_id))

    async def leftovers(self, clients: Clients, job: Job) -> Done:
        return await self._finish(await clients("rds"), job, already_gone=True)

    async def _finish(self, rds: Any, job: Job, *, already_gone: bool) -> Done:
        """Wait (bounded) for the final snapshot, then tag it with the decision."""
        snapshot = final_snapshot_id(job.decision_id)
        delay = max(1, min(_WAIT_DELAY_SECONDS, job.snapshot_wait_seconds))
        attempts = max(1, math.ceil(job.snapshot_wait_seconds / delay))
        await rds.get_waiter("db_snapshot_available").wait(
            DBSnapshotIdentifier=snapshot, WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
        )
        arn = (await rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot))["DBSnapshots"][0][
            "DBSnapshotArn"
        ]
        tags = {DECISION_TAG: job.decision_id, "cloudthrift:db-instance": job.resource_id}
        await rds.add_tags_to_resource(
            ResourceName=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )
        record = {"instance_class": job.facts.get("instance_class"), "multi_az": job.facts.get("multi_az"),
                  "subnet_group": job.facts.get("subnet_group")}  # fmt: skip
        return Done(self.action, True, snapshot, already_gone, record)

    async def restore(self, clients: Clients, job: UndoJob) -> Restored | Refused:
        """A new instance from the final snapshot under the original identifier (so the same endpoint
        name), with the recorded class, Multi-AZ, subnet, parameter and option groups, security groups
        and tags. One that exists already is ours when tagged with the decision (a resumed undo)."""
        rds = await clients("rds")
        identifier = job.resource_id
        spec = json.loads(str(job.record.get(SPEC) or "{}"))
        tags = [*spec.pop("Tags", []), {"Key": RESTORES_TAG, "Value": job.decision_id}]
        record = job.record
        arguments: dict[str, Any] = {
            "DBInstanceClass": record.get("instance_class"),
            "MultiAZ": bool(record.get("multi_az")),
            "DBSubnetGroupName": record.get("subnet_group"),
            **spec,
        }
        await job.guard()
        try:
            await rds.restore_db_instance_from_db_snapshot(
                DBInstanceIdentifier=identifier,
                DBSnapshotIdentifier=str(job.snapshot_id or final_snapshot_id(job.decision_id)),
                Tags=tags,
                **{k: v for k, v in arguments.items() if v is not None},
            )
        except Exception as exc:
            if is_error(exc, "DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"):
                return await _existing(rds, identifier, job.decision_id)
            if is_error(exc, "DBSnapshotNotFound", "DBSnapshotNotFoundFault"):
                return Refused(f"the final snapshot {job.snapshot_id} no longer exists")
            raise
        return Restored("restore_db_instance_from_snapshot", identifier, {"snapshot_id": job.snapshot_id})


SPEC = "db_instance_spec"  # the EXECUTED record's restore arguments, read before the delete, as JSON
RESTORES_TAG = "cloudthrift:restores-decision"


async def _spec(rds: Any, identifier: str) -> str | None:
    """What an undo restores beyond the snapshot's own settings (groups, tags), read before deleting."""
    try:
        [raw] = (await rds.describe_db_instances(DBInstanceIdentifier=identifier))["DBInstances"]
    except Exception as exc:
        if is_error(exc, *RdsInstance.gone_codes):
            return None
        raise
    # Default groups are what a restore gets anyway: only custom ones are named (moto lacks the defaults).
    groups = [g for g in _names(raw.get("DBParameterGroups"), "DBParameterGroupName") if not _default(g)]
    options = [g for g in _names(raw.get("OptionGroupMemberships"), "OptionGroupName") if not _default(g)]
    security = [
        g["VpcSecurityGroupId"] for g in raw.get("VpcSecurityGroups", []) if g.get("VpcSecurityGroupId")
    ]
    spec: dict[str, Any] = {
        "DBParameterGroupName": groups[0] if groups else None,
        "OptionGroupName": options[0] if options else None,
        "VpcSecurityGroupIds": security or None,
        "Tags": [
            t for t in raw.get("TagList", []) if not str(t.get("Key")).startswith(("aws:", "cloudthrift:"))
        ],
    }
    return json.dumps({k: v for k, v in spec.items() if v is not None}, sort_keys=True)


def _names(items: Any, field: str) -> list[str]:
    return [str(item[field]) for item in items or [] if item.get(field)]


def _default(group: str) -> bool:
    return group.startswith("default.") or group.startswith("default:")


async def _existing(rds: Any, identifier: str, decision_id: str) -> Restored | Refused:
    [raw] = (await rds.describe_db_instances(DBInstanceIdentifier=identifier))["DBInstances"]
    if tags_of({"Tags": raw.get("TagList", [])}).get(RESTORES_TAG) == decision_id:
        return Restored("restore_db_instance_from_snapshot", identifier, {"resumed": True})
    return Refused(f"a DB instance named {identifier} exists again (not made by this undo): restore by hand")
