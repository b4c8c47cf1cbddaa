"""The bot's REST client against the fake Discord: buckets, 429s, errors, and the console fallback."""

from __future__ import annotations

import asyncio
import io
import time

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


async def test_without_a_token_cards_are_printed_with_the_cli_commands() -> None:
    out = io.StringIO()
    console = ConsoleDiscord(Console(file=out, width=120), command_for=lambda c: f"cloudthrift {c[3:]}")
    message_id = await console.post_message(
        "console", {"embeds": [{"title": "Idle vol-1", "fields": []}], "components": CARD["components"]}
    )
    assert message_id.startswith("console-")
    assert "Idle vol-1" in out.getvalue() and "Approve: cloudthrift approve:x" in out.getvalue()
