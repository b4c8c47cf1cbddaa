"""The bot's REST client against the fake Discord: buckets, 429s, errors, and the console fallback."""

from __future__ import annotations

import asyncio
import io
import time

import aiohttp
import pytest
from rich.console import Console

from shared.discord import ConsoleDiscord, DiscordClient, DiscordError
from shared.errors import TransientError
from tests.fakes.discord import BOT_TOKEN, FakeDiscord

CARD = {
    "content": "hello",
    "components": [
        {"type": 1, "components": [{"type": 2, "style": 3, "label": "Approve", "custom_id": "ct:approve:x"}]}
    ],
}


async def test_the_client_follows_the_bucket_headers_instead_of_hitting_429(
    fake_discord: FakeDiscord, bot: DiscordClient
) -> None:
    fake_discord.bucket_limit, fake_discord.reset_after = 3, 0.15
    started = time.monotonic()
    ids = await asyncio.gather(*(bot.post_message("42", CARD) for _ in range(10)))
    assert len(set(ids)) == 10 and len(fake_discord.in_channel("42")) == 10
    assert fake_discord.violations == 0 and fake_discord.rate_limited == 0
    assert time.monotonic() - started >= 3 * 0.15  # 10 posts at 3 per window: at least 3 waits


async def test_a_global_429_is_honoured_then_the_card_goes_through(
    fake_discord: FakeDiscord, bot: DiscordClient
) -> None:
    fake_discord.storm(2, retry_after=0.1, is_global=True)
    started = time.monotonic()
    await bot.post_message("42", CARD)
    assert time.monotonic() - started >= 0.2
    assert len(fake_discord.messages) == 1 and bot.rate_limited == 2


async def test_a_429_longer_than_the_wait_budget_is_a_transient_error(fake_discord: FakeDiscord) -> None:
    fake_discord.storm(1, retry_after=60)
    async with DiscordClient(BOT_TOKEN, base_url=fake_discord.base_url, max_wait=1) as client:
        with pytest.raises(TransientError):
            await client.post_message("42", CARD)
    assert fake_discord.messages == {}


async def test_a_refusal_is_permanent_and_a_deleted_card_is_reported(
    fake_discord: FakeDiscord, bot: DiscordClient
) -> None:
    async with DiscordClient("wrong-token", base_url=fake_discord.base_url) as stranger:
        with pytest.raises(DiscordError, match="401"):
            await stranger.post_message("42", CARD)
    assert await bot.edit_message("42", "999", {"content": "gone?"}) is False
    message_id = await bot.post_message("42", CARD)
    assert await bot.edit_message("42", message_id, {"content": "edited"}) is True
    assert fake_discord.messages[message_id]["message"]["content"] == "edited"


async def test_server_errors_are_retried_and_a_wrong_route_is_refused(
    fake_discord: FakeDiscord, bot: DiscordClient
) -> None:
    fake_discord.fail(2, 502)
    await bot.post_message("42", CARD)
    assert len(fake_discord.messages) == 1
    async with DiscordClient(
        BOT_TOKEN, base_url=fake_discord.base_url.replace("/api/v10", "/nope")
    ) as client:
        with pytest.raises(DiscordError, match="404"):
            await client.post_message("42", CARD)


async def test_a_click_token_edits_its_card_without_the_bot_within_discords_limits(
    fake_discord: FakeDiscord,
) -> None:
    """Edit Original Interaction Response: the interaction token is the credential, for 15 minutes,
    for its own application only; the edit is clamped like any card and a 429 is waited out."""
    async with DiscordClient(None, base_url=fake_discord.base_url, max_wait=10) as client:
        token = fake_discord.interaction("1300000000000000001")
        fake_discord.storm(1, retry_after=0.05)
        long_card = CARD | {"content": "x" * 5000}
        assert await client.edit_original(fake_discord.application_id, token, long_card) is True
        assert fake_discord.webhook_edits == ["1300000000000000001"] and fake_discord.rejected == []
        assert len(fake_discord.messages["1300000000000000001"]["message"]["content"]) == 2000
        # Another application's id, an expired token, a token never issued: the card is not edited.
        assert await client.edit_original("1200000000000000999", token, CARD) is False
        stale = fake_discord.interaction("1300000000000000001", age=15 * 60 + 1)
        assert await client.edit_original(fake_discord.application_id, stale, CARD) is False
        assert await client.edit_original(fake_discord.application_id, "forged", CARD) is False
    assert fake_discord.webhook_refused == [10015, 50027, 50027]
    assert fake_discord.webhook_edits == ["1300000000000000001"]


async def test_the_fake_refuses_an_original_edit_past_the_message_limits(fake_discord: FakeDiscord) -> None:
    """The fake itself enforces the limits on this route (the client above clamps, so it never trips)."""
    token = fake_discord.interaction("1300000000000000003")
    url = f"{fake_discord.base_url}/webhooks/{fake_discord.application_id}/{token}/messages/@original"
    headers = {"User-Agent": "DiscordBot (https://example.invalid, 1)"}
    async with aiohttp.ClientSession() as session:
        async with session.patch(url, json={"content": "x" * 2001}, headers=headers) as response:
            assert response.status == 400 and (await response.json())["code"] == 50035
        async with session.patch(url, json={"content": "ok"}) as response:  # no DiscordBot User-Agent
            assert response.status == 400
    assert fake_discord.rejected[0] == "content > 2000" and fake_discord.webhook_edits == []


async def test_without_a_token_cards_are_printed_with_the_cli_commands() -> None:
    out = io.StringIO()
    console = ConsoleDiscord(Console(file=out, width=120), command_for=lambda c: f"cloudthrift {c[3:]}")
    message_id = await console.post_message(
        "console", {"embeds": [{"title": "Idle vol-1", "fields": []}], "components": CARD["components"]}
    )
    assert message_id.startswith("console-")
    assert "Idle vol-1" in out.getvalue() and "Approve: cloudthrift approve:x" in out.getvalue()
