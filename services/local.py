"""`cloudthrift local`: the whole pipeline on an embedded AWS, with nothing but Python installed.

Starts a moto server on loopback, bootstraps queues, DLQs and the ledger on it, seeds a demo estate,
runs every worker in this process, requests a scan, and prints what was found and what it costs.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import structlog
from rich.console import Console
from rich.table import Table

from services.embedded_aws import EmbeddedAws
from services.estate import DEMO_REGIONS, moto_backdater, seed_estate
from services.workers import available_workers
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import QueueName, Settings, load_settings
from shared.errors import SettingsError
from shared.events import ScanRequested
from shared.kinds import kind_details
from shared.ledger import Attr, Decision, Ledger
from shared.logs import configure_logging
from shared.worker import Runtime, open_runtime, run_workers

log = structlog.get_logger("cloudthrift.local")
REPORT_FILE = "cloudthrift-report.html"


def start_moto(port: int = 0) -> tuple[EmbeddedAws, str]:
    server = EmbeddedAws(port=port)
    return server, server.start()


def _local_environment(endpoint: str) -> None:
    """Point everything at the embedded server, with dummy credentials; keep what the user set."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    for name, value in {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": "us-east-1",
        "CLOUDTHRIFT_REGIONS": ",".join(DEMO_REGIONS),
        # No Agent on a laptop: spans off unless asked for (DD_TRACE_ENABLED=true); metrics are UDP.
        "DD_TRACE_ENABLED": "false",
    }.items():
        os.environ.setdefault(name, value)


async def run_local(*, once: bool = False, port: int = 0, seed: bool = True) -> None:
    server, endpoint = start_moto(port)
    _local_environment(endpoint)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"cloudthrift: {exc}", file=sys.stderr)
        server.stop()
        raise SystemExit(2) from None
    configure_logging(settings.cloudthrift_log_format, settings.cloudthrift_log_level)
    log.info(
        "local.moto_started",
        endpoint=endpoint,
        hint=f"other terminals: export AWS_ENDPOINT_URL={endpoint} "
        "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local",
    )
    try:
        async with AwsClients(settings) as aws:
            await bootstrap(settings, aws)
            if seed:
                manifest = await seed_estate(
                    aws, tuple(settings.cloudthrift_regions) or DEMO_REGIONS, backdate=moto_backdater()
                )
                log.info(
                    "local.estate_seeded",
                    resources=len(manifest),
                    idle=sum(1 for item in manifest if item.expectation == "idle"),
                )
        async with open_runtime(settings) as runtime:
            await _run_pipeline(runtime, once=once)
    finally:
        server.stop()


async def _run_pipeline(runtime: Runtime, *, once: bool) -> None:
    specs = list(available_workers().values())
    stop = asyncio.Event()
    workers = asyncio.create_task(run_workers(runtime, specs, stop=stop))
    # With DISCORD_PUBLIC_KEY set, Discord's clicks are served beside the workers (services/notifier).
    endpoint = None
    if runtime.settings.discord_public_key:
        from services.notifier.http import start_endpoint

        endpoint = await start_endpoint(runtime.settings, runtime)
    await runtime.publisher.publish(
        runtime.queues["scan"].url, [ScanRequested(requested_by="cloudthrift local")]
    )
    consumed: list[QueueName] = [spec.input for spec in specs]
    await _wait_until_quiet(runtime, consumed, stop)
    print_report(await _all_decisions(runtime.ledger), runtime.settings)
    await _write_html_report(runtime)
    if once:
        stop.set()
    await workers
    if endpoint is not None:
        await endpoint.cleanup()


async def _write_html_report(runtime: Runtime) -> None:
    """The same figures as a shareable page (`cloudthrift report`): charts a manager can read."""
    from services.report import write_report

    path = await write_report(runtime.ledger, Path(REPORT_FILE))
    print(f"Savings report: {path}  (open it in a browser; `cloudthrift report` writes it again)")


async def _wait_until_quiet(runtime: Runtime, queues: Iterable[QueueName], stop: asyncio.Event) -> None:
    """Wait until every consumed queue is empty (twice in a row), or the user stopped us."""
    calm = 0
    while calm < 2 and not stop.is_set():
        await asyncio.sleep(1)
        depth = 0
        for queue in queues:
            attributes = await runtime.sqs.get_queue_attributes(
                QueueUrl=runtime.queues[queue].url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )
            depth += sum(int(value) for value in attributes["Attributes"].values())
        calm = calm + 1 if depth == 0 else 0


async def _all_decisions(ledger: Ledger) -> list[Decision]:
    return [decision async for decision in ledger.everything()]


def print_report(decisions: list[Decision], settings: Settings, console: Console | None = None) -> None:
    console = console or Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title="Idle resources found", show_lines=False)
    for column in ("region", "kind", "resource", "name", "details", "state"):
        table.add_column(column)
    table.add_column("monthly $", justify="right")
    table.add_column("net saving $", justify="right", overflow="fold")
    total = Decimal(0)
    net = Decimal(0)
    # Findings whose default clean-up loses money (a cold volume's snapshot): never summed into the
    # net; their cheapest-to-keep choice that saves is shown instead, and a human must pick it.
    losing, best_total = 0, Decimal(0)
    withheld = 0  # reported, offered no clean-up (a load balancer under deletion protection)
    for decision in sorted(decisions, key=lambda d: (d.get(Attr.REGION, ""), d.get(Attr.KIND, ""), d.pk)):
        if "finding" not in decision.attrs:
            continue
        finding = decision.finding
        facts = finding.facts
        details = kind_details(finding.kind, facts)
        cost = finding.cost
        shown = f"{cost.net_monthly_saving_usd:.2f}"
        if cost.withheld:
            withheld += 1
            shown = "none offered"
        elif cost.loses_money:
            best = max(cost.choices, key=lambda c: c.net_monthly_saving_usd, default=None)
            losing += 1
            if best is not None and best.net_monthly_saving_usd > 0:
                best_total += best.net_monthly_saving_usd
                shown = f"{shown} → choose {best.remedy}: {best.net_monthly_saving_usd:.2f}"
        else:
            net += cost.net_monthly_saving_usd
        table.add_row(
            finding.key.region,
            finding.kind,
            finding.key.resource_id,
            str(facts.get("name") or ""),
            details,
            decision.state.value,
            f"{finding.cost.monthly_usd:.2f}",
            shown,
        )
        total += finding.cost.monthly_usd
    console.print(table)
    console.print(
        f"[bold]{len(table.rows)} idle resource(s), ${total:.2f}/month wasted, "
        f"${net:.2f}/month saved net of snapshots if cleaned up.[/bold]"
        f" Dry run: {'on' if settings.cloudthrift_dry_run else 'off'}."
    )
    if withheld:
        console.print(
            f"{withheld} of them are offered no clean-up: their cards say why (deletion protection) "
            "and what their owner can do."
        )
    if losing:
        console.print(
            f"{losing} of them lose money if snapshotted first (the snapshot costs more than the "
            f"resource): not counted above; their cards offer cheaper choices, up to "
            f"${best_total:.2f}/month more (delete without a snapshot, or archive the snapshot)."
        )
