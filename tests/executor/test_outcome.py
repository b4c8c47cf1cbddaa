"""The card is edited to show the outcome: through shared/discord.py against the fake Discord API."""

from __future__ import annotations

import io

import pytest

from services.executor.handler import handle_approval
from services.executor.main import card_members
from services.executor.outcome import ConsoleReporter, DiscordCardReporter
from shared.discord import DiscordClient
from shared.errors import PermanentError
from tests.executor.helpers import (
    Wrapped,
    approve,
    client_error,
    idle_address,
    idle_volume,
    instance,
    observe,
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
        reporter = DiscordCardReporter(client, members=card_members(ledger))
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
    assert all(message["components"] == [] for message in shown.values())
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
        reporter = DiscordCardReporter(client, members=card_members(ledger))
        for event in events[:2]:
            await handle_approval(event, make_deps(reporter=reporter))

    content = fake_discord.messages[message_id]["message"]["content"]
    assert content.startswith("Group of 3: ✅ 2 done")
    assert "⏳ 1 not finished" in content
