"""Decisions as rows, for `cloudthrift pending` and `cloudthrift findings`: a table, JSON or CSV.

A person at a terminal gets a rich table; a pipe gets whole values (never an id cut to fit 80 columns);
a script asks for `--json` (one object per decision, typed values) or `--csv` (the same fields, flat).
Every field a script needs to act on a decision is in `row`: the id to approve it by, where the
resource is, what it costs, what the analysis said, and where it stands.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from shared.ledger import Attr, Decision

Format = Literal["table", "json", "csv"]

FIELDS = (
    "decision_id",
    "state",
    "kind",
    "account_id",
    "region",
    "resource_id",
    "pk",
    "monthly_usd",
    "net_monthly_saving_usd",
    "snapshot_monthly_usd",
    "price_source",
    "price_date",
    "idle_reason",
    "idle_since",
    "resource_created_at",
    "first_seen_at",
    "updated_at",
    "risk",
    "recommendation",
    "confidence",
    "analysis_source",
    "summary",
    "card_id",
    "group_card",
    "decided_by",
    "decided_at",
    "snoozed_until",
    "dry_run",
    "role_arn",
    "scan_id",
    "tags",
    "facts",
)
# What the table shows of those: the rest is one `--json` away.
TABLE = (
    "decision_id",
    "state",
    "kind",
    "region",
    "resource_id",
    "monthly_usd",
    "net_monthly_saving_usd",
    "risk",
    "card_id",
)


def is_decision(decision: Decision) -> bool:
    """Cards, group windows and heartbeats share the table; they have no decision id."""
    return "state" in decision.attrs and "decision_id" in decision.attrs and "finding" in decision.attrs


def row(decision: Decision) -> dict[str, Any]:
    """One decision as plain JSON values (numbers as strings of decimals: money stays exact)."""
    finding, analysis = decision.finding, decision.analysis
    card = decision.get(Attr.CARD_ID)
    return {
        "decision_id": decision.decision_id,
        "state": decision.state.value,
        "kind": finding.kind,
        "account_id": finding.key.account_id,
        "region": finding.key.region,
        "resource_id": finding.key.resource_id,
        "pk": decision.pk,
        "monthly_usd": str(finding.cost.monthly_usd),
        "net_monthly_saving_usd": str(finding.cost.net_monthly_saving_usd),
        "snapshot_monthly_usd": str(finding.cost.snapshot_monthly_usd),
        "price_source": finding.cost.price_source,
        "price_date": finding.cost.price_date,
        "idle_reason": finding.idle_reason,
        "idle_since": decision.get(Attr.IDLE_SINCE) or finding.idle_since.isoformat(),
        "resource_created_at": finding.created_at.isoformat() if finding.created_at else None,
        "first_seen_at": decision.get(Attr.CREATED_AT),
        "updated_at": decision.get(Attr.UPDATED_AT),
        "risk": analysis.risk if analysis else None,
        "recommendation": analysis.recommendation if analysis else None,
        "confidence": analysis.confidence if analysis else None,
        "analysis_source": analysis.source if analysis else None,
        "summary": analysis.summary if analysis else None,
        "card_id": card,
        "group_card": bool(card) and card != decision.decision_id,
        "decided_by": decision.get(Attr.DECIDED_BY),
        "decided_at": decision.get(Attr.DECIDED_AT),
        "snoozed_until": decision.get(Attr.SNOOZED_UNTIL),
        "dry_run": decision.get(Attr.DRY_RUN),
        "role_arn": finding.role_arn,
        "scan_id": finding.scan_id,
        "tags": dict(finding.tags),
        "facts": dict(finding.facts),
    }


def _flat(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(rows: Sequence[dict[str, Any]], fmt: Format, *, title: str, out: Any = None) -> None:
    """Print `rows` as asked; a table on a pipe keeps every value whole (tab-separated)."""
    out = out or sys.stdout
    if fmt == "json":
        out.write(json.dumps(list(rows), indent=2) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({name: _flat(r[name]) for name in FIELDS} for r in rows)
    elif out.isatty():
        _rich_table(rows, title, out)
    else:
        out.write("\t".join(TABLE) + "\n")
        for r in rows:
            out.write("\t".join(_flat(r[name]) for name in TABLE) + "\n")


def _rich_table(rows: Iterable[dict[str, Any]], title: str, out: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for name in TABLE:
        # Ids never wrap or shrink: they are what the operator copies into `cloudthrift approve`.
        table.add_column(name, no_wrap=name in ("decision_id", "resource_id"))
    for r in rows:
        table.add_row(*(_flat(r[name]) for name in TABLE))
    Console(file=out).print(table)
