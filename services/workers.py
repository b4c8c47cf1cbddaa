"""Every worker CloudThrift can run, by name: one line per stage."""

from __future__ import annotations

from shared.worker import WorkerSpec


def available_workers() -> dict[str, WorkerSpec]:
    from services.analyzer.main import WORKER as analyzer
    from services.executor.main import WORKER as executor
    from services.notifier.main import WORKER as notifier
    from services.scanner.main import WORKER as scanner

    return {spec.name: spec for spec in (scanner, analyzer, notifier, executor)}
