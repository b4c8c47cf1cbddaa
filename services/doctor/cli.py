"""`cloudthrift doctor`: run every check in order, print one line each, exit 1 if any failed."""

from __future__ import annotations

import typer

from services.doctor import Check


async def diagnose() -> list[Check]:
    """Every check, in the order an operator would fix them; AWS checks stop at the first blocker."""
    from services.cli_support import current_settings
    from services.doctor import aws as aws_checks
    from services.doctor import outside
    from shared.aws import AwsClients
    from shared.ledger import Ledger

    settings = current_settings()
    assert settings is not None, "diagnose() runs inside the doctor command"
    checks: list[Check] = []
    async with AwsClients(settings) as aws:
        who, reached = await aws_checks.identity(aws, settings)
        checks.append(who)
        if reached:
            checks.append(await aws_checks.queues(aws, settings))
            checks.append(table := await aws_checks.table(aws, settings))
            for stage, wanted in aws_checks.stage_permissions().items():
                checks.append(await aws_checks.permissions(aws, settings, stage, wanted))
            if table.status == "ok":
                checks.append(
                    await outside.executor(Ledger(await aws.client("dynamodb"), settings.table_name))
                )
        else:
            checks.append(Check("aws resources", "skip", "not checked: no AWS identity (see above)"))
    checks += await outside.discord(settings)
    checks.append(await outside.gemini(settings))
    checks.append(outside.datadog(settings))
    return checks


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor() -> None:
        """Check this set-up: AWS identity, queues, table, permissions (DryRun), Discord, Gemini, Datadog."""
        from services.cli_support import run, settings

        settings()
        checks = run(diagnose())
        width = max(len(check.name) for check in checks) + 1
        for check in checks:
            typer.echo(check.line(width))
        failed = [check.name for check in checks if check.status == "FAIL"]
        if failed:
            typer.echo(f"{len(failed)} check(s) failed: {', '.join(failed)}", err=True)
            raise typer.Exit(1)
