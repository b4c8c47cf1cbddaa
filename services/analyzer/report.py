"""What the analyses cost and said, read back from the ledger (for `cloudthrift analysis ...`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from shared.ledger import Decision, Ledger


@dataclass
class SourceSpend:
    analyses: int = 0
    cached: int = 0
    fallbacks: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Decimal(0)


async def spend_by_source(ledger: Ledger) -> dict[str, SourceSpend]:
    """Per analysis source (model name or `rules`): how many, how many cached, tokens and dollars.

    A full scan of the table: fine for the report, never used by a worker.
    """
    totals: dict[str, SourceSpend] = defaultdict(SourceSpend)
    async for decision in ledger.everything():
        source = decision.get("analysis_source")
        if source is None:
            continue
        entry = totals[str(source)]
        entry.analyses += 1
        entry.cached += bool(decision.get("analysis_cached"))
        entry.fallbacks += bool(decision.get("analysis_fallback_reason"))
        entry.tokens_in += int(decision.get("analysis_tokens_in", 0))
        entry.tokens_out += int(decision.get("analysis_tokens_out", 0))
        entry.cost_usd += Decimal(decision.get("analysis_cost_usd", 0))
    return dict(totals)


async def find_decision(ledger: Ledger, ident: str) -> Decision | None:
    """A decision by its full key (account#region#id) or by resource id alone."""
    if ident.count("#") == 2:
        return await ledger.get(ident)
    async for decision in ledger.everything():
        if decision.get("resource_id") == ident:
            return decision
    return None
