"""`cloudthrift report`: write the savings report as one HTML file, filtered by the options."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

_MANY = "Repeat the option or separate values with commas."


def _utc(value: datetime | None) -> datetime | None:
    """Typer parses dates without a zone: they are UTC, like every time in the ledger."""
    return value.replace(tzinfo=value.tzinfo or UTC) if value else None


def _many(values: list[str] | None) -> frozenset[str]:
    return frozenset(part.strip() for value in values or [] for part in value.split(",") if part.strip())


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        out: Annotated[Path, typer.Option(help="Where to write the HTML file.")] = Path(
            "cloudthrift-report.html"
        ),
        since: Annotated[
            datetime | None, typer.Option(help="Only what was found (or cleaned up) from then, UTC.")
        ] = None,
        until: Annotated[
            datetime | None,
            typer.Option(
                help="Only what was found (or cleaned up) before then, UTC; cost avoided runs to then."
            ),
        ] = None,
        account: Annotated[list[str] | None, typer.Option(help=f"Only these account ids. {_MANY}")] = None,
        region: Annotated[list[str] | None, typer.Option(help=f"Only these regions. {_MANY}")] = None,
        kind: Annotated[list[str] | None, typer.Option(help=f"Only these resource kinds. {_MANY}")] = None,
    ) -> None:
        """Write the savings report (headline figures, charts, tables) as one self-contained HTML file."""
        from services.cli_support import run, settings

        if importlib.util.find_spec("matplotlib") is None:
            typer.echo("cloudthrift: the report needs its extra: pip install 'cloudthrift[report]'", err=True)
            raise typer.Exit(2)
        from services.report import Filters, write_report
        from shared.aws import AwsClients
        from shared.ledger import Ledger

        filters = Filters(
            since=_utc(since),
            until=_utc(until),
            accounts=_many(account),
            regions=_many(region),
            kinds=_many(kind),
        )
        loaded = settings()

        async def go() -> Path:
            async with AwsClients(loaded) as aws:
                ledger = Ledger(await aws.client("dynamodb"), loaded.table_name)
                return await write_report(ledger, out, filters)

        typer.echo(str(run(go())))
