"""The embedded AWS's EC2 tags: one resource's tags looked up by its id, not among all tags of the region.

moto serialises every EC2 object it returns (a volume, a snapshot, an address) with its tags, and finds
them with `describe_tags(filters={"resource-id": [id]})`: a walk over every tag of every resource in the
region, compiling the id into a regular expression and matching it against each resource id. Describing
one volume costs as much as the region has tags; describing all snapshots costs their number times
that. With a few hundred volumes and their safety snapshots, that walk is most of the emulator's CPU in
a clean-up (bench/README.md, issue 20).

The patch answers exactly that query from moto's own tag map, keyed by resource id: when the filters are
one `resource-id` without wildcards (moto turns the value into an anchored `fnmatch` pattern, so an id
without `*`, `?` or `[` matches itself only), the result is that resource's tags, in moto's insertion
order, in moto's own result shape. Any other query (several ids, wildcards, key or value filters, no
filter) goes to moto's own code unchanged. tests/test_emulator_patches.py compares both answers.
"""

from __future__ import annotations

from typing import Any

_WILDCARDS = frozenset("*?[")


def _single_id(filters: dict[str, list[str]] | None) -> str | None:
    """The resource id of a `{"resource-id": [id]}` query without wildcards, else None."""
    if not filters or len(filters) != 1:
        return None
    ids = filters.get("resource-id")
    if not ids or len(ids) != 1 or not isinstance(ids[0], str) or _WILDCARDS & set(ids[0]):
        return None
    return ids[0]


def look_up_tags_by_id() -> None:
    """Install the by-id lookup on moto's EC2 tag backend (once per process)."""
    from moto.ec2.models.tags import TagBackend
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    original = TagBackend.describe_tags
    if getattr(original, "_by_id", False):
        return

    def describe_tags(self: Any, filters: dict[str, list[str]] | None = None) -> list[dict[str, str]]:
        resource_id = _single_id(filters)
        if resource_id is None:
            return original(self, filters)
        tags = self.tags.get(resource_id)  # `tags` is a defaultdict: never index it (that would add one)
        if not tags:
            return []
        resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
        return [
            {"resource_id": resource_id, "key": key, "value": value, "resource_type": resource_type}
            for key, value in tags.items()
        ]

    describe_tags._by_id = True  # type: ignore[attr-defined]
    describe_tags.original = original  # type: ignore[attr-defined]
    TagBackend.describe_tags = describe_tags  # type: ignore[method-assign]
