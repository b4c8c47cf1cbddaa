"""The card is edited to show the outcome: through shared/discord.py against the fake Discord API."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from services.executor.group_card import CardTally, CoalescedEdits, GroupCards
from services.executor.handler import handle_approval
from services.executor.outcome import ConsoleReporter, DiscordCardReporter, Outcome
from shared.discord import DiscordClient
from shared.errors import PermanentError
from shared.ledger import Decision, Ledger, State
from tests.executor.helpers import (
    Wrapped,
    approve,
    client_error,
    idle_address,
    idle_volume,
    instance,
    observe,
    sample_finding,
)
from tests.fakes.discord import BOT_TOKEN


async def post_card(client: DiscordClient, channel: str) -> str:
    card = {
        "content": "Idle volume",
        "embeds": [{"title": "vol", "description": "idle", "fields": []}],
        "components": [
            {
                "type": 1,
                "components": [{"type": 2, "style": 3, "label": "Approve", "custom_id": "ct:approve:x"}],
            }
        ],
    }
    return await client.post_message(channel, card)


async def test_the_card_shows_the_outcome_and_loses_its_buttons(ledger, ec2, make_deps, fake_discord) -> None:
    async with DiscordClient(BOT_TOKEN, base_url=fake_discord.base_url) as client:
        done_id, skipped_id, failed_id = [await post_card(client, "42") for _ in range(3)]
        reporter = DiscordCardReporter(client, cards=GroupCards(ledger))
        done = await observe(ec2, "ebs-volume", await idle_volume(ec2))
        skipped = await observe(ec2, "elastic-ip", (await idle_address(ec2))[0])
        failed = await observe(ec2, "ebs-volume", await idle_volume(ec2))
        events = [
            await approve(ledger, done, card=("42", done_id)),
            await approve(ledger, skipped, card=("42", skipped_id)),
            await approve(ledger, failed, card=("42", failed_id)),
        ]
        await ec2.associate_address(AllocationId=skipped.key.resource_id, InstanceId=await instance(ec2))
        await handle_approval(events[0], make_deps(reporter=reporter))
        await handle_approval(events[1], make_deps(reporter=reporter))
        denied = client_error("UnauthorizedOperation")
        with pytest.raises(PermanentError, match="UnauthorizedOperation"):
            await handle_approval(
                events[2],
                make_deps(reporter=reporter, wrap=lambda c: Wrapped(c, "delete_volume", raise_=denied)),
            )

    messages = fake_discord.messages
    assert fake_discord.rejected == [] and fake_discord.violations == 0
    shown = {mid: messages[mid]["message"] for mid in (done_id, skipped_id, failed_id)}
    assert shown[done_id]["content"].startswith("✅ Done: deleted ebs-volume")
    assert "Approved by alice" in shown[done_id]["content"]
    assert shown[skipped_id]["content"].startswith("⏭️ Skipped elastic-ip")
    assert "associated again" in shown[skipped_id]["content"]
    assert shown[failed_id]["content"].startswith("❌ Failed")
    assert shown[skipped_id]["components"] == shown[failed_id]["components"] == []
    # The approval buttons are gone; a real clean-up with an undo gets the Undo button (issue 14).
    [row] = shown[done_id]["components"]
    assert [(b["label"], b["custom_id"][:8]) for b in row["components"]] == [("Undo", "ct:undo:")]
    assert all(message["embeds"] for message in shown.values())  # the card's facts stay


async def test_a_decision_without_a_card_is_printed(ledger, ec2, make_deps, fake_discord) -> None:
    stream = io.StringIO()
    async with DiscordClient(BOT_TOKEN, base_url=fake_discord.base_url) as client:
        reporter = DiscordCardReporter(client, fallback=ConsoleReporter(stream))
        finding = await observe(ec2, "elastic-ip", (await idle_address(ec2))[0])
        await handle_approval(await approve(ledger, finding), make_deps(dry_run=True, reporter=reporter))
    assert fake_discord.requests == 0
    assert "Dry run: would release" in stream.getvalue()


async def test_a_group_card_counts_every_members_outcome(ledger, ec2, make_deps, fake_discord) -> None:
    async with DiscordClient(BOT_TOKEN, base_url=fake_discord.base_url) as client:
        message_id = await post_card(client, "42")
        findings = [await observe(ec2, "ebs-volume", await idle_volume(ec2)) for _ in range(3)]
        card_id = "group-card-1"
        events = [await approve(ledger, f, card=("42", message_id), card_id=card_id) for f in findings]
        await ledger.put_record(
            "card#" + card_id,
            {
                "record": "card",
                "group": True,
                "members": [f.key.pk for f in findings],
                "decision_ids": [e.payload.decision_id for e in events],
            },
        )
        reporter = DiscordCardReporter(client, cards=GroupCards(ledger))
        for event in events[:2]:
            await handle_approval(event, make_deps(reporter=reporter))

    content = fake_discord.messages[message_id]["message"]["content"]
    assert content.startswith("Group of 3: ✅ 2 done")
    assert "⏳ 1 not finished" in content


class CountingDynamo:
    """A proxy around the real aiobotocore DynamoDB client that counts the calls made through it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith("_") or name == "exceptions":
            return attribute

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await attribute(*args, **kwargs)

        return counted


async def finished_member(
    ledger: Ledger, index: int, card_id: str, message_id: str, state: State
) -> Decision:
    """A group member already at its outcome, through the ledger's real transitions."""
    finding = sample_finding(f"vol-{index:017x}")
    await approve(ledger, finding, card=("42", message_id), card_id=card_id)
    await ledger.transition(finding.key, State.APPROVED, State.EXECUTING)
    fields = (
        {"action": "delete", "dry_run": True, "would_save_monthly_usd": Decimal("2.50")}
        if state is State.EXECUTED
        else {"skip_reason": "busy"}
        if state is State.SKIPPED
        else {"error": "AccessDenied"}
    )
    moved = await ledger.transition(finding.key, State.EXECUTING, state, fields=fields)
    assert moved.current is not None
    return moved.current


async def test_a_group_card_costs_constant_work_per_outcome_and_counts_each_member_once(
    ledger, fake_discord
) -> None:
    card_id = "group-card-big"
    counting = CountingDynamo(ledger._db)
    counted_ledger = Ledger(counting, ledger.table_name)
    async with DiscordClient(BOT_TOKEN, base_url=fake_discord.base_url) as client:
        message_id = await post_card(client, "42")
        states = [State.EXECUTED] * 50 + [State.SKIPPED] * 6 + [State.FAILED] * 4
        decisions = [await finished_member(ledger, i, card_id, message_id, s) for i, s in enumerate(states)]
        await ledger.put_record(
            "card#" + card_id,
            {
                "record": "card",
                "group": True,
                "members": [d.pk for d in decisions],
                "decision_ids": [d.decision_id for d in decisions],
                "member_count": len(decisions) + 2,  # two members still waiting
            },
        )
        reporter = DiscordCardReporter(
            client, cards=GroupCards(counted_ledger), coalesce=CoalescedEdits(0.05)
        )
        await asyncio.gather(*(reporter.report(Outcome(d)) for d in decisions[:30]))
        for decision in decisions[30:]:
            await reporter.report(Outcome(decision))
        # Duplicates (redeliveries, re-edits) count nothing twice.
        for decision in decisions[:5] + decisions[-2:]:
            await reporter.report(Outcome(decision))

    content = fake_discord.messages[message_id]["message"]["content"]
    assert content.startswith(
        "Group of 62: 🧪 50 dry-run done (would save $125.00/month) · ⏭️ 6 skipped · ❌ 4 failed"
    )
    assert "⏳ 2 not finished" in content
    # Constant work: one conditional write per outcome and one projected read per (coalesced) edit;
    # never the member list, whatever the card's size.
    outcomes = len(decisions) + 7
    assert counting.calls["update_item"] == outcomes
    assert counting.calls["get_item"] <= outcomes
    assert counting.calls["batch_get_item"] == 0 and counting.calls["query"] == 0
    # The 30 outcomes that landed together shared far fewer edits than there were outcomes.
    assert len(fake_discord.messages[message_id]["edits"]) < outcomes


async def test_a_failed_member_replayed_to_done_moves_from_failed_to_done(ledger, fake_discord) -> None:
    card_id = "group-card-replay"
    async with DiscordClient(BOT_TOKEN, base_url=fake_discord.base_url) as client:
        message_id = await post_card(client, "42")
        failed = await finished_member(ledger, 1, card_id, message_id, State.FAILED)
        other = await finished_member(ledger, 2, card_id, message_id, State.EXECUTED)
        await ledger.put_record(
            "card#" + card_id,
            {"record": "card", "group": True, "members": [failed.pk, other.pk], "member_count": 2},
        )
        cards = GroupCards(ledger)
        reporter = DiscordCardReporter(client, cards=cards, coalesce=CoalescedEdits(0))
        await reporter.report(Outcome(failed))
        await reporter.report(Outcome(other))
        assert (await cards.tally(card_id)) == CardTally(
            members=2,
            executed=1,
            failed=1,
            latest=Outcome(other).headline,
            dry_executed=1,
            dry_saved_monthly_usd=Decimal("2.50"),
        )
        # The replay resumed the failed one and it executed.
        resumed = await ledger.transition(failed.key, State.FAILED, State.EXECUTING)
        assert resumed.current is not None
        done = await ledger.transition(
            failed.key,
            State.EXECUTING,
            State.EXECUTED,
            fields={"action": "delete", "dry_run": True, "would_save_monthly_usd": Decimal("1.00")},
        )
        assert done.current is not None
        await reporter.report(Outcome(done.current))

    tally = await cards.tally(card_id)
    assert tally is not None and (tally.executed, tally.failed, tally.waiting) == (2, 0, 0)
    assert fake_discord.messages[message_id]["message"]["content"].startswith("Group of 2: 🧪 2 dry-run done")
