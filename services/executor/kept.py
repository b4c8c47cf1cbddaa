"""What a clean-up keeps billing, priced on what was really kept (issue 14).

The scanner priced the kept snapshot on the volume's provisioned size, an upper bound: a snapshot bills
the blocks written. Once the snapshot completes, the remedy records the size AWS reports
(`snapshot_size_gib`, from FullSnapshotSizeInBytes) and this prices the kept snapshot on it, with the
region's rates and the remedy's own `residual` (standard or archive tier). Where AWS reported no size,
the scanner's figure for the remedy that ran stands, labelled an upper bound in the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.kinds.base import Done, Observation, Remedy
from shared.kinds.pricing import Rates, money
from shared.ledger import Attr, Decision

ARCHIVE_MINIMUM_MONTHS = 3  # an archived snapshot is billed for at least 90 days


@dataclass(frozen=True)
class Kept:
    """The monthly cost of what stays billed (None: the finding's own estimate stands)."""

    monthly_usd: Decimal | None
    gross_monthly_usd: Decimal
    archived: bool = False

    def fields(self, remedy: Remedy) -> dict[str, Any]:
        """The ledger's record: which remedy ran, the gross saving, what the snapshot costs."""
        fields: dict[str, Any] = {
            Attr.REMEDY: remedy.name,
            Attr.GROSS_MONTHLY_SAVING_USD: self.gross_monthly_usd,
        }
        if self.monthly_usd is not None:
            fields[Attr.SNAPSHOT_MONTHLY_USD] = self.monthly_usd
            if self.archived:
                fields[Attr.SNAPSHOT_TIER] = "archive"
                fields[Attr.SNAPSHOT_MINIMUM_USD] = money(self.monthly_usd * ARCHIVE_MINIMUM_MONTHS)
        return fields


def kept_cost(decision: Decision, done: Done, remedy: Remedy, rates: Rates) -> Kept:
    """Price what `done` kept: on the size AWS reported, else the scanner's figure for this remedy."""
    cost = decision.finding.cost
    gross = cost.monthly_usd
    if not done.keeps_snapshot:
        return Kept(Decimal(0), gross)
    reported = done.record.get(Attr.SNAPSHOT_SIZE_GIB)
    if reported is not None:
        facts = dict(decision.finding.facts) | {Attr.SNAPSHOT_SIZE_GIB.value: str(reported)}
        residual = remedy.residual(Observation(decision.finding.key.resource_id, facts), rates)
        if residual is not None:
            return Kept(money(residual.monthly_usd), gross, remedy.archives)
    choice = cost.choice(remedy.name)
    if choice is not None:
        return Kept(choice.residual_monthly_usd, gross, remedy.archives)
    return Kept(cost.snapshot_monthly_usd if cost.snapshot_monthly_usd else None, gross, remedy.archives)
