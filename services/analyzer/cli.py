"""`cloudthrift analysis show|spend|try`: read analyses back, see what Gemini costs, test the set-up."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.ledger import Ledger


@contextlib.asynccontextmanager
async def open_ledger(settings: Settings) -> AsyncIterator[Ledger]:
    """Just the ledger: reports need no queue."""
    from shared.aws import AwsClients
    from shared.ledger import Ledger

    async with AwsClients(settings) as aws:
        yield Ledger(await aws.client("dynamodb"), settings.table_name)


def register(app: typer.Typer) -> None:
    analysis = typer.Typer(help="Analyses of findings (Gemini or rules).", no_args_is_help=True)
    app.add_typer(analysis, name="analysis")

    @analysis.command("show")
    def show_command(
        resource: Annotated[str, typer.Argument(help="Resource id, or the full account#region#id key.")],
    ) -> None:
        """Print the analysis recorded for one resource, with its source, tokens and cost."""
        from services.analyzer.report import find_decision
        from services.cli_support import run, settings

        loaded = settings()

        async def go() -> int:
            async with open_ledger(loaded) as ledger:
                decision = await find_decision(ledger, resource)
            if decision is None or decision.analysis is None:
                typer.echo(f"cloudthrift: no analysis recorded for {resource}", err=True)
                return 1
            typer.echo(f"{decision.pk}  state={decision.state.value}")
            typer.echo(decision.analysis.model_dump_json(indent=2))
            typer.echo(
                f"tokens in/out: {decision.get('analysis_tokens_in', 0)}/"
                f"{decision.get('analysis_tokens_out', 0)}  cost: ${decision.get('analysis_cost_usd', 0)}"
                f"  cached: {bool(decision.get('analysis_cached'))}"
            )
            if decision.get("analysis_fallback_reason"):
                typer.echo(f"fell back to rules: {decision.get('analysis_fallback_reason')}")
            return 0

        raise typer.Exit(run(go()))

    @analysis.command("spend")
    def spend_command() -> None:
        """Analyses per source (model or rules), cache hits, fallbacks, tokens and dollars spent."""
        from services.analyzer.report import spend_by_source
        from services.cli_support import run, settings

        loaded = settings()

        async def go() -> None:
            async with open_ledger(loaded) as ledger:
                totals = await spend_by_source(ledger)
            if not totals:
                typer.echo("no analyses recorded yet")
            for source, entry in sorted(totals.items()):
                typer.echo(
                    f"{source}: {entry.analyses} analyses ({entry.cached} cached, {entry.fallbacks} after "
                    f"a Gemini failure), tokens in/out {entry.tokens_in}/{entry.tokens_out}, "
                    f"${entry.cost_usd:.6f}"
                )

        run(go())

    @analysis.command("try")
    def try_command() -> None:
        """Ask the configured Gemini about a sample finding (no ledger, no queue): checks key and model."""
        from services.analyzer.probe import ask, sample_finding
        from services.analyzer.rules import rules_analysis
        from services.cli_support import run, settings
        from shared.events import utcnow

        loaded = settings()
        now = utcnow()
        sample = sample_finding(loaded.aws_region, now)
        if loaded.gemini_api_key is None:
            typer.echo("GEMINI_API_KEY is not set: the analyzer uses its rules. The rules say:")
            typer.echo(rules_analysis(sample, now).model_dump_json(indent=2))
            return
        probe = run(ask(loaded, sample, now))
        if probe.answer is None:
            typer.echo(f"cloudthrift: Gemini ({probe.model}) failed: {probe.failure}", err=True)
            raise typer.Exit(1)
        typer.echo(probe.answer.analysis.model_dump_json(indent=2))
        typer.echo(f"tokens in/out: {probe.answer.tokens_in}/{probe.answer.tokens_out}")
