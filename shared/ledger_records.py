"""The ledger's auxiliary records: items of the decision table that are not decisions.

Card records (`card#<id>`, a group card's members and tally), notify-group windows, the executor's
mode and heartbeat (`executor#live`). Each write is conditional like every decision write; none is a
state transition, so none goes through `Ledger.transition` or leaves history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.record import from_dynamo, to_dynamo


class AuxiliaryRecords:
    """Mixed into `Ledger`: the same table (`_table`) and client (`_db`)."""

    _db: Any
    _table: str

    async def put_record(self, pk: str, attributes: Mapping[str, Any]) -> bool:
        """Write an auxiliary record (not a decision) once; False if it already exists."""
        try:
            await self._db.put_item(
                TableName=self._table,
                Item={"pk": {"S": pk}} | {name: to_dynamo(value) for name, value in attributes.items()},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    async def update_if(
        self,
        pk: str,
        *,
        update: str,
        condition: str,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> bool:
        """One conditional UpdateItem of bookkeeping that is not a state change (a decision's re-drive
        record, a group card's tally); False when the condition failed. Nothing is read back."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": pk}},
            "UpdateExpression": update,
            "ConditionExpression": condition,
        }
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        if values:
            request["ExpressionAttributeValues"] = {name: to_dynamo(v) for name, v in values.items()}
        try:
            await self._db.update_item(**request)
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    async def refresh_record(self, pk: str, attributes: Mapping[str, Any], *, newer: str) -> bool:
        """Write an auxiliary record unless it already holds a later value of `newer` (a heartbeat):
        False when a fresher write got there first. Conditional like every other write."""
        try:
            await self._db.put_item(
                TableName=self._table,
                Item={"pk": {"S": pk}} | {name: to_dynamo(value) for name, value in attributes.items()},
                ConditionExpression="attribute_not_exists(pk) OR #newer < :newer",
                ExpressionAttributeNames={"#newer": newer},
                ExpressionAttributeValues={":newer": to_dynamo(attributes[newer])},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    async def read_fields(self, pk: str, fields: Sequence[str]) -> dict[str, Any] | None:
        """Some attributes of one item (consistent read): a card's counters without its member list."""
        names = {f"#p{index}": name for index, name in enumerate(fields)}
        answer = await self._db.get_item(
            TableName=self._table,
            Key={"pk": {"S": pk}},
            ConsistentRead=True,
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
        )
        item = answer.get("Item")
        if item is None:
            return None
        return dict(from_dynamo(item).attrs)
