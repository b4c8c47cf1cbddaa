"""RDS DB instances idle by usage: rules without AWS; listing, usage, prices (unknown class), the remedy
(dry run, real with its final snapshot, re-check) and the restore on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.executor.handler import handle_approval
from services.executor.restore import handle_restore
from shared.aws import AwsClients
from shared.kinds.base import Observation, Usage
from shared.kinds.rds_instance import CONNECTIONS, DECISION_TAG, NoConnections
from shared.ledger import State
from tests.executor.conftest import aws, botocore_session, clock, ledger, make_deps, metrics, reporter
from tests.executor.helpers import approve, restore_request, state_of
from tests.kinds.usage_helpers import REGION, backdate, finding_of, put, verdicts

__all__ = ["aws", "botocore_session", "clock", "ledger", "make_deps", "metrics", "reporter"]

NOW = datetime(2026, 11, 28, tzinfo=UTC)
ZERO = Usage(timedelta(days=32), {CONNECTIONS.name: 0.0})


def _observation(**facts: Any) -> Observation:
    base = {"status": "available", "cluster": None, "replicas": 0}
    return Observation("db-1", base | facts, {}, NOW - timedelta(days=60))


def test_no_connection_is_idle_and_the_reason_gives_the_number() -> None:
    assert (
        NoConnections().verdict(_observation(), ZERO)
        == "no connections: 0 database connections (peak) over 32 days"
    )
    assert not CONNECTIONS.missing_means_zero  # RDS publishes every minute: a gap is no data


def test_cluster_members_replica_sources_and_stopped_instances_are_not_judged() -> None:
    check = NoConnections()
    assert check.verdict(_observation(cluster="aurora-1"), ZERO) is None
    assert check.verdict(_observation(replicas=1), ZERO) is None
    assert check.verdict(_observation(status="stopped"), ZERO) is None
    assert check.verdict(_observation(), Usage(timedelta(days=32), {CONNECTIONS.name: 1.0})) is None


async def _instance(aws: AwsClients, name: str, klass: str = "db.t3.medium", **extra: Any) -> str:
    rds = await aws.client("rds", REGION)
    await rds.create_db_instance(
        DBInstanceIdentifier=name, Engine="postgres", DBInstanceClass=klass, AllocatedStorage=50,
        MasterUsername="admin", MasterUserPassword="not-a-real-password-1", **extra,
    )  # fmt: skip
    backdate("databases", name, "instance_create_time", 60, service="rds")
    return name


async def test_only_the_silent_instance_is_idle_and_prices_are_honest(aws: AwsClients) -> None:
    quiet = await _instance(aws, "quiet-pg", MultiAZ=True)
    late = await _instance(aws, "month-end-pg")  # one connection on day 29 of 32
    unread = await _instance(aws, "unread-pg")  # no datapoint: unknown
    exotic = await _instance(aws, "exotic-pg", "db.x2g.large")
    for name in (quiet, late, exotic):
        await put(aws, CONNECTIONS, name, 0, days_ago=1)
    await put(aws, CONNECTIONS, late, 1, days_ago=29)

    found = await verdicts(aws, "rds-instance")

    assert found == {quiet: "idle", late: "busy", unread: "usage-unknown", exotic: "idle"}
    multi = await finding_of(aws, "rds-instance", quiet)
    # Multi-AZ: twice the class hour and twice the storage (us-east-1 rows).
    assert multi.cost.monthly_usd == 2 * 730 * Decimal("0.072") + 2 * 50 * Decimal("0.115")
    priceless = await finding_of(aws, "rds-instance", exotic)
    assert priceless.cost.note and "price unknown for postgres db.x2g.large" in priceless.cost.note
    assert [ln.unit for ln in priceless.cost.lines] == ["GB-month"]  # storage only, nothing invented


async def test_dry_run_deletes_nothing(aws: AwsClients, ledger: Any, make_deps: Any) -> None:
    name = await _instance(aws, "quiet-pg")
    await put(aws, CONNECTIONS, name, 0, days_ago=1)
    finding = await finding_of(aws, "rds-instance", name)
    await handle_approval(await approve(ledger, finding), make_deps(dry_run=True))
    rds = await aws.client("rds", REGION)
    assert (await rds.describe_db_instances(DBInstanceIdentifier=name))["DBInstances"]
    assert (await rds.describe_db_snapshots(SnapshotType="manual"))["DBSnapshots"] == []
    assert (await state_of(ledger, finding.key)).get("dry_run") is True


async def test_delete_keeps_a_tagged_final_snapshot_and_restores_from_it(
    aws: AwsClients, ledger: Any, make_deps: Any
) -> None:
    name = await _instance(aws, "quiet-pg", MultiAZ=True)
    await put(aws, CONNECTIONS, name, 0, days_ago=1)
    finding = await finding_of(aws, "rds-instance", name)
    event = await approve(ledger, finding)
    await handle_approval(event, make_deps())

    rds = await aws.client("rds", REGION)
    assert not [
        i for i in (await rds.describe_db_instances())["DBInstances"] if i["DBInstanceIdentifier"] == name
    ]
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED and decision.get("action") == "final_snapshot_then_delete"
    [snapshot] = (await rds.describe_db_snapshots(DBSnapshotIdentifier=decision.get("snapshot_id")))[
        "DBSnapshots"
    ]
    tags = (await rds.list_tags_for_resource(ResourceName=snapshot["DBSnapshotArn"]))["TagList"]
    assert {"Key": DECISION_TAG, "Value": event.payload.decision_id} in tags
    assert Decimal(decision.get("realised_monthly_saving_usd")) == finding.cost.net_monthly_saving_usd

    # moto names the automated snapshot of an instance `rds:<id>-<minute>`, and the deleted one's (kept on
    # purpose) would collide with the restored one's within the same minute; AWS's never collide.
    automated = await rds.describe_db_snapshots(DBInstanceIdentifier=name, SnapshotType="automated")
    for snapshot in automated["DBSnapshots"]:
        await rds.delete_db_snapshot(DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"])
    await handle_restore(restore_request(finding.key, decision.decision_id), make_deps())
    restored = await state_of(ledger, finding.key)
    assert restored.state is State.RESTORED, restored.get("restore_error")
    assert restored.get("restored_resource_id") == name  # the same identifier, so the same endpoint name
    [again] = (await rds.describe_db_instances(DBInstanceIdentifier=name))["DBInstances"]
    assert (again["DBInstanceClass"], again["MultiAZ"], again["Engine"]) == ("db.t3.medium", True, "postgres")
    assert again["AllocatedStorage"] == finding.facts["allocated_gib"]


async def test_a_connection_after_approval_skips_it(aws: AwsClients, ledger: Any, make_deps: Any) -> None:
    name = await _instance(aws, "revived-pg")
    await put(aws, CONNECTIONS, name, 0, days_ago=1)
    finding = await finding_of(aws, "rds-instance", name)
    event = await approve(ledger, finding)
    await put(aws, CONNECTIONS, name, 2, days_ago=0.01)
    await handle_approval(event, make_deps())
    rds = await aws.client("rds", REGION)
    assert (await rds.describe_db_instances(DBInstanceIdentifier=name))["DBInstances"]
    assert (await state_of(ledger, finding.key)).state is State.SKIPPED


async def test_deletion_protection_is_refused(aws: AwsClients, ledger: Any, make_deps: Any) -> None:
    name = await _instance(aws, "guarded-pg", DeletionProtection=True)
    await put(aws, CONNECTIONS, name, 0, days_ago=1)
    finding = await finding_of(aws, "rds-instance", name)
    await handle_approval(await approve(ledger, finding), make_deps())
    rds = await aws.client("rds", REGION)
    assert (await rds.describe_db_instances(DBInstanceIdentifier=name))["DBInstances"]
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.SKIPPED and "deletion protection" in decision.get("skip_reason")
