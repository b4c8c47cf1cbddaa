"""`cloudthrift serve`, `pending`, `approve ID`, `reject ID`, `snooze ID`: the notifier's commands."""

from __future__ import annotations

import contextlib
import getpass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from services.notifier.cards import Action


def register(app: typer.Typer) -> None:
    @app.command()
    def serve() -> None:
        """Serve the Discord interactions endpoint, /healthz and /scan on CLOUDTHRIFT_HTTP_HOST:PORT."""
        from aiohttp import web

        from services.cli import settings
        from services.notifier.http import init_app

        loaded = settings()
        web.run_app(
            init_app(loaded),
            host=loaded.cloudthrift_http_host,
            port=loaded.cloudthrift_http_port,
            access_log=None,
            print=lambda text: typer.echo(text, err=True),
        )

    @app.command("pending")
    def pending_command() -> None:
        """Decisions waiting for a human, with the id to approve or reject them by."""
        from rich.console import Console
        from rich.table import Table

        from services.cli import run, settings
        from services.notifier.operator import pending
        from shared.worker import open_runtime

        loaded = settings()

        async def go() -> None:
            async with open_runtime(loaded) as runtime:
                waiting = await pending(runtime.ledger)
            table = Table(title=f"{len(waiting)} decision(s) awaiting approval")
            for column in ("decision", "kind", "region", "resource", "monthly $", "net $", "risk", "card"):
                table.add_column(column)
            for d in sorted(waiting, key=lambda d: (d.get("region", ""), d.pk)):
                finding, analysis = d.finding, d.analysis
                card = str(d.get("card_id") or "")
                table.add_row(
                    d.decision_id,
                    finding.kind,
                    finding.key.region,
                    finding.key.resource_id,
                    f"{finding.cost.monthly_usd:.2f}",
                    f"{finding.cost.net_monthly_saving_usd:.2f}",
                    analysis.risk if analysis else "-",
                    "" if card == d.decision_id else f"group {card}",
                )
            Console().print(table)

        run(go())

    def _decide(ident: str, action: Action, name: str | None) -> None:
        from services.cli import run, settings
        from services.notifier.decide import DecideDeps
        from services.notifier.main import open_sink
        from services.notifier.operator import UnknownDecision, decide_from_cli
        from shared.events import Approver
        from shared.worker import open_runtime

        loaded = settings()
        user = getpass.getuser()
        approver = Approver(id=f"cli:{user}"[:64], name=(name or user)[:128], via="cli")

        async def go() -> None:
            async with open_runtime(loaded) as runtime, contextlib.AsyncExitStack() as stack:
                sink = (
                    await stack.enter_async_context(open_sink(loaded)) if loaded.discord_bot_token else None
                )
                deps = DecideDeps(
                    runtime.ledger,
                    runtime.publisher,
                    runtime.queues["execute"].url,
                    loaded.cloudthrift_snooze_days,
                    runtime.telemetry.stage("interactions").metrics,
                    runtime.telemetry.stage("interactions").tracing,
                    recover_after=timedelta(seconds=loaded.cloudthrift_approval_recover_seconds),
                )
                try:
                    outcome = await decide_from_cli(
                        deps, sink, ident, action, approver, now=datetime.now(UTC)
                    )
                except UnknownDecision as exc:
                    typer.echo(f"cloudthrift: {exc}", err=True)
                    raise typer.Exit(1) from None
            if not outcome.decided:
                from services.notifier.decide import earlier_summary

                typer.echo(earlier_summary(outcome))
                raise typer.Exit(1)
            typer.echo(
                f"{action}: {len(outcome.decided)} decision(s) by {approver.name}"
                + (f", {outcome.published} sent to the executor" if outcome.published else "")
            )

        run(go())

    @app.command()
    def approve(
        ident: Annotated[
            str, typer.Argument(metavar="ID", help="Decision id (or prefix), or group card id.")
        ],
        as_: Annotated[str | None, typer.Option("--as", help="Approver name to record.")] = None,
    ) -> None:
        """Approve like the Discord button does (recorded with you as approver, via the CLI)."""
        _decide(ident, "approve", as_)

    @app.command()
    def reject(
        ident: Annotated[
            str, typer.Argument(metavar="ID", help="Decision id (or prefix), or group card id.")
        ],
        as_: Annotated[str | None, typer.Option("--as", help="Name to record.")] = None,
    ) -> None:
        """Reject: the resource is not announced again."""
        _decide(ident, "reject", as_)

    @app.command()
    def snooze(
        ident: Annotated[
            str, typer.Argument(metavar="ID", help="Decision id (or prefix), or group card id.")
        ],
        as_: Annotated[str | None, typer.Option("--as", help="Name to record.")] = None,
    ) -> None:
        """Snooze (CLOUDTHRIFT_SNOOZE_DAYS, 30 by default): announced again after that date if still idle."""
        _decide(ident, "snooze", as_)
