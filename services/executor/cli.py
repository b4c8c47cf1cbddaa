"""`cloudthrift savings`: the savings history in a terminal table, or as JSON for machines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from services.executor.savings import SavingsReport


def render(report: SavingsReport, console: object | None = None) -> None:
    """Rich tables: realised savings by month, kind, region and approver; then what is still pending."""
    from rich.console import Console
    from rich.table import Table

    out = console if isinstance(console, Console) else Console()
    data = report.to_json()
    realised = data["realised"]
    out.print(
        f"[bold]Realised: ${realised['monthly_usd']}/month[/bold] from {realised['executed']} clean-up(s); "
        f"${realised['avoided_to_date_usd']} avoided to date"
    )
    losing = realised["losing"]
    if losing["executed"]:
        out.print(
            f"[bold red]Including {losing['executed']} clean-up(s) chosen although they cost "
            f"${losing['monthly_usd']}/month more than they save[/bold red] (their snapshot costs more)."
        )
    snapshots = realised["snapshot_cost"]
    if any(snapshots.values()):
        out.print(
            f"Kept snapshots priced on the size AWS reported: {snapshots['reported_by_aws']}; on the "
            f"provisioned size, an upper bound (AWS reported none): {snapshots['upper_bound']}; expired "
            f"by retention (saving now gross): {snapshots['expired']}."
        )
    for title in ("by_month", "by_kind", "by_region", "by_approver"):
        table = Table(title=f"Realised monthly savings {title.replace('_', ' ')}")
        table.add_column(title.removeprefix("by_"))
        table.add_column("$/month", justify="right")
        for name, amount in realised[title].items():
            table.add_row(name, amount)
        if realised[title]:
            out.print(table)
    pending = data["pending"]
    states = ", ".join(f"{state} {count}" for state, count in pending["by_state"].items()) or "none"
    out.print(
        f"[bold]Pending waste: ${pending['waste_monthly_usd']}/month[/bold] in {pending['decisions']} "
        f"undecided finding(s) ({states}); ${pending['net_saving_monthly_usd']}/month net if cleaned up."
    )
    losing_default = pending["losing_by_default"]
    if losing_default["decisions"]:
        out.print(
            f"Not counted: {losing_default['decisions']} finding(s) whose default clean-up would lose "
            f"${losing_default['monthly_usd']}/month (the snapshot costs more): each needs a choice."
        )
    dry = data["dry_run"]
    if dry["executed"]:
        out.print(
            f"Dry runs: {dry['executed']} rehearsed, would save ${dry['would_save_monthly_usd']}/month "
            "(not counted as realised)."
        )
    outcomes = ", ".join(f"{state} {count}" for state, count in data["outcomes"].items())
    if outcomes:
        out.print(f"Outcomes: {outcomes}.")


def register(app: typer.Typer) -> None:
    @app.command()
    def savings(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
        as_of: Annotated[
            datetime | None, typer.Option(help="When 'cost avoided to date' ends (UTC; default: now).")
        ] = None,
    ) -> None:
        """Monthly savings realised (by month, kind, region, approver) and the waste still pending."""
        from services.cli_support import run, settings
        from services.executor.savings import read_ledger, summarize
        from shared.aws import AwsClients
        from shared.ledger import Ledger

        loaded = settings()

        async def go() -> SavingsReport:
            async with AwsClients(loaded) as aws:
                ledger = Ledger(await aws.client("dynamodb"), loaded.table_name)
                decisions = [decision async for decision in read_ledger(ledger)]
            return summarize(decisions, now=as_of.replace(tzinfo=as_of.tzinfo or UTC) if as_of else None)

        report = run(go())
        if as_json:
            typer.echo(json.dumps(report.to_json(), indent=2))
        else:
            render(report)
