"""Telling the humans how an approval ended: the Discord card is edited, or a line is printed.

The handler only knows the `OutcomeReporter` protocol. The ledger is the record of truth; a card that
cannot be edited is logged and never undoes or repeats the clean-up.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, TextIO

import structlog

from services.executor.group_card import CardTally, CoalescedEdits, progress_line, saving_of
from shared.discord import escape_markdown, printable
from shared.ledger import Attr, Decision, State

log = structlog.get_logger("cloudthrift.executor")
# The states a card is edited for: a clean-up's outcome, and an undo's.
TOLD = frozenset({State.EXECUTED, State.SKIPPED, State.FAILED, State.RESTORED, State.RESTORE_FAILED})
_DISCORD_CONTENT_LIMIT = 2000


@dataclass(frozen=True)
class Outcome:
    """A decision that reached EXECUTED, SKIPPED or FAILED, as the ledger now holds it."""

    decision: Decision

    @property
    def state(self) -> State:
        return self.decision.state

    @property
    def channel_id(self) -> str | None:
        value = self.decision.get(Attr.CHANNEL_ID)
        return str(value) if value else None

    @property
    def message_id(self) -> str | None:
        value = self.decision.get(Attr.MESSAGE_ID)
        return str(value) if value else None

    @property
    def headline(self) -> str:
        return headline(self.decision)


class OutcomeReporter(Protocol):
    async def report(self, outcome: Outcome) -> None: ...


class CardEditor(Protocol):
    """What we need of a Discord REST client (shared/discord.py)."""

    async def edit_message(self, channel_id: str, message_id: str, payload: dict[str, Any]) -> Any: ...


def _usd(value: Any) -> str:
    return f"${Decimal(str(value)):.2f}"


def saves(value: Any) -> str:
    """`saves $X/month`, or, when what was kept costs more than what was removed, says so: never a
    negative saving shown as "Saves $-10.00"."""
    amount = Decimal(str(value or 0))
    if amount < 0:
        return (
            f"costs {_usd(-amount)}/month more than it saves "
            "(the kept snapshot costs more than the volume did)"
        )
    return f"saves {_usd(amount)}/month"


def snapshot_basis(decision: Decision) -> str:
    """What the kept snapshot's price rests on: the size AWS reported, or the provisioned upper bound."""
    monthly = decision.get(Attr.SNAPSHOT_MONTHLY_USD)
    if monthly is None or not decision.get(Attr.SNAPSHOT_ID):
        return ""
    if decision.get(Attr.SNAPSHOT_SIZE_GIB) is not None:
        size = decision.get(Attr.SNAPSHOT_SIZE_GIB)
        return f" net of the snapshot's {_usd(monthly)}/month ({size} GiB as AWS reports it)"
    return f" net of the snapshot's {_usd(monthly)}/month (an upper bound: AWS did not report its size)"


def headline(decision: Decision, quote: Callable[[Any], str] = str) -> str:
    """One line a human reads on the card: what happened, to what, who approved it, what it saves.

    `quote` renders text we do not control (a name, a reason, an error): `escape_markdown` on Discord.
    """
    kind = decision.get(Attr.KIND, "resource")
    rid = decision.get(Attr.RESOURCE_ID, decision.pk)
    who = quote(decision.get(Attr.APPROVER_NAME) or "unknown")
    if decision.state is State.EXECUTED:
        snapshot = decision.get(Attr.SNAPSHOT_ID)
        what = {
            "snapshot_then_delete": f"deleted {kind} {rid} after snapshot {snapshot}",
            "archive_snapshot_then_delete": f"deleted {kind} {rid} after snapshot {snapshot}, kept in the "
            "archive tier (billed for at least 90 days; a restore takes up to 72 hours)",
            "delete": f"deleted {kind} {rid} (no snapshot kept: it cannot be undone)",
            "release": f"released {rid} ({decision.get('public_ip') or 'address'})",
        }.get(str(decision.get(Attr.ACTION)), f"cleaned up {kind} {rid}")
        if decision.get(Attr.DRY_RUN):
            would = {"snapshot_then_delete": "snapshot then delete", "delete": "delete", "release": "release",
                     "archive_snapshot_then_delete": "archive a snapshot then delete"}  # fmt: skip
            return (
                f"🧪 Dry run: would {would.get(str(decision.get('action')), 'clean up')} {kind} {rid}, "
                f"{saves(decision.get(Attr.WOULD_SAVE_MONTHLY_USD))}. Nothing was changed. "
                f"Approved by {who}."
            )
        gone = " (it was already gone)" if decision.get(Attr.ALREADY_GONE) else ""
        return (
            f"✅ Done: {what}{gone}. {saves(decision.get(Attr.REALISED_MONTHLY_SAVING_USD)).capitalize()}"
            f"{snapshot_basis(decision)}. Approved by {who}."
        )
    if decision.state is State.SKIPPED:
        return f"⏭️ Skipped {kind} {rid}: {quote(decision.get('skip_reason'))}. Nothing was deleted."
    if decision.state is State.FAILED:
        return (
            f"❌ Failed on {kind} {rid}: {quote(decision.get('error'))}. Replay it from the DLQ once fixed."
        )
    return undo_headline(decision, quote) or f"{kind} {rid}: {decision.state.value}"


def undo_headline(decision: Decision, quote: Callable[[Any], str] = str) -> str | None:
    """The card's line once an undo was asked for: restored (and as what), failed (why), or waiting."""
    kind = decision.get(Attr.KIND, "resource")
    rid = decision.get(Attr.RESOURCE_ID, decision.pk)
    who = quote(decision.get(Attr.RESTORE_REQUESTED_BY) or "unknown")
    if decision.state is State.RESTORED:
        now_id = decision.get(Attr.RESTORED_RESOURCE_ID)
        as_what = f" as {now_id}" if now_id and now_id != rid else ""
        return f"↩️ Undone: {kind} {rid} is back{as_what}. Undo asked by {who}; it no longer counts as saved."
    if decision.state is State.RESTORE_FAILED:
        return (
            f"⚠️ Undo of {kind} {rid} failed: {quote(decision.get(Attr.RESTORE_ERROR))}. Asked by {who}; "
            "the clean-up stands."
        )
    if decision.state is State.RESTORING:
        waiting = decision.get(Attr.RESTORE_WAITING)
        return f"⏳ Undoing {kind} {rid} (asked by {who})" + (f": {quote(waiting)}" if waiting else "")
    return None


def card_edit(outcome: Outcome) -> dict[str, Any]:
    """PATCH body: the outcome as the message content, the approval buttons replaced (embeds are kept)
    by an Undo button where the clean-up can be undone (services/notifier/undo.py handles the click)."""
    return {
        "content": headline(outcome.decision, escape_markdown)[:_DISCORD_CONTENT_LIMIT],
        "components": undo_components(outcome.decision),
    }


def undo_components(decision: Decision) -> list[dict[str, Any]]:
    """An Undo button on a real clean-up whose remedy has an undo (again after a failed undo)."""
    from shared.undo import refusal, undo_custom_id

    if decision.state not in (State.EXECUTED, State.RESTORE_FAILED) or refusal(decision) is not None:
        return []
    label = "Retry undo" if decision.state is State.RESTORE_FAILED else "Undo"
    button = {"type": 2, "style": 2, "label": label, "custom_id": undo_custom_id(decision)}
    return [{"type": 1, "components": [button]}]


class ConsoleReporter:
    """No Discord bot configured: print the outcome where the operator is looking."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def report(self, outcome: Outcome) -> None:
        stream = self._stream or sys.stdout
        # A reason or an error may carry control characters (from a tag, from AWS): shown, not sent.
        print(f"[cloudthrift] {printable(outcome.headline, None)}", file=stream, flush=True)


def group_summary(members: list[Decision], latest: Outcome) -> str:
    """A group card read whole (every member): what the tally shows, for one-off reads and checks."""
    done = [m for m in members if m.state is State.EXECUTED]
    dry = [m for m in done if m.get(Attr.DRY_RUN)]
    saved = sum((saving_of(m) for m in done if not m.get(Attr.DRY_RUN)), Decimal(0))
    counts = {state: sum(1 for m in members if m.state is state) for state in State}
    line = progress_line(
        counts, saved, dry_done=len(dry), dry_saved=sum((saving_of(m) for m in dry), Decimal(0))
    )
    return f"{line}\nLatest: {headline(latest.decision, escape_markdown)}"


class GroupTally(Protocol):
    """A group card's counters (services/executor/group_card.py's `GroupCards`)."""

    async def count(self, card_id: str, decision: Decision, latest: str) -> bool: ...

    async def tally(self, card_id: str) -> CardTally | None: ...


class DiscordCardReporter:
    """Edit the decision's card in place; decisions that never had a card go to the fallback."""

    def __init__(
        self,
        editor: CardEditor,
        fallback: OutcomeReporter | None = None,
        cards: GroupTally | None = None,
        coalesce: CoalescedEdits | None = None,
    ) -> None:
        self._editor = editor
        self._fallback = fallback or ConsoleReporter()
        self._cards = cards
        self._coalesce = coalesce or CoalescedEdits()

    @property
    def poster(self) -> Any:
        """The editor itself (Discord's client or the console's): notices are posted through it."""
        return self._editor

    async def report(self, outcome: Outcome) -> None:
        channel_id, message_id = outcome.channel_id, outcome.message_id
        if not (channel_id and message_id):
            await self._fallback.report(outcome)
            return
        card_id = outcome.decision.get(Attr.CARD_ID)
        cards = self._cards
        if cards is None or not card_id or card_id == outcome.decision.decision_id:
            await self._editor.edit_message(channel_id, message_id, card_edit(outcome))
            return
        # A group card: count this outcome once (constant work), then share one edit with the
        # outcomes of the same card that land meanwhile.
        await cards.count(str(card_id), outcome.decision, headline(outcome.decision, escape_markdown))

        async def edit() -> None:
            tally = await cards.tally(str(card_id))
            # No Undo on a group card: one button cannot say which member; `cloudthrift restore` can.
            payload = card_edit(outcome) | {"components": []}
            if tally is not None and tally.members > 1:
                payload["content"] = tally.text()[:_DISCORD_CONTENT_LIMIT]
            await self._editor.edit_message(channel_id, message_id, payload)

        await self._coalesce.run(str(card_id), edit)


async def tell(reporter: OutcomeReporter, decision: Decision | None) -> None:
    """Report an outcome; a failure to do so is logged, never raised (the ledger already has it)."""
    if decision is None or decision.state not in TOLD:
        return
    try:
        await reporter.report(Outcome(decision))
    except Exception as exc:
        log.warning("executor.report_failed", pk=decision.pk, error=f"{type(exc).__name__}: {exc}")
