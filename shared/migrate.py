"""Ledger items keyed the way they were before decision keys named the kind and the check.

Until issue 12 a decision was keyed `account#region#resource`; it is now
`account#region#kind#check#resource`. `cloudthrift bootstrap` runs this once per upgrade (and finds
nothing to do afterwards): each legacy decision is copied to its new key with every attribute kept
(state, decision id, history, approvals), then the old item is deleted if it did not change since it
was read; card records' member lists are rewritten to the new keys. A crash half-way is finished by
the next run: the copy is conditional on the new key not existing yet, and a card member is
translated from the legacy key alone, which names the kind by its id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog

from shared.events import DecisionKey, Finding

log = structlog.get_logger("cloudthrift.migrate")
CARD_PREFIX = "card#"


@dataclass
class Migration:
    moved: list[str] = field(default_factory=list)  # new keys
    cards: int = 0


async def migrate_legacy_keys(dynamodb: Any, table: str) -> Migration:
    done = Migration()
    legacy: list[str] = []
    cards: list[dict[str, Any]] = []
    paginator = dynamodb.get_paginator("scan")
    async for page in paginator.paginate(
        TableName=table, ProjectionExpression="pk, members", ConsistentRead=True
    ):
        for item in page.get("Items", []):
            pk = item["pk"]["S"]
            if DecisionKey.is_legacy_pk(pk):
                legacy.append(pk)
            elif pk.startswith(CARD_PREFIX) and "members" in item:
                cards.append(item)
    for pk in legacy:
        if await _move(dynamodb, table, pk):
            done.moved.append(DecisionKey.from_legacy_pk(pk).pk)
    for card in cards:
        done.cards += await _rewrite_members(dynamodb, table, card)
    if done.moved or done.cards:
        log.info("migrate.legacy_keys", decisions=len(done.moved), cards=done.cards)
    return done


async def _move(dynamodb: Any, table: str, pk: str) -> bool:
    answer = await dynamodb.get_item(TableName=table, Key={"pk": {"S": pk}}, ConsistentRead=True)
    item = answer.get("Item")
    if item is None:
        return False
    key = DecisionKey.from_legacy_pk(pk)
    moved = dict(item) | {"pk": {"S": key.pk}, "check": {"S": key.check}, "kind": {"S": key.kind}}
    if "finding" in item:  # rewritten in the new shape (the old one still parses: shared/events.py)
        moved["finding"] = {"S": Finding.model_validate_json(item["finding"]["S"]).model_dump_json()}
    try:
        await dynamodb.put_item(TableName=table, Item=moved, ConditionExpression="attribute_not_exists(pk)")
    except dynamodb.exceptions.ConditionalCheckFailedException:
        pass  # an earlier run copied it; the old one is still to go
    condition = {"ConditionExpression": "version = :v", "ExpressionAttributeValues": {":v": item["version"]}}
    try:
        await dynamodb.delete_item(TableName=table, Key={"pk": {"S": pk}}, **condition)
    except dynamodb.exceptions.ConditionalCheckFailedException:
        log.warning("migrate.changed_while_moving", pk=pk)  # a worker of the old version wrote it
        return False
    return True


async def _rewrite_members(dynamodb: Any, table: str, card: dict[str, Any]) -> int:
    members = [member["S"] for member in card["members"]["L"]]
    if not any(DecisionKey.is_legacy_pk(member) for member in members):
        return 0
    modern = [DecisionKey.from_legacy_pk(m).pk if DecisionKey.is_legacy_pk(m) else m for m in members]
    try:
        await dynamodb.update_item(
            TableName=table,
            Key={"pk": card["pk"]},
            UpdateExpression="SET members = :new",
            ConditionExpression="members = :old",
            ExpressionAttributeValues={
                ":new": {"L": [{"S": m} for m in modern]},
                ":old": card["members"],
            },
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return 0
    return 1
