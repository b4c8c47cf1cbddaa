"""Resource kinds, discovered: every module of this package that is not part of the framework below
registers one kind (with its checks and remedies) when imported. Adding a kind is adding a module here,
its test and its price rows; nothing else lists kinds (docs/ARCHITECTURE.md, "How to add a kind").

Why in shared/: every stage reads a kind (the scanner lists and prices it, the analyzer asks its checks
for rules and its allow-list of facts, the notifier and the CLI show its details, the executor runs its
remedies), so it belongs to no single service.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import cache

from shared.errors import UnsupportedResource
from shared.events import FactValue
from shared.kinds.base import Check, Kind, Observation, Remedy
from shared.registry import Registry

# Modules of this package that make up the framework, not kinds.
FRAMEWORK = frozenset({"advice", "base", "estate", "pricing", "recycle_bin", "signals", "usage"})

kinds: Registry[Kind] = Registry("resource kind")


def register(kind: type[Kind]) -> type[Kind]:
    """Class decorator for a kind module's `Kind`: `@register` above `class EbsVolume(Kind)`."""
    return kinds.register(kind.name)(kind)


@cache
def discover() -> Registry[Kind]:
    """Import every kind module of this package once; returns the filled registry."""
    for module in pkgutil.iter_modules(__path__):
        if module.name not in FRAMEWORK and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return kinds


def kind_named(name: str) -> Kind:
    """The registered kind, or UnsupportedResource naming the known ones (dead-letters a message)."""
    registry = discover()
    if name not in registry:
        raise UnsupportedResource(f"unknown resource kind {name!r} (known: {', '.join(registry.names())})")
    return registry.get(name)()


def check_named(kind: str, check: str) -> Check:
    owner = kind_named(kind)
    if check not in owner.checks:
        known = ", ".join(owner.checks.names())
        raise UnsupportedResource(f"{kind} has no check {check!r} (known: {known})")
    return owner.checks.get(check)()


def kind_details(kind: str, facts: Mapping[str, FactValue]) -> str:
    """The kind's details column for tables; a kind this version does not know shows none."""
    registry = discover()
    return registry.get(kind)().details(facts) if kind in registry else ""


def remedies_of(
    check: Check,
    *,
    snapshots: bool = True,
    tier: str = "standard",
    observation: Observation | None = None,
) -> list[Remedy]:
    """The check's remedies in order of preference (for this resource, when given); `snapshots=False`
    leaves out those keeping one; `tier="archive"` (CLOUDTHRIFT_SAFETY_SNAPSHOT_TIER) prefers those
    keeping an archived snapshot."""
    names = check.remedies if observation is None else check.remedy_order(observation)
    chosen = [check.kind.remedies.get(name)() for name in names]
    allowed = [remedy for remedy in chosen if snapshots or not remedy.keeps_snapshot]
    if tier == "archive":
        allowed.sort(key=lambda remedy: not remedy.archives)  # stable: otherwise the check's order
    return allowed


__all__ = [
    "Check",
    "Kind",
    "Remedy",
    "check_named",
    "discover",
    "kind_named",
    "kinds",
    "register",
    "remedies_of",
]
