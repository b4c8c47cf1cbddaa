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
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from shared.errors import TransientError
from shared.events import DecisionKey, Finding, utcnow
from shared.ledger_records import AuxiliaryRecords
from shared.record import (
    ALLOWED,
    Attr,
    Decision,
    State,
    TransitionResult,
    decision_id_for,
    from_dynamo,
    plain,
    to_dynamo,
)

__all__ = [
    "ALLOWED",
    "STATE_INDEX",
    "Attr",
    "Decision",
    "Ledger",
    "State",
    "TransitionResult",
    "decision_id_for",
]


STATE_INDEX = "by-state"
_BATCH_ATTEMPTS = 8


class Unprocessed(TransientError):
    """DynamoDB returned part of a batch read unprocessed, even after backing off."""


class Ledger(AuxiliaryRecords):
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
        return from_dynamo(item) if item else None

    async def get_many(self, keys: Iterable[DecisionKey], *, in_flight: int = 4) -> dict[str, Decision]:
        """Batch reads, 100 keys a call, `in_flight` calls at once (one after another, 26 calls for a
        scan's 2,560 findings are 26 round trips); what DynamoDB leaves unprocessed (throttling) is
        asked for again with exponential backoff and jitter, as AWS recommends, and a read still
        incomplete after that is a TransientError: the message is retried later."""
        pks = list(dict.fromkeys(key.pk for key in keys))
        found: dict[str, Decision] = {}
        gate = asyncio.Semaphore(in_flight)

        async def chunk(part: Sequence[str]) -> None:
            async with gate:
                await self._get_chunk(part, found)

        await asyncio.gather(*(chunk(pks[i : i + 100]) for i in range(0, len(pks), 100)))
        return found

    async def _get_chunk(self, pks: Sequence[str], found: dict[str, Decision]) -> None:
        request: dict[str, Any] = {
            self._table: {"Keys": [{"pk": {"S": pk}} for pk in pks], "ConsistentRead": True}
        }
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(_BATCH_ATTEMPTS),
            wait=wait_exponential_jitter(initial=0.05, max=2),
            retry=retry_if_exception_type(Unprocessed),
            reraise=True,
        ):
            with attempt:
                answer = await self._db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    decision = from_dynamo(item)
                    found[decision.pk] = decision
                request = answer.get("UnprocessedKeys") or {}
                if request:
                    left = len(request.get(self._table, {}).get("Keys", []))
                    raise Unprocessed(f"{left} key(s) left unprocessed by BatchGetItem")

    async def create(
        self, finding: Finding, *, cycle: int = 0, now: datetime | None = None
    ) -> TransitionResult:
        """Record a first sighting (FOUND). Losing the race to another scanner is a normal result."""
        now = now or utcnow()
        item = self._new_item(finding, cycle=cycle, now=now)
        try:
            await self._db.put_item(
                TableName=self._table,
                Item={name: to_dynamo(value) for name, value in item.items()},
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException as lost:
            old = lost.response.get("Item")
            return TransitionResult(False, from_dynamo(old) if old else None)
        return TransitionResult(True, Decision({k: plain(v) for k, v in item.items()}))

    async def create_many(
        self, findings: Sequence[Finding], *, now: datetime | None = None, in_flight: int = 4
    ) -> list[TransitionResult]:
        """Many first sightings: up to 100 conditional puts per TransactWriteItems call, `in_flight`
        calls at once, so a scan's first sightings cost one request per hundred, not one each.

        Each put is `attribute_not_exists(pk)`, exactly as `create`. A transaction is cancelled whole
        when any condition fails; its CancellationReasons say which (with the winner's item, asked for
        with ALL_OLD): those are lost races, returned as such, and the rest is written again without
        them. A transaction refused for another reason (a conflicting transaction, throttling) is
        retried with backoff, then raised as a TransientError. Transactions bill two write units per
        item: only first sightings go through here, once per resource and cycle.
        """
        now = now or utcnow()
        unique = list({finding.key.pk: finding for finding in findings}.values())  # one op per item
        results: dict[str, TransitionResult] = {}
        gate = asyncio.Semaphore(in_flight)

        async def chunk(part: Sequence[Finding]) -> None:
            async with gate:
                await self._create_chunk(part, now, results)

        await asyncio.gather(*(chunk(unique[i : i + 100]) for i in range(0, len(unique), 100)))
        return [results[finding.key.pk] for finding in findings]

    async def _create_chunk(
        self, findings: Sequence[Finding], now: datetime, results: dict[str, TransitionResult]
    ) -> None:
        items = {f.key.pk: self._new_item(f, cycle=0, now=now) for f in findings}
        pending = list(items)
        while pending:
            lost = await self._put_all_or_lost(pending, items)
            for pk, reason in lost.items():
                old = reason.get("Item")
                results[pk] = TransitionResult(False, from_dynamo(old) if old else None)
            if not lost:
                for pk in pending:
                    results[pk] = TransitionResult(
                        True, Decision({k: plain(v) for k, v in items[pk].items()})
                    )
            # The others were refused only because of the lost ones: write them again without those.
            pending = [pk for pk in pending if lost and pk not in lost]

    async def _put_all_or_lost(
        self, pks: Sequence[str], items: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """Put them all in one transaction; or, when some conditions failed, which (pk -> reason)."""
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(_BATCH_ATTEMPTS),
            wait=wait_exponential_jitter(initial=0.05, max=2),
            retry=retry_if_exception_type(Unprocessed),
            reraise=True,
        ):
            with attempt:
                try:
                    await self._db.transact_write_items(
                        TransactItems=[
                            {
                                "Put": {
                                    "TableName": self._table,
                                    "Item": {k: to_dynamo(v) for k, v in items[pk].items()},
                                    "ConditionExpression": "attribute_not_exists(pk)",
                                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                                }
                            }
                            for pk in pks
                        ]
                    )
                except self._db.exceptions.TransactionCanceledException as cancelled:
                    reasons = cancelled.response.get("CancellationReasons", [])
                    lost = {
                        pk: reason
                        for pk, reason in zip(pks, reasons, strict=False)
                        if reason.get("Code") == "ConditionalCheckFailed"
                    }
                    if lost:
                        return lost
                    codes = sorted({str(reason.get("Code")) for reason in reasons} - {"None"})
                    raise Unprocessed(f"first sightings refused: {', '.join(codes) or 'no reason'}") from None
        return {}

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
        claimed_state: State = State.EXECUTING,
        expected_decision_id: str | None = None,
        expected_claim_id: str | None = None,
        unless_loses_money: bool = False,
        unless_withheld: bool = False,
    ) -> TransitionResult:
        """Move one decision from an expected state to `new`, atomically, and record it in its history.

        Args:
            claim_expired_before: also accept an item in `claimed_state` (EXECUTING, or RESTORING for
                an undo) whose `claim_expires_at` is earlier than this time (taking over a crashed
                executor's claim).
            expected_decision_id: refuse the move if the item has since started a new cycle.
            expected_claim_id: refuse the move unless the item's `claim_id` is this one (an executor
                renewing or ending its own claim, never one another executor has taken over).
            unless_loses_money: refuse the move when the decision's default clean-up would lose money
                (a negative `net_monthly_saving_usd`): an approval without a chosen remedy.
            unless_withheld: refuse the move when the decision is offered no clean-up at all (its
                `withheld` reason: a load balancer under deletion protection): any approval.
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
            names[f"#f{index}"] = str(name)
            values[f":f{index}"] = value
            sets.append(f"#f{index} = :f{index}")
        placeholders = []
        for index, state in enumerate(expected_states):
            values[f":e{index}"] = state.value
            placeholders.append(f":e{index}")
        condition = f"#state IN ({', '.join(placeholders)})"
        if claim_expired_before is not None:
            values[":executing"] = claimed_state.value
            values[":claim_deadline"] = claim_expired_before.isoformat()
            condition = f"({condition} OR (#state = :executing AND claim_expires_at < :claim_deadline))"
        if expected_decision_id is not None:
            values[":decision_id"] = expected_decision_id
            condition += " AND decision_id = :decision_id"
        if expected_claim_id is not None:
            values[":claim_id"] = expected_claim_id
            condition += " AND claim_id = :claim_id"
        if unless_loses_money:
            names["#net"] = "net_monthly_saving_usd"
            condition += " AND (attribute_not_exists(#net) OR #net >= :zero)"
        if unless_withheld:
            names["#withheld"] = Attr.WITHHELD
            condition += " AND attribute_not_exists(#withheld)"
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
                ExpressionAttributeValues={name: to_dynamo(value) for name, value in values.items()},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException as lost:
            old = lost.response.get("Item")
            return TransitionResult(False, from_dynamo(old) if old else None)
        return TransitionResult(True, from_dynamo(answer["Attributes"]))

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
        self,
        state: State,
        *,
        attributes: Sequence[str] | None = None,
        changed_before: datetime | None = None,
        account_id: str | None = None,
    ) -> AsyncIterator[Decision]:
        """Every decision in `state`, newest change last, through the by-state index.

        `attributes` reads only those (plus pk and state): a sweep over many decisions that needs a
        few fields should not transfer and decode every finding's JSON. `changed_before` reads only
        those last changed before then (the index's sort key): a sweep for old ones skips the rest.
        `account_id` returns only that account's (a filter: the other accounts' are still read, but
        not sent, which in an organization is most of them).
        """
        names = {"#state": "state"}
        condition = "#state = :state"
        values: dict[str, Any] = {":state": {"S": state.value}}
        if changed_before is not None:
            condition += " AND updated_at < :before"
            values[":before"] = {"S": changed_before.isoformat()}
        projection: dict[str, str] = {}
        if account_id is not None:
            names["#account"] = Attr.ACCOUNT_ID
            values[":account"] = {"S": account_id}
            projection["FilterExpression"] = "#account = :account"
        if attributes is not None:
            wanted = dict.fromkeys(["pk", "state", *attributes])
            names |= {f"#p{index}": name for index, name in enumerate(wanted)}
            projection["ProjectionExpression"] = ", ".join(f"#p{index}" for index in range(len(wanted)))
        paginator = self._db.get_paginator("query")
        async for page in paginator.paginate(
            TableName=self._table,
            IndexName=STATE_INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            **projection,
        ):
            for item in page.get("Items", []):
                yield from_dynamo(item)

    async def everything(self) -> AsyncIterator[Decision]:
        """A full table scan: for reports over small ledgers and the local default, not for workers."""
        paginator = self._db.get_paginator("scan")
        async for page in paginator.paginate(TableName=self._table):
            for item in page.get("Items", []):
                yield from_dynamo(item)

    @staticmethod
    def _new_item(finding: Finding, *, cycle: int, now: datetime) -> dict[str, Any]:
        key = finding.key
        return {
            Attr.PK: key.pk,
            Attr.STATE: State.FOUND.value,
            Attr.DECISION_ID: decision_id_for(key, cycle),
            Attr.CYCLE: cycle,
            Attr.VERSION: 1,
            Attr.KIND: key.kind,
            Attr.CHECK: key.check,
            Attr.ACCOUNT_ID: key.account_id,
            Attr.REGION: key.region,
            Attr.RESOURCE_ID: key.resource_id,
            Attr.CREATED_AT: now.isoformat(),
            Attr.UPDATED_AT: now.isoformat(),
            Attr.IDLE_SINCE: finding.idle_since.isoformat(),
            Attr.MONTHLY_COST_USD: finding.cost.monthly_usd,
            Attr.NET_MONTHLY_SAVING_USD: finding.cost.net_monthly_saving_usd,
            Attr.FINGERPRINT: finding.fingerprint,
            Attr.FINDING: finding.model_dump_json(),
            Attr.HISTORY: [{"from": "", "to": State.FOUND.value, "at": now.isoformat(), "by": "scanner"}],
        } | ({Attr.WITHHELD: finding.cost.withheld} if finding.cost.withheld else {})
