"""RDS DB instances: how to list, describe, read, price and seed them, and the CloudWatch metric
their usage is read from.

Price: the class hour for its engine (twice for Multi-AZ, which runs a standby) plus storage (twice for
Multi-AZ). Class rows are dated figures for the classes the table has (`rds.<engine>.<class>.hour`); a
class the table lacks is reported with "price unknown" for the instance hour, never an invented figure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from shared.events import CostLine, FactValue
from shared.kinds import register
from shared.kinds.base import Clients, Kind, Metric, Observation, Priced, tags_of
from shared.kinds.estate import Estate, Expectation
from shared.kinds.pricing import Rates

STORAGE_TYPES = ("gp2", "gp3")  # priced; others (io1, io2, standard) are reported as "price unknown"


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
            lines.append(rates.line(f"{facts.get('instance_class')} {deployment} hours", hours, "hour", hour))
        else:
            unknown.append(f"{facts.get('engine')} {facts.get('instance_class')}")
        storage = f"rds.{facts.get('storage_type')}.gb_month"
        if storage in rates:
            size = int(facts.get("allocated_gib") or 0) * copies
            lines.append(
                rates.line(f"{facts.get('storage_type')} storage ({deployment})", size, "GB-month", storage)
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
