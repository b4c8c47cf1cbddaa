"""`cloudthrift report`: the savings history as one HTML file with charts, to attach to an email.

`data` reads and filters the ledger and sums it with the savings command's own function, `charts`
draws with matplotlib, `page` fills the template; `write_report` ties them for the CLI and the local
default.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from services.report.data import Filters, ReportData, load
from shared.ledger import Ledger

__all__ = ["Filters", "write_report"]


async def write_report(
    ledger: Ledger, out: Path, filters: Filters | None = None, *, now: datetime | None = None
) -> Path:
    """Read the ledger, draw the report, write it to `out` (replacing it whole), and return its path.

    Drawing is CPU work of a second or two: it runs in a thread, so workers sharing the event loop
    (the local default) keep their heartbeats.
    """
    generated = datetime.now(UTC)
    data = await load(ledger, filters or Filters(), now=now or generated)
    return await asyncio.to_thread(_write, data, out, generated)


def _write(data: ReportData, out: Path, generated: datetime) -> Path:
    from services.report.page import render

    html = render(data, generated=generated)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(html, encoding="utf-8")
    partial.replace(out)
    return out.absolute()
