"""Embedded AWS speed-up for DynamoDB queries: what moto 5.2.5 does per page, done once or not at all.

The savings report reads every decision through the by-state index, projected to the thirty-odd
attributes it uses (bench/README.md, "Savings report"). For each page of such a query moto:

1. converts the whole stored item to plain Python once per projected path (`Item.project`), each time
   deep-copying every attribute (the finding's JSON, the history list and its maps) to pick one out,
   then builds the projected item through a dict that re-measures all its attributes on every insert;
2. sorts every item of the table by its key (`all_items`), filters the state's items, sorts those
   again by the index's keys with Python-level comparisons, and walks past the earlier pages one
   comparison at a time; then deep-copies each whole item of the page before projecting it;
3. serialises the answer through its generic, model-driven serializer, which looks up every possible
   member of every `AttributeValue` (about 170 look-ups for an item of 20 attributes).

At 10,000 decisions that was minutes a report. `speed_up_queries` installs four replacements:

- `Item.project` converts only the top-level attributes the paths start at, each once, and gives each
  path a deep copy of what it selects (moto's fresh conversion per path), merged by moto's own
  `find_nested_key` and `merge_dicts`; whole attributes of string, boolean or null type, which that
  round trip returns unchanged, are copied as they are. The projected item skips the per-insert size
  check, as moto's own `Item.__deepcopy__` does: a part of a stored item cannot exceed the limit.
- `Table.query`, for the one shape the ledger uses (a global index with a hash and a range key on a
  table keyed by hash only, key conditions only), selects the index's items in one pass, sorts them
  by the same keys compared as the same values (`cast_value`, which `DynamoType`'s comparisons use),
  finds where the previous page ended by the same comparison, fills the page by the same rules
  (Limit, 1 MB of whole items, the range condition), and projects before copying: a projected item
  shares nothing with the stored one. Any other query (a table query, a filter on the old
  `QueryFilter`, mixed key types, a start key it cannot read) goes to moto's own code unchanged.
- `DynamoResult.__init__` and `execute_result`, for an answer with `Items`, serialise everything else
  with moto's serializer and write the items' wire form (`{"S": ...}`, binary as base64) directly.

Same answers, same pages, same errors: tests/shared/test_emulator_query.py compares each with moto's
own on items of every attribute type, forwards and backwards, with and without projections and limits.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

_LIST_ELEMENT = re.compile(r"(.+)\[(\d+)\]$")  # moto's own pattern for `name[3]` in a path
_NATIVE = ("S", "N")  # key types whose `cast_value` (str, Decimal) orders as `DynamoType` does
_SCALAR = ("S", "N", "BOOL", "NULL")  # types whose wire value is the stored one, as it is


def speed_up_queries() -> None:
    """Install the three replacements on moto's DynamoDB models (once per process)."""
    if MOTO_ORIGINALS:
        return
    for owner, name, faster in _replacements():
        MOTO_ORIGINALS.append((owner, name, getattr(owner, name)))
        setattr(owner, name, faster(getattr(owner, name)))


# (class, attribute, moto's own function) for each replacement installed: the tests compare with them.
MOTO_ORIGINALS: list[tuple[type, str, Callable[..., Any]]] = []


def _replacements() -> list[tuple[type, str, Callable[[Callable[..., Any]], Callable[..., Any]]]]:
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoResult

    return [
        (Item, "project", lambda _moto: _project),
        (Table, "query", _fast_query),
        (DynamoResult, "__init__", _items_kept_plain),
        (DynamoResult, "execute_result", _items_as_json),
    ]


def _project(self: Any, projection_expressions: list[list[str]]) -> Any:
    from moto.dynamodb.models import dynamo_type

    heads: dict[str, None] = {}  # in the paths' order, as moto's result has them
    for path in projection_expressions:
        element = _LIST_ELEMENT.match(path[0])
        heads[element.group(1) if element else path[0]] = None
    item = dynamo_type.Item.__new__(dynamo_type.Item)
    item.hash_key, item.range_key = self.hash_key, self.range_key
    item.attrs = dynamo_type.LimitedSizeDict()
    present = [name for name in heads if name in self.attrs]
    if all(len(path) == 1 and path[0] in heads for path in projection_expressions):
        # Whole top-level attributes, none a list element: what moto's find_nested_key and merge_dicts
        # make of them is each attribute converted to Python and back, in the paths' order.
        dict.update(item.attrs, {name: _round_trip(self.attrs[name]) for name in present})
        return item
    regular = {
        name: dynamo_type.deserializer.deserialize(self.attrs[name].to_regular_json()) for name in present
    }
    result: dict[str, Any] = {}
    for path in projection_expressions:
        dynamo_type.merge_dicts(result, copy.deepcopy(dynamo_type.find_nested_key(path, regular)))
    attrs = dynamo_type.serializer.serialize(result)["M"]
    dict.update(item.attrs, {name: dynamo_type.DynamoType(value) for name, value in attrs.items()})
    return item


def _round_trip(value: Any) -> Any:
    """A DynamoType deserialised and serialised again, as moto's projection does: a string, a boolean
    and a null come back as they were (a number may not: "1e2" comes back "1E+2")."""
    from moto.dynamodb.models import dynamo_type

    if value.type in ("S", "BOOL", "NULL") and isinstance(value.value, str | bool):
        return dynamo_type.DynamoType({value.type: value.value})
    plain = dynamo_type.deserializer.deserialize(value.to_regular_json())
    return dynamo_type.DynamoType(dynamo_type.serializer.serialize(plain))


def _fast_query(original: Callable[..., Any]) -> Callable[..., Any]:
    def query(
        self: Any,
        hash_key: Any,
        range_comparison: Any,
        range_objs: Any,
        limit: Any,
        exclusive_start_key: Any,
        scan_index_forward: bool,
        projection_expressions: Any,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: Any = None,
        range_key_conditions: Any = None,
        **filter_kwargs: Any,
    ) -> Any:
        args = (hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                projection_expressions)  # fmt: skip
        kwargs = {"index_name": index_name, "consistent_read": consistent_read,
                  "filter_expression": filter_expression, "hash_key_conditions": hash_key_conditions,
                  "range_key_conditions": range_key_conditions, **filter_kwargs}  # fmt: skip
        plan = _plan(
            self, index_name, consistent_read, hash_key_conditions, range_key_conditions, filter_kwargs
        )
        page = _page(self, plan, *args, index_name) if plan is not None else None
        if page is None:
            return original(self, *args, **kwargs)
        results, scanned_count, last_evaluated_key = page
        index = self.get_index(index_name)
        if projection_expressions:  # projected items are new: no whole-item copy needed
            results = [index.project(r) for r in results]
            if filter_expression is not None:
                results = [item for item in results if filter_expression.expr(item)]
            results = [r.project(projection_expressions) for r in results]
        else:
            results = [index.project(r) for r in copy.deepcopy(results)]
            if filter_expression is not None:
                results = [item for item in results if filter_expression.expr(item)]
        return results, scanned_count, last_evaluated_key

    return query


def _plan(
    table: Any,
    index_name: str | None,
    consistent_read: bool,
    hash_conditions: Any,
    range_conditions: Any,
    filter_kwargs: dict[str, Any],
) -> tuple[str, str, Any, str] | None:
    """(index hash key, index range key, the hash value asked, the range condition's attribute) for
    the shape served here, None for anything moto's own code should answer (and validate)."""
    if not index_name or consistent_read or filter_kwargs or table.range_key_attr:
        return None
    index = next((i for i in table.global_indexes or [] if i.name == index_name), None)
    if index is None:
        return None
    hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    if len(hashes) != 1 or len(ranges) != 1 or len(hash_conditions or []) != 1:
        return None
    if len(range_conditions or []) > 1 or hash_conditions[0][0] != hashes[0]:
        return None
    compared = range_conditions[-1][0] if range_conditions else ranges[0]
    return hashes[0], ranges[0], hash_conditions[0][1], compared


def _page(table: Any, plan: tuple[str, str, Any, str], hash_key: Any, range_comparison: Any,
          range_objs: Any, limit: Any, start: Any, forward: bool, _projection: Any,
          index_name: str | None) -> tuple[list[Any], int, Any] | None:  # fmt: skip
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    hash_attr, range_attr, expected, compared = plan
    order = [hash_attr, range_attr, table.hash_key_attr]  # moto's _generate_attr_to_sort_by for this shape
    found = []
    for item in table.items.values():
        if not isinstance(item, Item):
            continue
        value = item.attrs.get(hash_attr)
        if not value or not _equal(value, expected) or not item.attrs.get(range_attr):
            continue
        found.append(item)
    types = [{item.attrs[a].type for item in found} for a in order]
    if any(len(kinds) > 1 or not kinds <= set(_NATIVE) for kinds in types):
        return None  # mixed or composite key types: moto's comparisons decide
    keyed = sorted(((tuple(_native(item.attrs[a]) for a in order), item) for item in found),
                   key=lambda pair: pair[0], reverse=not forward)  # fmt: skip
    if start is not None:
        if any(a not in start for a in order):
            return None
        at = [DynamoType(start[a]) for a in order]
        if any(kinds and {value.type} != kinds for value, kinds in zip(at, types, strict=True)):
            return None
        mark = tuple(_native(value) for value in at)
        keyed = [pair for pair in keyed if (pair[0] > mark if forward else pair[0] < mark)]
    results: list[Any] = []
    result_size = scanned_count = 0
    last_evaluated_key = None
    for _, result in keyed:
        size = item_size(result)
        if len(results) == limit or result_size + size > RESULT_SIZE_LIMIT:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
            break
        if range_comparison:
            value = result.attrs.get(compared)
            if not (value and value.compare(range_comparison, range_objs)):
                continue
        results.append(result)
        result_size += size
        scanned_count += 1
    return results, scanned_count, last_evaluated_key


def _equal(value: Any, expected: Any) -> bool:
    """`value == expected` as DynamoType has it (same type, same cast value), strings compared as such."""
    if expected.type == "S":
        return value.type == "S" and value.value == expected.value  # type: ignore[no-any-return]
    return not value != expected


def _native(value: Any) -> Any:
    """`cast_value` of a string or number key, without its chain of type tests."""
    return value.value if value.type == "S" else Decimal(value.value)


def item_size(item: Any) -> int:
    """`Item.size()`: what moto counts toward a page's 1 MB, by the same rules, in one pass."""
    return sum(len(name.encode("utf-8")) + _size(value) for name, value in item.attrs.items())


def _size(value: Any) -> int:
    kind, raw = value.type, value.value
    if kind == "S" and isinstance(raw, str):
        return len(raw.encode("utf-8"))
    if kind == "N":
        return len(str(raw))
    if kind == "L":
        return sum(_size(element) for element in raw)
    if kind == "M":
        return sum(len(name.encode("utf-8")) + _size(element) for name, element in raw.items())
    return value.size()  # type: ignore[no-any-return]


def _items_kept_plain(original: Callable[..., Any]) -> Callable[..., Any]:
    def __init__(self: Any, result: object) -> None:
        if not isinstance(result, dict) or not isinstance(result.get("Items"), list):
            original(self, result)
            return
        original(self, {k: v for k, v in result.items() if k != "Items"})
        self._result["Items"] = [_plain_item(item) for item in result["Items"]]

    return __init__


def _plain_item(item: Any) -> Any:
    """moto's dynamo_to_dict of an item, with strings, numbers, booleans and nulls taken as they are."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import dynamo_to_dict

    if not isinstance(item, dict):
        return dynamo_to_dict(item)
    plain = {}
    for name, value in item.items():
        simple = type(value) is DynamoType and value.type in _SCALAR and isinstance(value.value, str | bool)
        plain[name] = {value.type: value.value} if simple else dynamo_to_dict(value)
    return plain


def _items_as_json(original: Callable[..., Any]) -> Callable[..., Any]:
    def execute_result(self: Any, context: Any) -> Any:
        body = self.result
        if not isinstance(body, dict) or not isinstance(body.get("Items"), list):
            return original(self, context)
        rest = copy.copy(self)
        rest._result = {k: v for k, v in body.items() if k != "Items"}
        status, headers, text = original(rest, context)
        answer = json.loads(text)
        answer["Items"] = body["Items"]
        return status, headers, json.dumps(answer, default=_wire)

    return execute_result


def _wire(value: Any) -> str:
    """What moto's serializer writes for a blob: base64 text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not JSON: {type(value).__name__}")
