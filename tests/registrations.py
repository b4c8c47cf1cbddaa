"""What tests register into the kinds' global registries, and taking it out again.

The registries of shared/kinds/ live for the whole pytest process: a kind a test registers for itself
(tests/kinds/throwaway_topic.py) and leaves behind shows up in every later test that lists kinds (the
README's table of checks, the IAM policy, the doctor). So a test registers one only through
`throwaway_kind`, and the autouse guard of tests/conftest.py fails any test that leaves an entry made
outside shared/kinds/ behind (and removes it, so the tests after it still start clean).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from shared.kinds import kinds

THROWAWAY = "throwaway-topic"
OURS = "shared.kinds."  # where the shipped kinds, checks and remedies are defined


@contextmanager
def throwaway_kind() -> Iterator[ModuleType]:
    """tests/kinds/throwaway_topic.py registered for the block only. Its first import registers it (as a
    contributor's module would); a later block registers the cached module's class again."""
    module = importlib.import_module("tests.kinds.throwaway_topic")
    if THROWAWAY not in kinds:
        kinds.register(THROWAWAY)(module.ThrowawayTopic)
    try:
        yield module
    finally:
        kinds.unregister(THROWAWAY)


def foreign_registrations() -> list[str]:
    """Registered kinds, checks and remedies defined outside shared/kinds/ ("kind", "kind check name")."""
    found: list[str] = []
    for name, kind in kinds:
        if not kind.__module__.startswith(OURS):
            found.append(name)
            continue  # its checks and remedies go with it
        for what, registry in (("check", kind.checks), ("remedy", kind.remedies)):
            found.extend(
                f"{name} {what} {entry}" for entry, cls in registry if not cls.__module__.startswith(OURS)
            )
    return found


def take_out(entries: list[str]) -> None:
    """Unregister what `foreign_registrations` listed."""
    for entry in entries:
        name, _, rest = entry.partition(" ")
        if not rest:
            kinds.unregister(name)
            continue
        what, _, item = rest.partition(" ")
        kind = kinds.get(name)
        (kind.checks if what == "check" else kind.remedies).unregister(item)
