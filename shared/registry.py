"""A typed name → class registry, used as a decorator (Cloud Custodian's registry, with types).

Resource kinds register here, and each kind's checks and remedies on registries of its own
(shared/kinds/): adding a kind means adding its module; nothing else in the pipeline has to change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, what: str) -> None:
        self._what = what
        self._entries: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def decorate(cls: type[T]) -> type[T]:
            if name in self._entries:
                raise ValueError(f"{self._what} {name!r} is registered twice")
            self._entries[name] = cls
            return cls

        return decorate

    def unregister(self, name: str) -> None:
        """Take an entry out again (a kind a test registered for itself)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> type[T]:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise KeyError(f"unknown {self._what} {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[tuple[str, type[T]]]:
        return iter(sorted(self._entries.items()))

    def __len__(self) -> int:
        return len(self._entries)
