"""Fixtures of the notifier's tests: the bot client pointed at the fake Discord, fast group windows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.notifier.decide import DecideDeps
from services.notifier.handler import GroupPolicy, NotifierDeps
from services.notifier.http import init_app
from shared.config import Settings
from shared.discord import DiscordClient
from shared.worker import Runtime
from tests.fakes.discord import BOT_TOKEN, FakeDiscord

CHANNEL = "1100000000000000001"
APPROVER = "111111111111111111"
SCAN_TOKEN = "s3cret-token"
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


@pytest.fixture
async def endpoint(
    runtime: Runtime, make_settings: Callable[..., Settings], discord_public_key: str
) -> AsyncIterator[TestClient]:
    """The notifier's HTTP app on a loopback port, with a short body timeout (a stall is quick to see)."""
    settings = make_settings(
        discord_public_key=discord_public_key,
        discord_approver_ids=APPROVER,
        cloudthrift_scan_token=SCAN_TOKEN,
        cloudthrift_http_max_body=8192,
    )
    client = TestClient(TestServer(init_app(settings, runtime=runtime, body_timeout=0.5)))
    await client.start_server()
    yield client
    await client.close()
