"""`cloudthrift scan`: enqueue a scan request, the way the EventBridge schedule does."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def scan(
        region: Annotated[
            list[str] | None,
            typer.Option("--region", "-r", help="Region(s); default: settings or all enabled."),
        ] = None,
        kind: Annotated[
            list[str] | None, typer.Option("--kind", "-k", help="Resource kind(s); default: all.")
        ] = None,
        role_arn: Annotated[
            list[str] | None,
            typer.Option("--role-arn", help="Scan another account through this role (repeatable)."),
        ] = None,
    ) -> None:
        """Ask the scanner for a scan (one request per account)."""
        from services.cli import run, settings
        from shared.aws import AwsClients
        from shared.events import ScanRequested
        from shared.publisher import Publisher

        loaded = settings()
        who = f"cli:{getpass.getuser()}"
        requests = [
            ScanRequested(
                regions=tuple(region or ()), kinds=tuple(kind or ()), role_arn=arn, requested_by=who
            )
            for arn in (role_arn or [None])
        ]

        async def go() -> None:
            async with AwsClients(loaded) as aws:
                sqs = await aws.client("sqs")
                url = (await sqs.get_queue_url(QueueName=loaded.queue_name("scan")))["QueueUrl"]
                await Publisher(sqs).publish(url, requests)
            for request in requests:
                typer.echo(f"scan {request.scan_id} requested ({request.role_arn or 'this account'})")

        run(go())
