"""Fixtures of the notifier's tests: the bot client pointed at the fake Discord, fast group windows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from services.notifier.decide import DecideDeps
from services.notifier.handler import GroupPolicy, NotifierDeps
from shared.discord import DiscordClient
from shared.worker import Runtime
from tests.fakes.discord import BOT_TOKEN, FakeDiscord

CHANNEL = "1100000000000000001"
FAST = GroupPolicy(threshold=3, window=0.3, max_wait=15.0, settle=0.05, poll=0.05)


@pytest.fixture
async def bot(fake_discord: FakeDiscord) -> AsyncIterator[DiscordClient]:
    async with DiscordClient(
        BOT_TOKEN, base_url=fake_discord.base_url, max_attempts=6, max_wait=10
    ) as client:
        yield client


@pytest.fixture
def notifier_deps(runtime: Runtime, bot: DiscordClient) -> Callable[..., NotifierDeps]:
    def build(policy: GroupPolicy = FAST) -> NotifierDeps:
        return NotifierDeps(ledger=runtime.ledger, sink=bot, channel_id=CHANNEL, policy=policy)

    return build


@pytest.fixture
def decide_deps(runtime: Runtime) -> DecideDeps:
    return DecideDeps(
        ledger=runtime.ledger, publisher=runtime.publisher, execute_url=runtime.queues["execute"].url
    )
