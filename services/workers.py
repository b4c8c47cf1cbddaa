"""Every worker CloudThrift can run, by name: one line per stage."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from shared.worker import WorkerSpec

# name -> the module whose WORKER it is. Imported only when asked for, so that a container running one
# worker does not hold the other three stages' modules (and what they import) for its whole life.
_MODULES = {
    "scanner": "services.scanner.main",
    "analyzer": "services.analyzer.main",
    "notifier": "services.notifier.main",
    "executor": "services.executor.main",
}


class _Workers(Mapping[str, WorkerSpec]):
    """The specs by name; a spec's module is imported the first time that name is looked up."""

    def __getitem__(self, name: str) -> WorkerSpec:
        spec: WorkerSpec = importlib.import_module(_MODULES[name]).WORKER
        if spec.name != name:
            raise RuntimeError(f"{_MODULES[name]}.WORKER is named {spec.name!r}, not {name!r}")
        return spec

    def __contains__(self, name: object) -> bool:
        return name in _MODULES  # without importing it

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


def available_workers() -> Mapping[str, WorkerSpec]:
    """Names are known without importing anything; `[name]`, `.values()`, `.items()` import the stages."""
    return _Workers()
