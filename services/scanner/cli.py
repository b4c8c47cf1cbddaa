"""`cloudthrift scan`: enqueue a scan request, the way the EventBridge schedule does.

Everything the request carries is checked here, before it is queued: an unknown kind, a misspelt region
or a malformed role ARN would otherwise be accepted and dead-lettered by the scanner minutes later.
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Sequence
from typing import Annotated

import typer


def known_kinds() -> list[str]:
    """The resource kinds a scan may name: the registered kinds (shared/kinds/)."""
    from shared.kinds import discover

    return discover().names()


def request_problems(
    regions: Sequence[str],
    kinds: Sequence[str],
    role_arns: Sequence[str],
    *,
    sources: tuple[str, str] = ("--region", "--kind"),
) -> list[str]:
    """Why this scan request would be refused by the scanner, one reason per bad value.

    Args:
        sources: what to call the regions and the kinds in a message (the option, or the variable
            they came from).
    """
    from shared.events import ROLE_ARN_PATTERN
    from shared.regions import region_problem

    problems = [f"{sources[0]} {problem}" for name in regions if (problem := region_problem(name))]
    known = known_kinds()
    problems += [
        f"{sources[1]} {kind!r} is not a resource kind (known: {', '.join(known)})"
        for kind in kinds
        if kind not in known
    ]
    problems += [
        f"--role-arn {arn!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"
        for arn in role_arns
        if not re.match(ROLE_ARN_PATTERN, arn)
    ]
    return problems


def scope(values: Sequence[str], what: str, variable: str) -> str:
    """How the scanner will choose regions or kinds for this request, said plainly."""
    if values:
        return f"{what} {', '.join(values)}"
    default = "every enabled region" if what == "regions" else "every kind it knows"
    return f"{what}: the scanner's own {variable} (or {default})"


def register(app: typer.Typer) -> None:
    @app.command()
    def scan(
        region: Annotated[
            list[str] | None,
            typer.Option(
                "--region",
                "-r",
                metavar="REGION",
                help="Region to scan (repeatable); default: CLOUDTHRIFT_REGIONS here, else the scanner's.",
            ),
        ] = None,
        kind: Annotated[
            list[str] | None,
            typer.Option(
                "--kind",
                "-k",
                metavar="KIND",
                help="Resource kind (repeatable); default: CLOUDTHRIFT_KINDS here, else the scanner's.",
            ),
        ] = None,
        role_arn: Annotated[
            list[str] | None,
            typer.Option(
                "--role-arn", metavar="ARN", help="Scan another account through this role (repeatable)."
            ),
        ] = None,
    ) -> None:
        """Ask the scanner for a scan (one request per account)."""
        from services.cli_support import USAGE_ERROR, fail, run, settings
        from shared.aws import AwsClients
        from shared.events import ScanRequested
        from shared.publisher import Publisher

        loaded = settings()
        regions = tuple(region or loaded.cloudthrift_regions)
        kinds = tuple(kind or loaded.cloudthrift_kinds)
        sources = ("--region" if region else "CLOUDTHRIFT_REGIONS", "--kind" if kind else "CLOUDTHRIFT_KINDS")
        problems = request_problems(regions, kinds, role_arn or [], sources=sources)
        if problems:
            fail("; ".join(problems), USAGE_ERROR)
        who = f"cli:{getpass.getuser()}"
        requests = [
            ScanRequested(regions=regions, kinds=kinds, role_arn=arn, requested_by=who)
            for arn in (role_arn or [None])
        ]

        async def go() -> None:
            async with AwsClients(loaded) as aws:
                sqs = await aws.client("sqs")
                url = (await sqs.get_queue_url(QueueName=loaded.queue_name("scan")))["QueueUrl"]
                await Publisher(sqs).publish(url, requests)
            for request in requests:
                typer.echo(
                    f"scan {request.scan_id} requested ({request.role_arn or 'this account'}); "
                    f"{scope(regions, 'regions', 'CLOUDTHRIFT_REGIONS')}; "
                    f"{scope(kinds, 'kinds', 'CLOUDTHRIFT_KINDS')}"
                )

        run(go())
