"""The AWS half of `cloudthrift doctor`: who we are, whether bootstrap ran, what each stage may do.

Permissions are proven with DryRun=True wherever the EC2 API offers it: AWS answers DryRunOperation
when the caller is allowed and UnauthorizedOperation when not, and nothing is changed. Which calls to
try comes from what each stage declares (the kinds' checks and remedies list their IAM permissions,
shared/kinds/), so a new kind is checked without touching this file. SQS and DynamoDB have no DryRun:
the queue and table checks prove the reads, and the stages' writes are left to their IAM policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from botocore import xform_name

from services.doctor import Check
from shared.aws import AwsClients
from shared.aws_errors import error_code, explain
from shared.config import QUEUE_NAMES, Settings
from shared.ledger import STATE_INDEX

# Well-formed ids that exist nowhere: EC2 checks the permission first and the id only after it.
PLACEHOLDERS: dict[str, Any] = {
    "VolumeId": "vol-0c0ffee0c0ffee000",
    "SnapshotId": "snap-0c0ffee0c0ffee000",
    "AllocationId": "eipalloc-0c0ffee0c0ffee000",
    "AssociationId": "eipassoc-0c0ffee0c0ffee000",
    "InstanceId": "i-0c0ffee0c0ffee000",
    "Resources": ["vol-0c0ffee0c0ffee000"],
    "Tags": [{"Key": "cloudthrift:doctor", "Value": "dry-run"}],
}
# Parameters an operation needs although its model marks none required (one of several is enough).
EXTRA: dict[str, tuple[str, ...]] = {
    "ReleaseAddress": ("AllocationId",),
    "DisassociateAddress": ("AssociationId",),
}
ALLOWED = {"DryRunOperation"}


def stage_permissions() -> dict[str, tuple[str, ...]]:
    """What each stage declares it needs from AWS (the registries: the one place to repoint)."""
    from shared.kinds import discover

    scanner = {"ec2:DescribeRegions"}  # every enabled region, when a scan names none
    executor: set[str] = set()
    for _, kind in discover():
        for _, check in kind.checks:
            scanner.update((*kind.permissions, *check.permissions))
            executor.update(check.permissions)  # usage re-read before acting
        for _, remedy in kind.remedies:
            executor.update((*kind.permissions, *remedy.permissions))
    return {"scanner": tuple(sorted(scanner)), "executor": tuple(sorted(executor))}


async def identity(aws: AwsClients, settings: Settings) -> tuple[Check, bool]:
    try:
        sts = await aws.client("sts")
        who = await sts.get_caller_identity()
    except Exception as exc:
        return Check("aws identity", "FAIL", _why(exc, settings)), False
    return Check("aws identity", "ok", f"{who['Arn']} (account {who['Account']})"), True


async def queues(aws: AwsClients, settings: Settings) -> Check:
    sqs = await aws.client("sqs")
    names = [name for queue in QUEUE_NAMES for name in (settings.queue_name(queue), settings.dlq_name(queue))]

    async def readable(name: str) -> str | None:
        """None when the queue is there and readable, else why not."""
        try:
            url = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
            await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        except Exception as exc:
            if error_code(exc) in ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"):
                return "missing"
            return _why(exc, settings)
        return None

    problems = dict(zip(names, await asyncio.gather(*(readable(name) for name in names)), strict=True))
    missing = [name for name, problem in problems.items() if problem == "missing"]
    other = [problem for problem in problems.values() if problem not in (None, "missing")]
    if other:
        return Check("queues", "FAIL", other[0])
    if missing:
        return Check("queues", "FAIL", f"missing {', '.join(missing)}: run `cloudthrift bootstrap`")
    return Check("queues", "ok", f"{len(names)} queues of prefix {settings.cloudthrift_prefix!r} readable")


async def table(aws: AwsClients, settings: Settings) -> Check:
    dynamodb = await aws.client("dynamodb")
    try:
        described = (await dynamodb.describe_table(TableName=settings.table_name))["Table"]
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return Check(
                "ledger table", "FAIL", f"{settings.table_name} missing: run `cloudthrift bootstrap`"
            )
        return Check("ledger table", "FAIL", _why(exc, settings))
    indexes = {index["IndexName"] for index in described.get("GlobalSecondaryIndexes", [])}
    if STATE_INDEX not in indexes:
        return Check(
            "ledger table",
            "FAIL",
            f"{settings.table_name} has no {STATE_INDEX!r} index: run `cloudthrift bootstrap`",
        )
    return Check("ledger table", "ok", f"{settings.table_name} {described.get('TableStatus', '').lower()}")


async def permissions(aws: AwsClients, settings: Settings, stage: str, wanted: Iterable[str]) -> Check:
    """DryRun every EC2 permission the stage declares; list what cannot be proven that way."""
    ec2 = await aws.client("ec2")
    denied, unproven, other, ignored = [], [], [], []
    wanted = list(wanted)
    for permission in wanted:
        service, _, operation = permission.partition(":")
        params = _dry_run_params(ec2, operation) if service == "ec2" else None
        if params is None:
            unproven.append(permission)
            continue
        try:
            await getattr(ec2, xform_name(operation))(**params)
            ignored.append(permission)  # an emulator ignoring DryRun: the call was allowed all the same
        except Exception as exc:
            code = error_code(exc)
            if code in ALLOWED or (code or "").endswith(".NotFound"):
                continue
            if code in ("UnauthorizedOperation", "AccessDenied"):
                denied.append(permission)
            else:
                other.append(f"{permission}: {_why(exc, settings)}")
    name = f"{stage} permissions"
    if denied or other:
        fix = (
            f"grant {', '.join(denied)} to this identity (terraform/ has the {stage}'s policy)"
            if denied
            else ""
        )
        return Check(name, "FAIL", "; ".join(filter(None, [fix, *other])))
    proven = [p for p in wanted if p not in unproven]
    detail = f"DryRun allowed: {', '.join(proven)}" if proven else "nothing to prove with DryRun"
    if ignored:
        detail += f" ({', '.join(ignored)} answered without honouring DryRun)"
    if unproven:
        detail += f"; no DryRun for {', '.join(unproven)} (not checked)"
    return Check(name, "ok", detail)


def _dry_run_params(client: Any, operation: str) -> dict[str, Any] | None:
    """DryRun=True plus placeholders for the operation's required parameters; None when impossible."""
    try:
        shape = client.meta.service_model.operation_model(operation).input_shape
    except Exception:
        return None
    if shape is None or "DryRun" not in shape.members:
        return None
    needed = [*shape.required_members, *EXTRA.get(operation, ())]
    if any(name not in PLACEHOLDERS for name in needed):
        return None
    return {"DryRun": True} | {name: PLACEHOLDERS[name] for name in needed}


def _why(exc: BaseException, settings: Settings) -> str:
    return explain(exc, settings) or f"{type(exc).__name__}: {exc}"
