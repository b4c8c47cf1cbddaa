"""The notifier's commands: `serve`, `pending`, `findings`, `approve ID`, `reject ID`, `snooze ID`,
`restore ID` (undo an executed clean-up)."""

from __future__ import annotations

import contextlib
import getpass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from services.notifier.card_buttons import Action
from shared.ledger import Attr

if TYPE_CHECKING:
    from services.notifier.listing import Format

JSON_HELP = "Every field of each decision, as JSON."


def _format(as_json: bool, as_csv: bool) -> Format:
    if as_json and as_csv:
        from services.cli_support import USAGE_ERROR, fail

        fail("--json and --csv are exclusive", USAGE_ERROR)
    return "json" if as_json else "csv" if as_csv else "table"


def register(app: typer.Typer) -> None:
    @app.command()
    def serve() -> None:
        """Serve the Discord interactions endpoint, /healthz and /scan on CLOUDTHRIFT_HTTP_HOST:PORT."""
        from aiohttp import web

        from services.cli_support import settings
        from services.notifier.http import init_app

        loaded = settings(long_running=True)
        web.run_app(
            init_app(loaded),
            host=loaded.cloudthrift_http_host,
            port=loaded.cloudthrift_http_port,
            access_log=None,
            print=lambda text: typer.echo(text, err=True),
        )

    @app.command("pending")
    def pending_command(
        as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
        as_csv: Annotated[bool, typer.Option("--csv", help="The same fields as CSV.")] = False,
    ) -> None:
        """Decisions waiting for a human, with the id to approve or reject them by."""
        from services.cli_support import run, settings
        from services.notifier.listing import render, row
        from services.notifier.operator import pending
        from shared.aws import AwsClients
        from shared.executor_status import describe_now
        from shared.ledger import Ledger

        fmt = _format(as_json, as_csv)
        loaded = settings()

        async def go() -> None:
            async with AwsClients(loaded) as aws:
                ledger = Ledger(await aws.client("dynamodb"), loaded.table_name)
                waiting = await pending(ledger)
                executor = await describe_now(ledger)
            rows = [row(d) for d in sorted(waiting, key=lambda d: (d.get(Attr.REGION, ""), d.pk))]
            render(rows, fmt, title=f"{len(rows)} decision(s) awaiting approval")
            if fmt == "table":
                typer.echo(executor, err=True)

        run(go())

    @app.command("findings")
    def findings_command(
        state: Annotated[
            list[str] | None,
            typer.Option("--state", "-s", metavar="STATE", help="Only decisions in this state (repeatable)."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
        as_csv: Annotated[bool, typer.Option("--csv", help="The same fields as CSV.")] = False,
    ) -> None:
        """Every decision in the ledger (or those in --state), for reports and scripts."""
        from services.cli_support import USAGE_ERROR, fail, run, settings
        from services.notifier.listing import is_decision, render, row
        from shared.aws import AwsClients
        from shared.ledger import Ledger, State

        fmt = _format(as_json, as_csv)
        known = [s.value for s in State]
        wanted = {name.upper() for name in state or []}
        if wanted - set(known):
            fail(f"unknown --state {sorted(wanted - set(known))} (one of: {', '.join(known)})", USAGE_ERROR)
        loaded = settings()

        async def go() -> None:
            async with AwsClients(loaded) as aws:
                ledger = Ledger(await aws.client("dynamodb"), loaded.table_name)
                found = [d async for d in ledger.everything() if is_decision(d)]
            chosen = [d for d in found if not wanted or d.state.value in wanted]
            rows = [row(d) for d in sorted(chosen, key=lambda d: (d.state.value, d.pk))]
            render(rows, fmt, title=f"{len(rows)} decision(s)")

        run(go())

    def _decide(ident: str, action: Action, name: str | None, remedy: str | None = None) -> None:
        from services.cli_support import run, settings
        from services.notifier.decide import DecideDeps
        from services.notifier.operator import UnknownDecision, decide_from_cli
        from shared.events import Approver
        from shared.executor_status import describe_now
        from shared.worker import open_runtime

        loaded = settings()
        user = getpass.getuser()
        # `via` already says cli: the id is the login alone, so tags read `cli:root`, not `cli:cli:root`.
        approver = Approver(id=user[:64], name=(name or user)[:128], via="cli")

        async def go() -> None:
            async with (
                open_runtime(loaded, short_lived=True, queues=("execute",)) as runtime,
                contextlib.AsyncExitStack() as stack,
            ):
                sink = None
                if loaded.discord_bot_token:  # imported only then: the notifier's runner is heavy
                    from services.notifier.main import open_sink

                    sink = await stack.enter_async_context(open_sink(loaded))
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
                        deps, sink, ident, action, approver, now=datetime.now(UTC), remedy=remedy
                    )
                except UnknownDecision as exc:
                    typer.echo(f"cloudthrift: {exc}", err=True)
                    raise typer.Exit(1) from None
                executor = await describe_now(runtime.ledger) if action == "approve" else None
            if not outcome.decided:
                from services.notifier.decide import refusal_summary

                typer.echo(refusal_summary(outcome))
                raise typer.Exit(1)
            typer.echo(
                f"{action}: {len(outcome.decided)} decision(s) by {approver.name}"
                + (f", {outcome.published} sent to the executor" if outcome.published else "")
            )
            if executor is not None:
                typer.echo(executor)

        run(go())

    @app.command()
    def approve(
        ident: Annotated[
            str, typer.Argument(metavar="ID", help="Decision id (or prefix), or group card id.")
        ],
        as_: Annotated[
            str | None, typer.Option("--as", metavar="NAME", help="Approver name to record.")
        ] = None,
        remedy: Annotated[
            str | None,
            typer.Option(
                "--remedy",
                metavar="NAME",
                help="Run this remedy instead of the default (the card's choices: e.g. delete, "
                "archive-snapshot-then-delete). Required when the default would lose money.",
            ),
        ] = None,
    ) -> None:
        """Approve like the Discord button does (recorded with you as approver, via the CLI)."""
        if remedy is not None:
            from shared.kinds import discover

            known = sorted({name for _, kind in discover() for name in kind.remedies.names()})
            if remedy not in known:
                typer.echo(f"cloudthrift: no remedy {remedy!r} (known: {', '.join(known)})", err=True)
                raise typer.Exit(2)
        _decide(ident, "approve", as_, remedy)

    @app.command()
    def reject(
        ident: Annotated[
            str, typer.Argument(metavar="ID", help="Decision id (or prefix), or group card id.")
        ],
        as_: Annotated[str | None, typer.Option("--as", metavar="NAME", help="Name to record.")] = None,
    ) -> None:
        """Reject: the resource is not announced again."""
        _decide(ident, "reject", as_)

    @app.command()
    def snooze(
        ident: Annotated[
            str, typer.Argument(metavar="ID", help="Decision id (or prefix), or group card id.")
        ],
        as_: Annotated[str | None, typer.Option("--as", metavar="NAME", help="Name to record.")] = None,
    ) -> None:
        """Snooze (CLOUDTHRIFT_SNOOZE_DAYS, 30 by default): announced again after that date if still idle."""
        _decide(ident, "snooze", as_)

    @app.command()
    def restore(
        ident: Annotated[str, typer.Argument(metavar="DECISION_ID", help="Decision id (or unique prefix).")],
        as_: Annotated[
            str | None, typer.Option("--as", metavar="NAME", help="Name to record as who asked.")
        ] = None,
    ) -> None:
        """Undo an executed clean-up (like the card's Undo button): the executor restores it."""
        from services.cli_support import run, settings
        from shared.events import Approver
        from shared.undo import find_decision, request_restore
        from shared.worker import open_runtime

        loaded = settings()
        user = getpass.getuser()
        # Recorded like an approval from the CLI: the operator's login, via "cli".
        approver = Approver(id=user[:64], name=(as_ or user)[:128], via="cli")

        async def go() -> str | None:
            async with open_runtime(loaded, short_lived=True) as runtime:
                matches = await find_decision(runtime.ledger, ident)
                if len(matches) != 1:
                    return f"{ident!r} matches {'several decisions' if matches else 'no decision'}"
                answer = await request_restore(
                    runtime.ledger,
                    runtime.publisher,
                    runtime.queues["execute"].url,
                    matches[0].pk,
                    approver,
                    now=datetime.now(UTC),
                )
            if answer.refused is not None:
                return answer.refused
            rid = answer.decision.key.resource_id if answer.decision else matches[0].pk
            typer.echo(f"restore: undo of {rid} sent to the executor, asked by {approver.name}")
            return None

        refused = run(go())
        if refused is not None:
            typer.echo(f"cloudthrift: cannot restore: {refused}", err=True)
            raise typer.Exit(1)
