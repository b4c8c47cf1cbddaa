"""`cloudthrift dlq list` and `cloudthrift dlq replay QUEUE`."""

from __future__ import annotations

from typing import Annotated, cast

import typer

from shared.config import QUEUE_NAMES, QueueName


def register(app: typer.Typer) -> None:
    dlq = typer.Typer(help="Inspect and replay dead-letter queues.", no_args_is_help=True)
    app.add_typer(dlq, name="dlq")

    @dlq.command("list")
    def list_command(
        sample: Annotated[int, typer.Option(min=0, help="How many messages to show per queue.")] = 5,
    ) -> None:
        """Depth of each dead-letter queue and, for a few of its messages, why they are there, which
        decision they are about, and whether that decision has finished since."""
        from services.cli_support import run, settings
        from shared.aws import AwsClients
        from shared.dlq import list_dlqs
        from shared.ledger import Ledger

        loaded = settings()

        async def go() -> None:
            async with AwsClients(loaded) as aws:
                ledger = Ledger(await aws.client("dynamodb"), loaded.table_name)
                summaries = await list_dlqs(await aws.client("sqs"), loaded, sample=sample, ledger=ledger)
            for summary in summaries:
                typer.echo(f"{summary.dlq_name}: {summary.depth} message(s)")
                for entry in summary.entries:
                    typer.echo(f"  - {entry.describe()}")

        run(go())

    @dlq.command("replay")
    def replay_command(
        queue: Annotated[str, typer.Argument(help=f"One of: {', '.join(QUEUE_NAMES)}.")],
        finished: Annotated[
            bool,
            typer.Option(
                "--skip-finished/--all",
                help="Delete, rather than replay, messages whose decision has finished (the default).",
            ),
        ] = True,
    ) -> None:
        """Move the messages of QUEUE's dead-letter queue back to QUEUE, except those whose decision
        has already finished (they are deleted: a replay would do nothing)."""
        from services.cli_support import run, settings
        from shared.aws import AwsClients
        from shared.dlq import replay
        from shared.ledger import Ledger

        if queue not in QUEUE_NAMES:
            typer.echo(f"cloudthrift: unknown queue {queue!r} (one of: {', '.join(QUEUE_NAMES)})", err=True)
            raise typer.Exit(2)
        name = cast(QueueName, queue)
        loaded = settings()

        async def go() -> None:
            async with AwsClients(loaded) as aws:
                mover = await aws.client("sqs", max_attempts=1)
                ledger = Ledger(await aws.client("dynamodb"), loaded.table_name) if finished else None
                result = await replay(await aws.client("sqs"), loaded, name, mover=mover, ledger=ledger)
            typer.echo(
                f"replayed {result.moved} message(s) from {loaded.dlq_name(name)} to "
                f"{loaded.queue_name(name)} ({result.method})"
                + (f"; deleted {result.skipped} whose decision had finished" if result.skipped else "")
            )

        run(go())
