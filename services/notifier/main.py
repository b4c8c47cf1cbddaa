"""Runner: wires the card handler to the notify queue (it publishes nothing: clicks do, via the endpoint)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from services.notifier.card_buttons import cli_command
from services.notifier.handler import GroupPolicy, NotifierDeps, handle_analyzed
from shared.config import Settings
from shared.discord import ConsoleDiscord, DiscordClient, MessageSink
from shared.errors import SettingsError
from shared.events import Envelope, ResourceAnalyzed
from shared.executor_status import describe_now
from shared.queue import Handler
from shared.worker import Runtime, WorkerSpec


@contextlib.asynccontextmanager
async def open_sink(settings: Settings) -> AsyncIterator[MessageSink]:
    """The bot when DISCORD_BOT_TOKEN is set, otherwise the console (approvals then come from the CLI)."""
    if settings.discord_bot_token is None:
        yield ConsoleDiscord(command_for=cli_command)
        return
    if not settings.discord_channel_id:
        raise SettingsError("DISCORD_CHANNEL_ID: required when DISCORD_BOT_TOKEN is set")
    async with DiscordClient(
        settings.discord_bot_token.get_secret_value(),
        base_url=settings.discord_api_base_url,
        max_attempts=settings.discord_max_attempts,
    ) as client:
        yield client


def group_policy(settings: Settings) -> GroupPolicy:
    return GroupPolicy(
        threshold=settings.cloudthrift_group_threshold,
        window=settings.cloudthrift_group_window_seconds,
        max_wait=settings.cloudthrift_group_max_wait_seconds,
    )


@contextlib.asynccontextmanager
async def build(runtime: Runtime) -> AsyncIterator[Handler]:
    settings = runtime.settings
    async with open_sink(settings) as sink:
        deps = NotifierDeps(
            ledger=runtime.ledger,
            sink=sink,
            channel_id=settings.discord_channel_id or "console",
            policy=group_policy(settings),
            snooze_days=settings.cloudthrift_snooze_days,
            trace_fields=runtime.telemetry.stage("notifier").tracing.ledger_fields,
            executor_status=lambda: describe_now(runtime.ledger),
        )

        async def handle(event: Envelope) -> list:  # type: ignore[type-arg]
            return await handle_analyzed(event, deps)

        yield handle


WORKER = WorkerSpec(name="notifier", input="notify", output=None, build=build, accepts=(ResourceAnalyzed,))
