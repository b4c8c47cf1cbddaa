"""The notifier as it runs: the WORKER spec consuming the notify queue on moto, posting to the fake."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from services.notifier.main import WORKER
from services.workers import available_workers
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.ledger import State
from shared.worker import open_runtime, run_workers
from tests.fakes.discord import BOT_TOKEN, FakeDiscord
from tests.notifier.helpers import analyzed, finding


async def test_the_worker_announces_a_scan_through_a_429_storm_without_losing_a_card(
    make_settings: Callable[..., Settings], fake_discord: FakeDiscord
) -> None:
    assert available_workers()["notifier"] is WORKER
    settings = make_settings(
        discord_bot_token=BOT_TOKEN,
        discord_api_base_url=fake_discord.base_url,
        discord_channel_id="555",
        cloudthrift_group_threshold=3,
        cloudthrift_group_window_seconds=0.5,
        cloudthrift_group_max_wait_seconds=20,
    )
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
    many = [finding(f"vol-{i:017x}", scan_id="scan-big") for i in range(20)]
    few = [finding(f"eipalloc-{i:08x}", kind="elastic-ip", scan_id="scan-big") for i in range(2)]
    fake_discord.storm(6, retry_after=0.1)
    async with open_runtime(settings) as runtime:
        events = [await analyzed(runtime.ledger, f) for f in many + few]
        await runtime.publisher.publish(runtime.queues["notify"].url, events + events[:3])  # with duplicates
        stop = asyncio.Event()
        workers = asyncio.create_task(run_workers(runtime, [WORKER], stop=stop))
        deadline = time.monotonic() + 90  # generous: the loop ends as soon as all are announced
        while time.monotonic() < deadline:
            states = [(await runtime.ledger.get(f.key)).state for f in many + few]  # type: ignore[union-attr]
            if set(states) == {State.AWAITING_APPROVAL}:
                break
            await asyncio.sleep(0.2)
        stop.set()
        await workers
    assert set(states) == {State.AWAITING_APPROVAL}
    cards = fake_discord.in_channel("555")
    titles = sorted(c["message"]["embeds"][0]["title"] for c in cards)
    assert len(cards) == 3, titles  # one group card for the 20 volumes, one card per address
    assert any("20 idle ebs-volume" in t for t in titles)
    assert fake_discord.rate_limited >= 6 and fake_discord.rejected == [] and fake_discord.violations == 0
