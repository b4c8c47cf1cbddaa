"""A group card's tally, kept with its card record: constant work per member outcome.

A group card shows every member's outcome ("Group of 300: ✅ 212 done · ⏳ 88 not finished"). Reading
every member on every outcome costs N reads per outcome, N² per card: a 300-member card capped the
executors at half a decision a second (issue 20). Instead each outcome is counted once into the card
record (`card#<id>`, written by the notifier) by one conditional UpdateItem, and an edit reads only
the counters back (a projection, never the member list):

- `tally_done`, a string set of the members that reached EXECUTED or SKIPPED, is the guard: a member
  already in it is not counted again (a duplicate delivery, a re-edit), so counters stay exact under
  at-least-once delivery. The set grows with the card, but a card record is split at 500 members.
- FAILED is not final (a replay resumes it), so failed members are a set of their own, `tally_failed`,
  that a later EXECUTED or SKIPPED removes the member from in the same write.
- `tally_latest` is the latest outcome's headline, shown under the counts.

Edits are coalesced per card (`CoalescedEdits`): outcomes of one card landing within a short window
share one tally read and one Discord edit. Every caller waits for the edit that includes it, so a
message is acknowledged only once its card shows it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.ledger import Attr, Decision, Ledger, State

CARD_PREFIX = "card#"  # services/notifier/decide.py: one auxiliary record per posted card
_LATEST_LIMIT = 600
_FIELDS = (
    "member_count",
    "tally_executed",
    "tally_skipped",
    "tally_saved",
    "tally_dry",
    "tally_dry_executed",
    "tally_dry_saved",
    "tally_failed",
    "tally_latest",
    "tally_rejected",
    "tally_snoozed",
)


# What a group card's progress line counts, always in this order. Rejected and snoozed members were
# decided one by one from the CLI: they are finished, just not executed, and say so.
_PROGRESS = (
    (State.SKIPPED, "⏭️", "skipped"),
    (State.FAILED, "❌", "failed"),
    (State.REJECTED, "🚫", "rejected"),
    (State.SNOOZED, "💤", "snoozed"),
    (State.AWAITING_APPROVAL, "🕓", "awaiting a decision"),
)
_RUNNING = (State.APPROVED, State.EXECUTING)


def progress_line(
    counts: Mapping[State, int],
    saved: Decimal,
    *,
    dry: bool = False,
    dry_done: int = 0,
    dry_saved: Decimal = Decimal(0),
) -> str:
    """`Group of N: ✅ done · 🧪 dry-run · ⏭️ skipped · ❌ failed · 🚫 rejected · 💤 snoozed · 🕓 awaiting a
    decision · ⏳ not finished`, each part present only when non-zero (done always), in that fixed order.

    `counts[EXECUTED]` counts every executed member, `dry_done` of them dry runs: real and dry-run
    members are shown and summed apart, so a rehearsal is never mixed into money saved. `dry` marks a
    card whose tally predates that split (all its executed members counted as one)."""
    total = sum(counts.values())
    real = counts.get(State.EXECUTED, 0) - dry_done
    parts = []
    if real or not dry_done:
        parts.append(f"✅ {real} {'dry-run ' if dry else ''}done (${saved:.2f}/month)")
    if dry_done:
        parts.append(f"🧪 {dry_done} dry-run done (would save ${dry_saved:.2f}/month)")
    parts += [f"{mark} {counts[state]} {label}" for state, mark, label in _PROGRESS if counts.get(state)]
    running = sum(counts.get(state, 0) for state in _RUNNING)
    if running:
        parts.append(f"⏳ {running} not finished")
    return f"Group of {total}: " + " · ".join(parts)


@dataclass(frozen=True)
class CardTally:
    """What a group card shows: counts of its members' outcomes, read from its record."""

    members: int
    executed: int = 0
    skipped: int = 0
    failed: int = 0
    rejected: int = 0  # decided one by one before the rest were approved (services/notifier/decide.py)
    snoozed: int = 0
    saved_monthly_usd: Decimal = Decimal(0)
    dry_run: bool = False  # a tally from before real and dry-run members were counted apart
    latest: str = ""
    dry_executed: int = 0  # of `executed`, the dry runs
    dry_saved_monthly_usd: Decimal = Decimal(0)

    @property
    def waiting(self) -> int:
        finished = self.executed + self.skipped + self.failed + self.rejected + self.snoozed
        return max(self.members - finished, 0)

    def text(self) -> str:
        """One group card, many decisions: counts, so one member's edit never hides another's."""
        counts = {
            State.EXECUTED: self.executed,
            State.SKIPPED: self.skipped,
            State.FAILED: self.failed,
            State.REJECTED: self.rejected,
            State.SNOOZED: self.snoozed,
            State.EXECUTING: self.waiting,
        }
        line = progress_line(
            counts,
            self.saved_monthly_usd,
            dry=self.dry_run,
            dry_done=self.dry_executed,
            dry_saved=self.dry_saved_monthly_usd,
        )
        return line + f"\nLatest: {self.latest}"


def saving_of(decision: Decision) -> Decimal:
    """The monthly saving an executed decision recorded (real, or what a dry run would save)."""
    value = decision.get(Attr.REALISED_MONTHLY_SAVING_USD) or decision.get(Attr.WOULD_SAVE_MONTHLY_USD) or 0
    return Decimal(str(value))


class GroupCards:
    """Counts member outcomes into their card record and reads the tally back; the ledger holds both."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def count(self, card_id: str, decision: Decision, latest: str) -> bool:
        """Count one member's outcome once; False when it was counted already (or the card is unknown)."""
        names = {"#done": "tally_done", "#failed": "tally_failed", "#latest": "tally_latest"}
        values: dict[str, Any] = {
            ":member": decision.pk,
            ":members": {decision.pk},
            ":latest": latest[:_LATEST_LIMIT],
        }
        if decision.state is State.FAILED:
            update = "ADD #failed :members SET #latest = :latest"
        elif decision.state in (State.EXECUTED, State.SKIPPED):
            executed = decision.state is State.EXECUTED
            dry = executed and bool(decision.get(Attr.DRY_RUN))
            # Real and dry-run members are counted apart (`tally_dry_*` also in `tally_executed`): a
            # card mixing both never sums a rehearsal into money saved.
            names |= {
                "#count": "tally_executed" if executed else "tally_skipped",
                "#saved": "tally_dry_saved" if dry else "tally_saved",
            }
            values |= {":one": 1, ":saved": saving_of(decision) if executed else Decimal(0)}
            update = "ADD #done :members, #count :one, #saved :saved"
            if dry:
                names["#dry"] = "tally_dry_executed"
                update += ", #dry :one"
            update += " DELETE #failed :members SET #latest = :latest"
        else:
            return False
        return await self._ledger.update_if(
            CARD_PREFIX + card_id,
            update=update,
            condition="attribute_exists(pk) AND NOT contains(#done, :member)",
            names=names,
            values=values,
        )

    async def tally(self, card_id: str) -> CardTally | None:
        """The card's counts: one GetItem of the counters (a pre-tally card: its member list once)."""
        record = await self._ledger.read_fields(CARD_PREFIX + card_id, _FIELDS)
        if record is None:
            return None
        members = record.get("member_count")
        if members is None:
            listed = await self._ledger.read_fields(CARD_PREFIX + card_id, ("members",))
            members = len((listed or {}).get("members", []))
        return CardTally(
            members=int(members),
            executed=int(record.get("tally_executed", 0)),
            skipped=int(record.get("tally_skipped", 0)),
            failed=len(record.get("tally_failed", ())),
            rejected=len(record.get("tally_rejected", ())),
            snoozed=len(record.get("tally_snoozed", ())),
            saved_monthly_usd=Decimal(str(record.get("tally_saved", 0))),
            dry_run=bool(record.get("tally_dry", False)),
            latest=str(record.get("tally_latest", "")),
            dry_executed=int(record.get("tally_dry_executed", 0)),
            dry_saved_monthly_usd=Decimal(str(record.get("tally_dry_saved", 0))),
        )


class CoalescedEdits:
    """One edit per key per `window` seconds: callers within the window share the next edit and wait
    for it. An edit that has started reading is not joined (its read may miss the newcomer)."""

    def __init__(self, window: float = 0.25) -> None:
        self._window = window
        self._pending: dict[str, asyncio.Future[None]] = {}

    async def run(self, key: str, edit: Callable[[], Awaitable[None]]) -> None:
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._after_window(key, edit))
            self._pending[key] = pending
        await asyncio.shield(pending)

    async def _after_window(self, key: str, edit: Callable[[], Awaitable[None]]) -> None:
        try:
            await asyncio.sleep(self._window)
        finally:
            self._pending.pop(key, None)
        await edit()
