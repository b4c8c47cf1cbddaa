"""The embedded AWS's DynamoDB UpdateItem: no copies nobody reads, each expression parsed once.

Three things moto does on every UpdateItem that the ledger's writes never need:

- its backend deep-copies the item before updating it (`orig_item`), only to hand the before and after
  images to the table's stream, if the table has one. Our tables have none, and a decision with its
  history, or a group card with its member list, is a large tree of moto objects to copy;
- its request handler deep-copies the item too, to answer ReturnValues with the old values; with
  ReturnValues NONE (the tally of a group card, a claim's renewal) that answer is dropped;
- it tokenizes and parses the update expression twice per request (once to validate the request's
  names and values, once to apply it), though the executor sends the same few expressions over and
  over. The parse is a pure function of the expression's text, and moto never changes the tree it
  returns: its validator works on a deep copy of it, the request handler only reads it.

So the patch skips those copies (of the very item object the request updates, and no other) when
nobody reads them: the handler's with ReturnValues NONE, the backend's without a stream; and it keeps
the parsed trees by expression text (a bounded cache; an
expression that fails to parse is not kept and fails as before). Answers, errors and the stored items
are moto's own: tests/test_emulator_patches.py compares them with an unpatched backend.
"""

from __future__ import annotations

import threading
from typing import Any

_CACHE_LIMIT = 512
_skip = threading.local()  # `item_id`: the id() of the item whose next deep copy is not needed


def update_items_lightly() -> None:
    """Install both on moto's DynamoDB backend and parser (once per process)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoDBBackend.update_item, "_light", False):
        return
    original_update = DynamoDBBackend.update_item
    original_handle = DynamoHandler.update_item
    original_copy = Item.__deepcopy__
    original_make = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]
    parsed: dict[str, Any] = {}

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        table = self.get_table(table_name)
        item = _current(table, key) if table.stream_shard is None else None
        _skip.item_id = id(item) if item is not None else None
        try:
            return original_update(self, table_name, key, *args, **kwargs)
        finally:
            _skip.item_id = None

    def handle_update_item(self: Any) -> Any:
        item = None
        if self.body.get("ReturnValues", "NONE") == "NONE":
            try:
                table = self.dynamodb_backend.get_table(self.body["TableName"])
                item = _current(table, self.body["Key"])
            except Exception:  # an unknown table or a bad key: moto answers it as before
                item = None
        _skip.item_id = id(item) if item is not None else None
        try:
            return original_handle(self)
        finally:
            _skip.item_id = None

    def __deepcopy__(self: Any, memo: dict[int, Any]) -> Any:
        if getattr(_skip, "item_id", None) == id(self):
            _skip.item_id = None  # only the one copy the backend makes for the stream
            return self
        return original_copy(self, memo)

    def make(cls: Any, expression_str: str) -> Any:
        if cls is not UpdateExpressionParser or not isinstance(expression_str, str):
            return original_make(cls, expression_str)
        tree = parsed.get(expression_str)
        if tree is None:
            tree = original_make(cls, expression_str)
            if len(parsed) >= _CACHE_LIMIT:
                parsed.clear()
            parsed[expression_str] = tree
        return tree

    update_item._light = True  # type: ignore[attr-defined]
    update_item.original = original_update  # type: ignore[attr-defined]
    make.original = original_make  # type: ignore[attr-defined]
    handle_update_item.original = original_handle  # type: ignore[attr-defined]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    DynamoHandler.update_item = handle_update_item  # type: ignore[method-assign]
    Item.__deepcopy__ = __deepcopy__  # type: ignore[method-assign]
    UpdateExpressionParser.make = classmethod(make)  # type: ignore[assignment,method-assign]


def _current(table: Any, key: dict[str, Any]) -> Any:
    """The item the backend is about to fetch and copy, found as it finds it; None if not there."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
        return table.get_item(hash_value, range_value)
    except Exception:  # a malformed key: moto's own update raises the right error for it
        return None
