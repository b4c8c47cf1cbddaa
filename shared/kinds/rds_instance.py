"""RDS DB instances with no connection over the usage window. Remedy: delete with a final snapshot
named after the decision (tagged with it, waited for). Undo: restore from that snapshot.

Supported: standalone instances, read replicas included. Not reported: members of Aurora (or other)
clusters, whose usage is the cluster's, and sources of read replicas (their replicas depend on them).
Stopping is not offered as a saving: RDS starts a stopped instance again after seven days
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_StopInstance.html), so it only defers cost.

Price: the class hour for its engine (twice for Multi-AZ, which runs a standby) plus storage (twice for
Multi-AZ). Class rows are dated figures for the classes the table has (`rds.<engine>.<class>.hour`); a
class the table lacks is reported with "price unknown" for the instance hour, never an invented figure.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from shared.aws import is_error
from shared.events import CostLine, FactValue, Finding, Recommendation, Risk
from shared.kinds import register
from shared.kinds.advice import Advice, clip, confidence, idle_text, usd
from shared.kinds.base import (
    Check,
    Clients,
    Done,
    Job,
    Kind,
    Metric,
    Observation,
    Priced,
    Refused,
    Remedy,
    Restored,
    UndoJob,
    Usage,
    tags_of,
)
from shared.kinds.estate import Estate, Expectation
from shared.kinds.pricing import Rates, line
from shared.kinds.signals import Signals

DECISION_TAG = "cloudthrift:decision-id"
STORAGE_TYPES = ("gp2", "gp3")  # priced; others (io1, io2, standard) are reported as "price unknown"
_WAIT_DELAY_SECONDS = 30  # botocore's own delay for the RDS waiters
_PROTECTED = "deletion protection is on: CloudThrift does not delete a protected DB instance"


def final_snapshot_id(decision_id: str) -> str:
    """Deterministic, so a redelivered approval finds the snapshot an earlier attempt asked for."""
    return f"cloudthrift-final-{decision_id}"[:255]


@register
class RdsInstance(Kind):
    name = "rds-instance"
    service = "rds"
    summary = "RDS DB instance"
    permissions = ("rds:DescribeDBInstances", "rds:ListTagsForResource")
    gone_codes = frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault"})
    gemini_facts = frozenset(
        {"engine", "engine_version", "instance_class", "multi_az", "storage_type", "allocated_gib",
         "status", "is_replica", "name"}
    )  # fmt: skip
    dimensions = tuple(f"rds.{storage}.gb_month" for storage in STORAGE_TYPES)

    async def list(
        self, clients: Clients, filters: tuple[Mapping[str, Any], ...]
    ) -> AsyncIterator[Mapping[str, Any]]:
        rds = await clients("rds")
        async for page in rds.get_paginator("describe_db_instances").paginate():
            for instance in page.get("DBInstances", []):
                yield instance  # DescribeDBInstances returns TagList with each instance

    async def describe(self, clients: Clients, resource_id: str) -> Mapping[str, Any] | None:
        rds = await clients("rds")
        try:
            answer = await rds.describe_db_instances(DBInstanceIdentifier=resource_id)
        except Exception as exc:
            if self.is_gone(exc):
                return None
            raise
        instances = answer.get("DBInstances") or []
        return instances[0] if instances else None

    def is_going(self, raw: Mapping[str, Any]) -> bool:
        return raw.get("DBInstanceStatus") == "deleting"

    def observe(self, raw: Mapping[str, Any]) -> Observation:
        tags = tags_of({"Tags": raw.get("TagList", [])})
        facts: dict[str, FactValue] = {
            "name": raw["DBInstanceIdentifier"],
            "engine": raw.get("Engine"),
            "engine_version": raw.get("EngineVersion"),
            "instance_class": raw.get("DBInstanceClass"),
            "multi_az": bool(raw.get("MultiAZ")),
            "storage_type": raw.get("StorageType"),
            "allocated_gib": int(raw.get("AllocatedStorage") or 0),
            "iops": raw.get("Iops"),
            "status": raw.get("DBInstanceStatus"),
            "cluster": raw.get("DBClusterIdentifier"),
            "replicas": len(raw.get("ReadReplicaDBInstanceIdentifiers", []) or []),
            "is_replica": bool(raw.get("ReadReplicaSourceDBInstanceIdentifier")),
            "deletion_protection": bool(raw.get("DeletionProtection")),
            "subnet_group": (raw.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
        }
        return Observation(raw["DBInstanceIdentifier"], facts, tags, raw.get("InstanceCreateTime"))

    def price(self, observation: Observation, rates: Rates) -> Priced:
        facts = observation.facts
        copies = 2 if facts.get("multi_az") else 1
        deployment = "Multi-AZ" if copies == 2 else "Single-AZ"
        lines: list[CostLine] = []
        unknown: list[str] = []
        hour = f"rds.{facts.get('engine')}.{facts.get('instance_class')}.hour"
        if hour in rates:
            hours = rates.hours_per_month * copies
            lines.append(
                line(f"{facts.get('instance_class')} {deployment} hours", hours, "hour", rates[hour])
            )
        else:
            unknown.append(f"{facts.get('engine')} {facts.get('instance_class')}")
        storage = f"rds.{facts.get('storage_type')}.gb_month"
        if storage in rates:
            size = int(facts.get("allocated_gib") or 0) * copies
            lines.append(
                line(f"{facts.get('storage_type')} storage ({deployment})", size, "GB-month", rates[storage])
            )
        else:
            unknown.append(f"{facts.get('storage_type')} storage")
        note = f"price unknown for {', '.join(unknown)}: not in the price table" if unknown else None
        return Priced(lines, note)

    def details(self, facts: Mapping[str, FactValue]) -> str:
        multi = " Multi-AZ" if facts.get("multi_az") else ""
        return f"{facts.get('engine')} {facts.get('instance_class')}{multi}, {facts.get('allocated_gib')} GiB"

    async def seed(self, estate: Estate) -> None:
        """Idle ones (zero connections published, as RDS does every minute), one of a class the table
        lacks, a busy one, an opted-out one, a young one."""
        rds = await estate.clients("rds")

        async def instance(name: str, engine: str, klass: str, expect: Expectation, **extra: Any) -> str:
            tags, gib = extra.pop("tags", {}), extra.pop("gib", 20)
            await rds.create_db_instance(
                DBInstanceIdentifier=name, Engine=engine, DBInstanceClass=klass, AllocatedStorage=gib,
                MasterUsername="admin", MasterUserPassword="not-a-real-password-1",
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()], **extra,
            )  # fmt: skip
            if expect != "too-young":
                estate.backdate("rds:databases", name, "instance_create_time", estate.old)
            estate.add(self.name, name, expect, engine=engine, instance_class=klass)
            return name

        zero = [
            await instance("reporting-mysql-old", "mysql", "db.t3.medium", "idle", gib=100),
            await instance("billing-pg-staging", "postgres", "db.m5.large", "idle", MultiAZ=True, gib=200),
            await instance("exotic-class-db", "postgres", "db.x2g.large", "idle"),  # price unknown
        ]
        busy = await instance("orders-pg", "postgres", "db.r5.large", "busy", gib=500)
        opted = await instance(
            "audit-mysql", "mysql", "db.t3.micro", "opted-out", tags={"cloudthrift:keep": "audit"}
        )
        await instance("new-analytics-pg", "postgres", "db.t3.medium", "too-young")
        cloudwatch = await estate.clients("cloudwatch")
        when = estate.now - timedelta(days=1)
        data = [_datapoint(name, 0, when) for name in (*zero, opted)] + [_datapoint(busy, 37, when)]
        await cloudwatch.put_metric_data(Namespace=CONNECTIONS.namespace, MetricData=data)


def _datapoint(name: str, value: float, when: datetime) -> dict[str, Any]:
    dimensions = [{"Name": CONNECTIONS.dimension, "Value": name}]
    return {"MetricName": CONNECTIONS.name, "Dimensions": dimensions, "Timestamp": when, "Value": value}


# What a missing datapoint means: RDS sends instance metrics to CloudWatch every minute while the
# instance runs ("Overview of Amazon RDS and Amazon CloudWatch",
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/monitoring-cloudwatch.html): an instance with
# no connection publishes DatabaseConnections = 0. A missing datapoint is therefore "no data" (stopped,
# or not readable), never zero: such an instance is counted usage-unknown, not reported.
CONNECTIONS = Metric(
    "AWS/RDS", "DatabaseConnections", "Maximum", "DBInstanceIdentifier", missing_means_zero=False
)


@RdsInstance.check("no-connections")
class NoConnections(Check):
    summary = "no database connection over the window, yet billed per instance-hour and storage"
    metrics = (CONNECTIONS,)
    window = timedelta(days=32)  # a month-end job connecting once a month is use
    permissions = ("cloudwatch:GetMetricData",)
    remedies = ("snapshot-then-delete",)

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        facts = observation.facts
        if facts.get("cluster") or facts.get("replicas") or facts.get("status") != "available":
            return None  # cluster members and replica sources are not judged alone; stopped is not idle
        if usage is None or not usage.known() or usage.values.get(CONNECTIONS.name):
            return None
        peak = usage.values[CONNECTIONS.name] or 0
        return f"no connections: {peak:,.0f} database connections (peak) over {usage.window.days} days"

    def busy_reason(self, observation: Observation) -> str:
        return "the database had connections within the window, or is no longer standalone and available"

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        facts = finding.facts
        shape = f"{facts.get('instance_class')}{', Multi-AZ' if facts.get('multi_az') else ''}"
        unknown = " (part of the price unknown)" if finding.cost.note else ""
        summary = (
            f"{facts.get('engine')} DB instance {str(facts.get('name'))[:60]!r} ({shape}, "
            f"{facts.get('allocated_gib')} GiB) in {finding.key.region}, {idle_text(finding, now)}: "
            f"{finding.idle_reason}. It costs {usd(finding.cost.monthly_usd)}/month{unknown}. "
            "Deleting it keeps a final snapshot to restore from; stopping it would only defer the cost "
            "(RDS restarts a stopped instance after 7 days)."
        )
        cause = "An environment or migration that ended, or an application moved to another database"
        risk: Risk
        recommendation: Recommendation
        if s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif facts.get("deletion_protection"):
            risk, reason, recommendation = "high", "deletion protection is on", "keep"
        elif s.prod:
            risk, reason, recommendation = "high", f"production database ({s.prod})", "investigate"
        elif s.disposable:
            risk, reason, recommendation = "low", f"looks disposable ({s.disposable})", "snapshot_then_delete"
        else:
            risk, recommendation = "medium", "snapshot_then_delete"
            reason = "no connection in a month; the final snapshot keeps the data restorable"
        return Advice(clip(summary, 700), cause, risk, clip(reason, 300), recommendation, confidence(s, risk))


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
