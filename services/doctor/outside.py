"""The rest of `cloudthrift doctor`: Discord, Gemini, the Datadog Agent, and whether an executor runs.

Each service is checked only when it is configured; when it is not, the line says what CloudThrift
does instead (cards on the console, analyses by rules, no traces), as `skip`.
"""

from __future__ import annotations

import os

import aiohttp

from services.doctor import Check
from shared.config import Settings
from shared.discord import USER_AGENT
from shared.events import utcnow
from shared.executor_status import describe, read
from shared.ledger import Ledger
from shared.telemetry.agent import reachable, trace_agent_url

_DISCORD_TIMEOUT = 10.0
_DISCORD_FIXES = {
    401: "Discord refused the token: check DISCORD_BOT_TOKEN (Bot token, not the client secret)",
    403: "the bot cannot see the channel: add it to the server and grant View Channel + Send Messages",
    404: "Discord knows no such channel: check DISCORD_CHANNEL_ID (right-click the channel, Copy ID)",
}


async def discord(settings: Settings) -> list[Check]:
    """GET the channel with the bot token; then whether clicks can be verified and who may click."""
    if settings.discord_bot_token is None:
        return [
            Check("discord", "skip", "no DISCORD_BOT_TOKEN: cards go to the console, approve with the CLI")
        ]
    if not settings.discord_channel_id:
        return [Check("discord", "FAIL", "DISCORD_CHANNEL_ID is not set: the notifier has nowhere to post")]
    url = f"{settings.discord_api_base_url.rstrip('/')}/channels/{settings.discord_channel_id}"
    headers = {
        "Authorization": f"Bot {settings.discord_bot_token.get_secret_value()}",
        "User-Agent": USER_AGENT,
    }
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=_DISCORD_TIMEOUT)) as http,
            http.get(url, headers=headers) as answer,
        ):
            status = answer.status
            body = await answer.json(content_type=None) if status == 200 else {}
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return [
            Check(
                "discord", "FAIL", f"cannot reach {settings.discord_api_base_url}: {type(exc).__name__} {exc}"
            )
        ]
    if status != 200:
        fix = _DISCORD_FIXES.get(status, f"Discord answered HTTP {status} for the channel")
        return [Check("discord", "FAIL", fix)]
    checks = [
        Check("discord", "ok", f"channel #{body.get('name', '?')} ({settings.discord_channel_id}) visible")
    ]
    if not settings.discord_public_key:
        checks.append(
            Check("discord clicks", "FAIL", "DISCORD_PUBLIC_KEY is not set: `serve` cannot verify clicks")
        )
    elif not (settings.discord_approver_ids or settings.discord_approver_role_ids):
        checks.append(
            Check(
                "discord clicks",
                "warn",
                "no DISCORD_APPROVER_IDS nor DISCORD_APPROVER_ROLE_IDS: nobody may approve from Discord",
            )
        )
    else:
        approvers = len(settings.discord_approver_ids) + len(settings.discord_approver_role_ids)
        checks.append(
            Check("discord clicks", "ok", f"signed clicks verified; {approvers} approver id(s)/role(s)")
        )
    return checks


async def gemini(settings: Settings) -> Check:
    """One real call through the analyzer's client (`cloudthrift analysis try` does the same)."""
    if settings.gemini_api_key is None:
        return Check("gemini", "skip", "no GEMINI_API_KEY: the analyzer explains findings with its rules")
    from services.analyzer.probe import ask, sample_finding

    now = utcnow()
    probe = await ask(settings, sample_finding(settings.aws_region, now), now)
    if probe.answer is None:
        return Check(
            "gemini", "FAIL", f"{probe.model} failed: {probe.failure} (check GEMINI_API_KEY, GEMINI_MODEL)"
        )
    tokens = f"{probe.answer.tokens_in}/{probe.answer.tokens_out} tokens"
    return Check("gemini", "ok", f"{probe.model} answered a sample finding ({tokens})")


def datadog(settings: Settings) -> Check:
    """The trace Agent accepts connections (DogStatsD is UDP: nothing to ask it)."""
    url = trace_agent_url()
    if not settings.dd_trace_enabled:
        return Check(
            "datadog agent", "skip", "DD_TRACE_ENABLED=false: no traces; metrics go over UDP unchecked"
        )
    if reachable(url, timeout=2):
        return Check("datadog agent", "ok", f"trace Agent at {url} accepts connections")
    # Explicitly configured and absent is a fault; the default address absent just means no Datadog.
    configured = any(os.environ.get(name) for name in ("DD_TRACE_AGENT_URL", "DD_AGENT_HOST"))
    return Check(
        "datadog agent",
        "FAIL" if configured else "warn",
        f"no trace Agent at {url}: traces are not sent (start the Agent, or DD_TRACE_ENABLED=false)",
    )


async def executor(ledger: Ledger) -> Check:
    """Whether an approval will be acted on, rehearsed, or wait (the executor's heartbeat)."""
    status = await read(ledger)
    return Check("executor", "ok" if status.acts is not None else "warn", describe(status))
