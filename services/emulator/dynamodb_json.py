"""The embedded AWS's DynamoDB answers: items written out as they are, not walked through the model.

moto (5.2) serialises every response through botocore's model: for each attribute value of each item
it returns, it tries the ten members of the `AttributeValue` shape (S, N, B, SS, NS, BS, M, L, NULL,
BOOL) one by one, each through a picker that builds a context object and tries several aliases of the
member's name. moto already holds an item in DynamoDB's own JSON form (`{"S": "..."}`), so all that
walking rebuilds the same dictionaries: a decision with its finding and history is a few hundred
attribute values, and writing them out was about a fifth of the emulator's CPU in the executor's
bench (bench/README.md, issue 20), more than any operation itself.

The patch writes an attribute value out directly when it is a plain dictionary of known members, with
the very transformations moto's JSON serialiser applies: S and N (and each element of SS and NS) as
`str`, M and L recursively, NULL and BOOL as they are, a member holding None left out, a None map entry
left out and a None list element kept. Anything else goes to moto's own code: binary members (moto
base64-encodes them), enums, unknown or lower-case member names (moto's picker would also try those),
an empty attribute name, other services, or a response with transformers registered.
tests/test_emulator_patches.py compares both answers.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

_SHAPE = "AttributeValue"
_SERVICES = frozenset({"dynamodb"})
_STRINGS = ("S", "N")
_STRING_SETS = ("SS", "NS")
_AS_IS = ("NULL", "BOOL")
_MEMBERS = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")  # the shape's order
_KNOWN = frozenset(_MEMBERS)


class _Unusual(Exception):
    """A value the direct path does not take: moto's own serialiser writes it out."""


def _string(value: Any) -> Any:
    """moto's JSON `_serialize_type_string`: enums are left to it, the rest is `str` but for empties."""
    if isinstance(value, Enum):
        raise _Unusual
    return str(value) if value not in [None, {}, []] else value


def attribute_value(value: Any) -> dict[str, Any]:
    """One attribute value as moto's JSON serialiser writes it out; `_Unusual` when it might not."""
    if type(value) is not dict or not _KNOWN.issuperset(value):
        raise _Unusual
    out: dict[str, Any] = {}
    for member in _MEMBERS:
        member_value = value.get(member)
        if member_value is None:
            continue
        if member in _STRINGS:
            out[member] = _string(member_value)
        elif member in _STRING_SETS:
            if isinstance(member_value, (str, bytes, dict)):
                raise _Unusual
            out[member] = [_string(element) for element in member_value]
        elif member == "M":
            if type(member_value) is not dict:
                raise _Unusual
            out[member] = {
                _key(key): attribute_value(entry) for key, entry in member_value.items() if entry is not None
            }
        elif member == "L":
            if type(member_value) is not list:
                raise _Unusual
            out[member] = [None if entry is None else attribute_value(entry) for entry in member_value]
        elif member in _AS_IS:
            out[member] = member_value
        else:  # B, BS: moto base64-encodes them
            raise _Unusual
    return out


def _key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise _Unusual
    return key


def write_items_directly() -> None:
    """Install the direct path on moto's JSON serialiser (once per process)."""
    from moto.core.serialize import BaseJSONSerializer

    original = BaseJSONSerializer._serialize_type_structure
    if getattr(original, "_direct", False):
        return

    def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            key
            and shape.name == _SHAPE
            and self.service_model.service_name in _SERVICES
            and not getattr(self._value_picker, "response_transformers", None)
        ):
            try:
                written = attribute_value(value)
            except _Unusual:
                pass
            else:
                serialized[self.get_serialized_name(shape, key)] = written
                return
        original(self, serialized, value, shape, key)

    _serialize_type_structure._direct = True  # type: ignore[attr-defined]
    _serialize_type_structure.original = original  # type: ignore[attr-defined]
    BaseJSONSerializer._serialize_type_structure = _serialize_type_structure  # type: ignore[method-assign]
