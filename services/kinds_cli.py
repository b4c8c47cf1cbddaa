"""`cloudthrift kinds`: every resource kind with its checks, remedies, undo and permissions, as
`custodian schema` lists Cloud Custodian's; `--json` for scripts (and for generating IAM policies)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer


def describe_kinds() -> list[dict[str, Any]]:
    """The registries as plain data: what each kind can find, what each fix does, what each needs."""
    from shared.kinds import discover

    described = []
    for name, kind in discover():
        checks = [
            {
                "name": check_name,
                "summary": check.summary,
                "remedies": list(check.remedies),
                "usage_window_days": check.window.days if check.metrics else None,
                "metrics": [f"{m.namespace} {m.name} ({m.stat})" for m in check.metrics],
                "permissions": sorted({*kind.permissions, *check.permissions}),
            }
            for check_name, check in kind.checks
        ]
        remedies = [
            {
                "name": remedy_name,
                "summary": remedy.summary,
                "undo": remedy.undo,
                "keeps_snapshot": remedy.keeps_snapshot,
                "permissions": sorted({*kind.permissions, *remedy.permissions}),
            }
            for remedy_name, remedy in kind.remedies
        ]
        described.append(
            {
                "kind": name,
                "summary": kind.summary,
                "service": kind.service,
                "gemini_facts": sorted(kind.gemini_facts),
                "checks": checks,
                "remedies": remedies,
            }
        )
    return described


def register(app: typer.Typer) -> None:
    @app.command("kinds")
    def kinds_command(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    ) -> None:
        """Resource kinds CloudThrift knows: their checks, remedies (and undo), and the IAM permissions
        the scanner (checks) and the executor (remedies) need for each."""
        described = describe_kinds()
        if as_json:
            typer.echo(json.dumps(described, indent=2))
            return
        for kind in described:
            typer.echo(f"{kind['kind']}: {kind['summary']}")
            for check in kind["checks"]:
                window = f" over {check['usage_window_days']} days" if check["usage_window_days"] else ""
                typer.echo(f"  check {check['name']}: {check['summary']}{window}")
                typer.echo(f"    remedies: {', '.join(check['remedies'])}")
                typer.echo(f"    scanner needs: {', '.join(check['permissions'])}")
            for remedy in kind["remedies"]:
                undo = remedy["undo"] or "none: it cannot be undone"
                typer.echo(f"  remedy {remedy['name']}: {remedy['summary']} (undo: {undo})")
                typer.echo(f"    executor needs: {', '.join(remedy['permissions'])}")
