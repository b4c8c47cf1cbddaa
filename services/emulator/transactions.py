"""The embedded AWS's TransactWriteItems backup, made once per transaction at C speed, not once per item.

moto backs up a table before a transaction by calling `copy.deepcopy(table)` once per item of the
transaction, all before the first write, keeping only the last copy: up to 100 copies of one unchanged
table. `_TransactionBackup` (services/embedded_aws.py) already makes each copy shallow except for the
items the transaction names, but it builds it key by key in Python, testing every key of the table
against the named ones, and `DynamoType.__hash__` converts the key's value on every test. So each
transaction cost 100 x the table's size in hashes: with the latency bench's 2,560 first sightings (26
transactions onto a growing ledger), py-spy found the emulator inside that loop most of the time
(bench/README.md), and the scan waited on it.

The patch keeps the backup exactly as it was (the table shallow-copied, the named items deep-copied,
every other item the very same object) and makes it once per transaction: a later copy of the same
table in the same transaction returns the first (nothing was written in between), the item map is
copied by `dict`'s own copy (which reuses the stored hashes), and only the named keys are looked up.
Tables with a range key and copies outside a transaction still go to `copy.deepcopy`. Installed once
per process by `back_up_once_per_transaction()`, from services/embedded_aws.py, after the backup shim.
"""

from __future__ import annotations

from typing import Any

_INSTALLED = "_cloudthrift_once_per_transaction"


def _deepcopy(shim: Any, value: Any, memo: Any = None) -> Any:
    """`_TransactionBackup.deepcopy`, made once per table and transaction."""
    touched = shim.touched
    if touched is None or not isinstance(value, shim._table_type) or value.range_key_attr:
        return shim._real.deepcopy(value, memo)
    made = shim.__dict__.get("_made")
    if made is None or made[0] is not touched:  # `touched` is a new set for every transaction
        made = (touched, {})
        shim.__dict__["_made"] = made
    copies: dict[int, Any] = made[1]
    if id(value) not in copies:
        backup = shim._real.copy(value)
        items = type(value.items)(value.items.default_factory, value.items)
        for key in [key for key in touched if key in items]:
            items[key] = shim._real.deepcopy(items[key])
        backup.items = items
        copies[id(value)] = backup
    return copies[id(value)]


def back_up_once_per_transaction() -> None:
    """Replace the backup shim's copy (once per process)."""
    from services.embedded_aws import _TransactionBackup

    if getattr(_TransactionBackup, _INSTALLED, False):
        return
    _TransactionBackup.deepcopy = _deepcopy  # type: ignore[method-assign]
    setattr(_TransactionBackup, _INSTALLED, True)
