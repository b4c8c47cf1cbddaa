"""The decision ledger: one DynamoDB item per finding, moved through a state machine by conditional writes.

    FOUND → ANALYZED → AWAITING_APPROVAL → APPROVED → EXECUTING → EXECUTED
                                         ↘ REJECTED              ↘ SKIPPED
                                         ↘ SNOOZED               ↘ FAILED

Every change names the state it expects; DynamoDB refuses it when another writer got there first, and
that refusal comes back as `TransitionResult(applied=False, current=<the winner's item>)`, not as an
exception. This is the guard in front of every side effect (powertools' idempotency idea applied to our
own states): whoever wins the APPROVED → EXECUTING claim is the only one allowed to touch AWS.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from shared.events import EVENT_NAMESPACE, Analysis, DecisionKey, Finding, utcnow


class State(StrEnum):
    FOUND = "FOUND"
    ANALYZED = "ANALYZED"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    SNOOZED = "SNOOZED"
    EXECUTING = "EXECUTING"
    EXECUTED = "EXECUTED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"


S = State
# Which moves are legal. A move not listed is a programming error, raised before anything is written.
ALLOWED: dict[State, frozenset[State]] = {
    S.FOUND: frozenset({S.ANALYZED}),
    S.ANALYZED: frozenset({S.ANALYZED, S.AWAITING_APPROVAL}),
    S.AWAITING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.SNOOZED}),
    S.APPROVED: frozenset({S.EXECUTING}),
    # EXECUTING → EXECUTING is a takeover of an expired claim (a crashed executor).
    S.EXECUTING: frozenset({S.EXECUTING, S.EXECUTED, S.SKIPPED, S.FAILED}),
    S.FAILED: frozenset({S.EXECUTING}),
    # A new cycle: the resource is idle again after it was skipped, snoozed past its date, or dry-run.
    S.SKIPPED: frozenset({S.FOUND}),
    S.SNOOZED: frozenset({S.FOUND}),
    S.EXECUTED: frozenset({S.FOUND}),
    S.REJECTED: frozenset(),
}

STATE_INDEX = "by-state"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def decision_id_for(key: DecisionKey, cycle: int) -> str:
    """Stable id of one decision cycle: the same finding in the same cycle always gets the same id."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"decision#{key.pk}#{cycle}"))


@dataclass(frozen=True)
class Decision:
    """A ledger item as read back: typed accessors over DynamoDB attributes."""

    attrs: Mapping[str, Any]

    @property
    def pk(self) -> str:
        return str(self.attrs["pk"])

    @property
    def key(self) -> DecisionKey:
        return DecisionKey.from_pk(self.pk)

    @property
    def state(self) -> State:
        return State(self.attrs["state"])

    @property
    def decision_id(self) -> str:
        return str(self.attrs["decision_id"])

    @property
    def cycle(self) -> int:
        return int(self.attrs.get("cycle", 0))

    @property
    def version(self) -> int:
        return int(self.attrs.get("version", 0))

    @property
    def finding(self) -> Finding:
        return Finding.model_validate_json(self.attrs["finding"])

    @property
    def analysis(self) -> Analysis | None:
        raw = self.attrs.get("analysis")
        return Analysis.model_validate_json(raw) if raw else None

    def get(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def time(self, name: str) -> datetime | None:
        raw = self.attrs.get(name)
        return datetime.fromisoformat(raw) if raw else None


@dataclass(frozen=True)
class TransitionResult:
    """`applied` tells who won; `current` is the item after our write, or the one that beat us."""

    applied: bool
    current: Decision | None


def _to_dynamo(value: Any) -> dict[str, Any]:
    return _serializer.serialize(_plain(value))


def _plain(value: Any) -> Any:
    """DynamoDB wants Decimal, not float, and strings for times, enums and models."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if hasattr(value, "model_dump_json"):
        return value.model_dump_json()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _from_dynamo(item: Mapping[str, Any]) -> Decision:
    return Decision({name: _deserializer.deserialize(value) for name, value in item.items()})


class Ledger:
    """All reads and writes of the decision table; `dynamodb` is an aiobotocore client."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    @property
    def table_name(self) -> str:
        return self._table

    async def get(self, key: DecisionKey | str) -> Decision | None:
        pk = key if isinstance(key, str) else key.pk
        answer = await self._db.get_item(TableName=self._table, Key={"pk": {"S": pk}}, ConsistentRead=True)
        item = answer.get("Item")
        return _from_dynamo(item) if item else None

    async def get_many(self, keys: Iterable[DecisionKey]) -> dict[str, Decision]:
        """Batch reads, 100 keys a call, retrying what DynamoDB leaves unprocessed."""
        pks = list(dict.fromkeys(key.pk for key in keys))
        found: dict[str, Decision] = {}
        for start in range(0, len(pks), 100):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [{"pk": {"S": pk}} for pk in pks[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while request:
                answer = await self._db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    decision = _from_dynamo(item)
                    found[decision.pk] = decision
                request = answer.get("UnprocessedKeys") or {}
        return found

    async def create(
        self, finding: Finding, *, cycle: int = 0, now: datetime | None = None
    ) -> TransitionResult:
        """Record a first sighting (FOUND). Losing the race to another scanner is a normal result."""
        now = now or utcnow()
        item = self._new_item(finding, cycle=cycle, now=now)
        try:
            await self._db.put_item(
                TableName=self._table,
                Item={name: _to_dynamo(value) for name, value in item.items()},
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException as lost:
            old = lost.response.get("Item")
            return TransitionResult(False, _from_dynamo(old) if old else None)
        return TransitionResult(True, Decision({k: _plain(v) for k, v in item.items()}))

    async def create_many(
        self, findings: Sequence[Finding], *, now: datetime | None = None, concurrency: int = 16
    ) -> list[TransitionResult]:
        """Many first sightings: one conditional put each (`create`), `concurrency` of them in flight.

        Not TransactWriteItems: a transaction fails whole when any one condition fails, bills two
        write units per item, and moto (the local default and the tests) emulates it by deep-copying
        the whole table once per item, which is quadratic: about six minutes for the 1,710 first
        sightings of the scan benchmark (bench/README.md), against seconds for independent puts.
        """
        now = now or utcnow()
        gate = asyncio.Semaphore(concurrency)

        async def one(finding: Finding) -> TransitionResult:
            async with gate:
                return await self.create(finding, now=now)

        return list(await asyncio.gather(*(one(finding) for finding in findings)))

    async def transition(
        self,
        key: DecisionKey | str,
        expected: State | Iterable[State],
        new: State,
        *,
        fields: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        actor: str = "cloudthrift",
        note: str | None = None,
        now: datetime | None = None,
        claim_expired_before: datetime | None = None,
        expected_decision_id: str | None = None,
        expected_claim_id: str | None = None,
    ) -> TransitionResult:
        """Move one decision from an expected state to `new`, atomically, and record it in its history.

        Args:
            claim_expired_before: also accept an EXECUTING item whose `claim_expires_at` is earlier
                than this time (taking over a crashed executor's claim).
            expected_decision_id: refuse the move if the item has since started a new cycle.
            expected_claim_id: refuse the move unless the item's `claim_id` is this one (an executor
                renewing or ending its own claim, never one another executor has taken over).
        """
        expected_states = (expected,) if isinstance(expected, State) else tuple(expected)
        for state in expected_states:
            if new not in ALLOWED[state]:
                raise ValueError(f"illegal ledger transition {state} → {new}")
        now = now or utcnow()
        pk = key if isinstance(key, str) else key.pk
        names: dict[str, str] = {"#state": "state"}
        values: dict[str, Any] = {
            ":new": new.value,
            ":now": now.isoformat(),
            ":one": 1,
            ":zero": 0,
            ":empty": [],
            ":history": [
                {
                    "from": "|".join(s.value for s in expected_states),
                    "to": new.value,
                    "at": now.isoformat(),
                    "by": actor,
                }
                | ({"note": note} if note else {})
            ],
        }
        sets = [
            "#state = :new",
            "updated_at = :now",
            "version = if_not_exists(version, :zero) + :one",
            "history = list_append(if_not_exists(history, :empty), :history)",
        ]
        for index, (name, value) in enumerate((fields or {}).items()):
            names[f"#f{index}"] = name
            values[f":f{index}"] = value
            sets.append(f"#f{index} = :f{index}")
        placeholders = []
        for index, state in enumerate(expected_states):
            values[f":e{index}"] = state.value
            placeholders.append(f":e{index}")
        condition = f"#state IN ({', '.join(placeholders)})"
        if claim_expired_before is not None:
            values[":executing"] = State.EXECUTING.value
            values[":claim_deadline"] = claim_expired_before.isoformat()
            condition = f"({condition} OR (#state = :executing AND claim_expires_at < :claim_deadline))"
        if expected_decision_id is not None:
            values[":decision_id"] = expected_decision_id
            condition += " AND decision_id = :decision_id"
        if expected_claim_id is not None:
            values[":claim_id"] = expected_claim_id
            condition += " AND claim_id = :claim_id"
        expression = "SET " + ", ".join(sets)
        removed = [f"#r{index}" for index, _ in enumerate(remove)]
        for index, name in enumerate(remove):
            names[f"#r{index}"] = name
        if removed:
            expression += " REMOVE " + ", ".join(removed)
        try:
            answer = await self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": pk}},
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(pk) AND {condition}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={name: _to_dynamo(value) for name, value in values.items()},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException as lost:
            old = lost.response.get("Item")
            return TransitionResult(False, _from_dynamo(old) if old else None)
        return TransitionResult(True, _from_dynamo(answer["Attributes"]))

    async def forget(self, key: DecisionKey | str, *, expected: State, idle_since: str) -> bool:
        """Drop a FOUND item whose resource was seen busy again, so its idle clock restarts.

        Conditional on the state and the idle clock we read, so it never erases a newer sighting.
        """
        pk = key if isinstance(key, str) else key.pk
        try:
            await self._db.delete_item(
                TableName=self._table,
                Key={"pk": {"S": pk}},
                ConditionExpression="#state = :expected AND idle_since = :since",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":expected": {"S": expected.value}, ":since": {"S": idle_since}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    async def by_state(
        self, state: State, *, attributes: Sequence[str] | None = None
    ) -> AsyncIterator[Decision]:
        """Every decision in `state`, newest change last, through the by-state index.

        `attributes` reads only those (plus pk and state): a sweep over many decisions that needs a
        few fields should not transfer and decode every finding's JSON.
        """
        names = {"#state": "state"}
        projection: dict[str, str] = {}
        if attributes is not None:
            wanted = dict.fromkeys(["pk", "state", *attributes])
            names |= {f"#p{index}": name for index, name in enumerate(wanted)}
            projection["ProjectionExpression"] = ", ".join(f"#p{index}" for index in range(len(wanted)))
        paginator = self._db.get_paginator("query")
        async for page in paginator.paginate(
            TableName=self._table,
            IndexName=STATE_INDEX,
            KeyConditionExpression="#state = :state",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":state": {"S": state.value}},
            **projection,
        ):
            for item in page.get("Items", []):
                yield _from_dynamo(item)

    async def everything(self) -> AsyncIterator[Decision]:
        """A full table scan: for reports over small ledgers and the local default, not for workers."""
        paginator = self._db.get_paginator("scan")
        async for page in paginator.paginate(TableName=self._table):
            for item in page.get("Items", []):
                yield _from_dynamo(item)

    async def put_record(self, pk: str, attributes: Mapping[str, Any]) -> bool:
        """Write an auxiliary record (not a decision) once; False if it already exists."""
        try:
            await self._db.put_item(
                TableName=self._table,
                Item={"pk": {"S": pk}} | {name: _to_dynamo(value) for name, value in attributes.items()},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    async def refresh_record(self, pk: str, attributes: Mapping[str, Any], *, newer: str) -> bool:
        """Write an auxiliary record unless it already holds a later value of `newer` (a heartbeat):
        False when a fresher write got there first. Conditional like every other write."""
        try:
            await self._db.put_item(
                TableName=self._table,
                Item={"pk": {"S": pk}} | {name: _to_dynamo(value) for name, value in attributes.items()},
                ConditionExpression="attribute_not_exists(pk) OR #newer < :newer",
                ExpressionAttributeNames={"#newer": newer},
                ExpressionAttributeValues={":newer": _to_dynamo(attributes[newer])},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    @staticmethod
    def _new_item(finding: Finding, *, cycle: int, now: datetime) -> dict[str, Any]:
        return {
            "pk": finding.key.pk,
            "state": State.FOUND.value,
            "decision_id": decision_id_for(finding.key, cycle),
            "cycle": cycle,
            "version": 1,
            "kind": finding.kind,
            "account_id": finding.key.account_id,
            "region": finding.key.region,
            "resource_id": finding.key.resource_id,
            "created_at": now.isoformat(),
            "updated_at": now.isoformat(),
            "idle_since": finding.idle_since.isoformat(),
            "monthly_cost_usd": finding.cost.monthly_usd,
            "net_monthly_saving_usd": finding.cost.net_monthly_saving_usd,
            "fingerprint": finding.fingerprint,
            "finding": finding.model_dump_json(),
            "history": [{"from": "", "to": State.FOUND.value, "at": now.isoformat(), "by": "scanner"}],
        }
