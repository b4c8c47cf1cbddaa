"""Runner: wires the scan handler to the scan queue; its outputs go to the analyze queue."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from services.scanner.handler import ScannerDeps, ScanPolicy, handle_scan
from services.scanner.organization import MemberRoles
from shared.config import Settings
from shared.errors import SettingsError
from shared.events import Envelope, ScanRequested
from shared.kinds import discover
from shared.kinds.pricing import PRICES_FILE, load_prices
from shared.kinds.usage import all_checks, checked_windows
from shared.queue import Handler
from shared.worker import Runtime, WorkerSpec


def scan_policy(settings: Settings) -> ScanPolicy:
    """The scanner's policy; a configured kind this version does not know stops the worker at start-up
    (rather than dead-lettering every scan), naming it."""
    known = discover().names()
    unknown = [kind for kind in settings.cloudthrift_kinds if kind not in known]
    if unknown:
        raise SettingsError(
            f"invalid setting CLOUDTHRIFT_KINDS: {', '.join(unknown)} is not a resource kind "
            f"(known: {', '.join(known)})"
        )
    return ScanPolicy(
        min_age=timedelta(days=settings.cloudthrift_min_age_days),
        min_idle=timedelta(days=settings.cloudthrift_min_idle_days),
        optout_tag=settings.cloudthrift_optout_tag,
        regions=tuple(settings.cloudthrift_regions),
        kinds=tuple(settings.cloudthrift_kinds),
        region_concurrency=settings.cloudthrift_region_concurrency,
        check_min_age_days=settings.cloudthrift_check_min_age_days,
        usage_window_days=checked_windows(settings.cloudthrift_usage_window_days, all_checks()),
        safety_snapshot_tier=settings.cloudthrift_safety_snapshot_tier,
    )


def scanner_deps(runtime: Runtime) -> ScannerDeps:
    return ScannerDeps(
        aws=runtime.aws,
        ledger=runtime.ledger,
        prices=load_prices(runtime.settings.cloudthrift_prices_file or PRICES_FILE),
        policy=scan_policy(runtime.settings),
        metrics=runtime.telemetry.stage("scanner").metrics,
        roles=MemberRoles(
            scan_role_name=runtime.settings.cloudthrift_scan_role_name,
            account_concurrency=runtime.settings.cloudthrift_account_concurrency,
        ),
        enqueue_scans=lambda requests: runtime.publisher.publish(runtime.queues["scan"].url, requests),
    )


@contextlib.asynccontextmanager
async def build(runtime: Runtime) -> AsyncIterator[Handler]:
    deps = scanner_deps(runtime)

    async def handle(event: Envelope) -> list:  # type: ignore[type-arg]
        return await handle_scan(event, deps)

    yield handle


WORKER = WorkerSpec(name="scanner", input="scan", output="analyze", build=build, accepts=(ScanRequested,))
