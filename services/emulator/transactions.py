"""The embedded AWS's TransactWriteItems backup: what a rollback needs, made once per transaction.

moto backs a table up before a TransactWriteItems by calling `copy.deepcopy(table)` once per item of
the transaction (up to 100 copies of one unchanged table, all before the first write, keeping only the
last), which makes a scan's first sightings quadratic in the ledger's size (bench/README.md). A rollback
only needs what the transaction can change: the items it names (moto refuses two operations on one
item). So, during a transaction, the backup of a table keyed by hash only is a shallow copy of the table
whose item map holds deep copies of the named items and the very same objects for all others, made
once per table and transaction: a later copy in the same transaction returns the first (nothing was
written in between). The item map is copied by `dict`'s own copy, which reuses the stored hashes, and
only the named keys are looked up: building it key by key had cost 100 x the table's size in
`DynamoType.__hash__` calls per transaction (py-spy, the latency bench's 2,560 first sightings).
Tables with a range key, and every copy outside a transaction, are deep-copied as moto does.
`serialise_dynamodb` (services/embedded_aws.py) serves DynamoDB one request at a time, so no two
transactions run at once.
"""

from __future__ import annotations

from typing import Any


class _TransactionBackup:
    """Stands in for the `copy` module in moto's DynamoDB models (see the module's docstring)."""

    def __init__(self, real: Any, table_type: type, key_type: type) -> None:
        self._real, self._table_type, self._key_type = real, table_type, key_type
        self.touched: set[Any] | None = None  # hash keys the running transaction names
        self._copies: dict[int, Any] = {}  # this transaction's backups, by table

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if self.touched is None or not isinstance(value, self._table_type) or value.range_key_attr:
            return self._real.deepcopy(value, memo)
        if id(value) not in self._copies:
            backup = self._real.copy(value)
            items = type(value.items)(value.items.default_factory, value.items)
            for key in [key for key in self.touched if key in items]:
                items[key] = self._real.deepcopy(items[key])
            backup.items = items
            self._copies[id(value)] = backup
        return self._copies[id(value)]

    def begin(self, transact_items: list[dict[str, Any]]) -> None:
        """Name the hash keys the transaction may change (every key attribute value: a superset)."""
        keys = set()
        for entry in transact_items:
            for op in entry.values():
                attributes = op.get("Item") or op.get("Key") or {}
                keys |= {self._key_type(v) for v in attributes.values() if set(v) <= {"S", "N", "B"}}
        self.touched, self._copies = keys, {}

    def end(self) -> None:
        self.touched, self._copies = None, {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def back_up_transactions_lightly() -> None:
    """Install `_TransactionBackup` on moto's DynamoDB models (once per process)."""
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if isinstance(models.copy, _TransactionBackup):
        return
    shim = _TransactionBackup(models.copy, Table, DynamoType)
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        shim.begin(transact_items)
        try:
            return original(self, transact_items)
        finally:
            shim.end()

    models.copy = shim  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
