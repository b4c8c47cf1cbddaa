"""The embedded AWS's projections: a projected read converts the item once, not once per attribute.

To project an item (a GetItem or a Query with a ProjectionExpression), moto converts the whole item to
plain JSON, deep-copying every value, once for every attribute named in the projection. The executor
reads a group card's eleven counters after every few outcomes (services/executor/group_card.py), and
the card's record also holds its member list: eleven deep copies of a few hundred members per read,
the second dearest request of a clean-up at 300 members (bench/README.md, issue 20).

For the projections the ledger makes, each path one top-level attribute name, no two alike and no list
index, moto's result is exactly {name: the converted value} for each name the item has, in the order
named; the patch converts the item once and builds that. Any other projection (nested paths, list
indexes, a name twice) goes to moto's own code. tests/test_emulator_patches.py compares both answers.
"""

from __future__ import annotations

from typing import Any


def _top_level_names(projection: Any) -> list[str] | None:
    """The names of a projection made only of distinct top-level names, else None."""
    names = []
    for path in projection or ():
        if len(path) != 1 or not isinstance(path[0], str) or "[" in path[0]:
            return None
        names.append(path[0])
    return names if names and len(set(names)) == len(names) else None


def project_once() -> None:
    """Install the single conversion on moto's DynamoDB items (once per process)."""
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.dynamo_type import Item

    original = Item.project
    if getattr(original, "_once", False):
        return

    def project(self: Any, projection_expressions: list[list[str]]) -> Any:
        names = _top_level_names(projection_expressions)
        if names is None:
            return original(self, projection_expressions)
        plain = self.to_regular_json()
        result = {name: plain[name] for name in names if name in plain}
        return Item(
            hash_key=self.hash_key,
            range_key=self.range_key,
            attrs=dynamo_type.serializer.serialize(result)["M"],
        )

    project._once = True  # type: ignore[attr-defined]
    project.original = original  # type: ignore[attr-defined]
    Item.project = project  # type: ignore[method-assign]
