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
        sample: Annotated[int, typer.Option(help="How many reasons to show per queue.")] = 5,
    ) -> None:
        """Depth of each dead-letter queue and why a few of its messages are there."""
        from services.cli import run, settings
        from shared.aws import AwsClients
        from shared.dlq import list_dlqs

        loaded = settings()

        async def go() -> None:
            async with AwsClients(loaded) as aws:
                summaries = await list_dlqs(await aws.client("sqs"), loaded, sample=sample)
            for summary in summaries:
                typer.echo(f"{summary.dlq_name}: {summary.depth} message(s)")
                for reason in summary.reasons:
                    typer.echo(f"  - {reason}")

        run(go())

    @dlq.command("replay")
    def replay_command(
        queue: Annotated[str, typer.Argument(help=f"One of: {', '.join(QUEUE_NAMES)}.")],
    ) -> None:
        """Move the messages of QUEUE's dead-letter queue back to QUEUE."""
        from services.cli import run, settings
        from shared.aws import AwsClients
        from shared.dlq import replay

        if queue not in QUEUE_NAMES:
            typer.echo(f"cloudthrift: unknown queue {queue!r} (one of: {', '.join(QUEUE_NAMES)})", err=True)
            raise typer.Exit(2)
        name = cast(QueueName, queue)
        loaded = settings()

        async def go() -> None:
            async with AwsClients(loaded) as aws:
                mover = await aws.client("sqs", max_attempts=1)
                result = await replay(await aws.client("sqs"), loaded, name, mover=mover)
            typer.echo(
                f"replayed {result.moved} message(s) from {loaded.dlq_name(name)} to "
                f"{loaded.queue_name(name)} ({result.method})"
            )

        run(go())
