"""Talking to Discord as the bot: post and edit cards, inside every documented limit and rate limit.

Two halves, both shared by the notifier (posts cards) and the executor (edits them):

- `clamp_message` makes any message payload fit Discord's limits (PROTOCOLS A4/A5) by truncating text,
  so a card can never be refused with a 400 for being too long; `outgoing` also makes it ping nobody.
- `escape_markdown` makes untrusted text (tags, names, Gemini's prose) show verbatim on Discord;
  `ConsoleDiscord` undoes it and prints without rich markup, so `owner=[/bold]` is just text.
- `DiscordClient` sends with per-route rate-limit buckets learnt from the `X-RateLimit-*` headers and
  honours 429s (`retry_after`, the global flag). A card is only ever delayed: when the budget of tries
  or waiting runs out it raises `TransientError`, so the queue runtime retries the message later and,
  in the end, dead-letters it. Without a bot token, `ConsoleDiscord` prints the cards instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import structlog

from shared.discord_messages import (  # message shaping, re-exported: callers import it from here
    AUTHOR,
    BUTTONS_PER_ROW,
    CONTENT,
    CUSTOM_ID,
    DESCRIPTION,
    EMBED_TOTAL,
    EMBEDS,
    EPHEMERAL,
    FIELD_NAME,
    FIELD_VALUE,
    FIELDS,
    FOOTER,
    LABEL,
    NO_MENTIONS,
    ROWS,
    TITLE,
    clamp_message,
    cut,
    disabled_components,
    escape_markdown,
    outgoing,
    printable,
    unescape_markdown,
)
from shared.errors import PermanentError, TransientError

__all__ = [
    "AUTHOR",
    "BUTTONS_PER_ROW",
    "CONTENT",
    "CUSTOM_ID",
    "DESCRIPTION",
    "EMBEDS",
    "EMBED_TOTAL",
    "EPHEMERAL",
    "FIELDS",
    "FIELD_NAME",
    "FIELD_VALUE",
    "FOOTER",
    "LABEL",
    "NO_MENTIONS",
    "ROWS",
    "TITLE",
    "USER_AGENT",
    "ConsoleDiscord",
    "DiscordClient",
    "DiscordError",
    "MessageSink",
    "clamp_message",
    "cut",
    "disabled_components",
    "escape_markdown",
    "outgoing",
    "printable",
    "unescape_markdown",
]

log = structlog.get_logger("cloudthrift.discord")

USER_AGENT = "DiscordBot (https://github.com/cloudthrift/cloudthrift, 0.1.0)"


class MessageSink(Protocol):
    """Where cards go: Discord itself, or the console when no bot token is configured."""

    async def post_message(self, channel_id: str, payload: Mapping[str, Any]) -> str: ...
    async def edit_message(self, channel_id: str, message_id: str, payload: Mapping[str, Any]) -> bool: ...


class DiscordError(PermanentError):
    """Discord refused a request in a way retrying cannot fix (bad token, missing permission, 400)."""


# --- the REST client -------------------------------------------------------------------------


@dataclass
class _Bucket:
    remaining: int | None = None
    reset_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class DiscordClient:
    """The bot's REST client (API v10). Use as an async context manager. Without a bot `token` it
    can only edit a card through an interaction's own webhook (`edit_original`)."""

    def __init__(
        self,
        token: str | None,
        *,
        base_url: str = "https://discord.com/api/v10",
        max_attempts: int = 6,
        max_wait: float = 30.0,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._headers = {"User-Agent": USER_AGENT} | ({"Authorization": f"Bot {token}"} if token else {})
        self._base = base_url.rstrip("/")
        self._max_attempts = max_attempts
        self._max_wait = max_wait
        self._session = session
        self._owns_session = session is None
        self._clock = clock
        self._sleep = sleep
        self._route_bucket: dict[tuple[str, str], str] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._global_until = 0.0
        self.rate_limited = 0  # 429s seen: exposed for logs and tests

    async def __aenter__(self) -> DiscordClient:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()

    async def post_message(self, channel_id: str, payload: Mapping[str, Any]) -> str:
        body = await self._request(
            "POST",
            "/channels/{channel_id}/messages",
            f"/channels/{channel_id}/messages",
            channel_id,
            outgoing(payload),
        )
        return str(body["id"])  # type: ignore[index]

    async def edit_message(self, channel_id: str, message_id: str, payload: Mapping[str, Any]) -> bool:
        """Edit a card; False when the message no longer exists (deleted by someone in the channel)."""
        body = await self._request(
            "PATCH",
            "/channels/{channel_id}/messages/{message_id}",
            f"/channels/{channel_id}/messages/{message_id}",
            channel_id,
            outgoing(payload),
            gone=(404,),
        )
        return body is not None

    async def edit_original(self, application_id: str, token: str, payload: Mapping[str, Any]) -> bool:
        """Edit the message a click was on with the click's token (Edit Original Interaction Response):
        no bot token needed. False when Discord no longer knows the token (401: past its 15 minutes;
        404: not this application's). The token is in the path only, never in a log or error text."""
        body = await self._request(
            "PATCH",
            "/webhooks/{application_id}/{token}/messages/@original",
            f"/webhooks/{application_id}/{token}/messages/@original",
            f"webhook:{token}",  # Discord's major parameter for webhooks: id and token
            outgoing(payload),
            gone=(401, 404),
        )
        return body is not None

    def _bucket(self, method: str, route: str, major: str) -> _Bucket:
        name = self._route_bucket.get((method, route), f"{method} {route}")
        return self._buckets.setdefault((name, major), _Bucket())

    async def _request(
        self,
        method: str,
        route: str,
        path: str,
        major: str,
        payload: Mapping[str, Any],
        *,
        gone: tuple[int, ...] = (),
    ) -> dict[str, Any] | None:
        assert self._session is not None, "use DiscordClient as an async context manager"
        deadline = self._clock() + self._max_wait
        problem = "no attempt made"
        for attempt in range(1, self._max_attempts + 1):
            bucket = self._bucket(method, route, major)
            async with bucket.lock:
                wait = max(self._global_until, bucket.reset_at if bucket.remaining == 0 else 0.0)
                wait -= self._clock()
                if self._clock() + max(wait, 0) > deadline:
                    break
                if wait > 0:
                    await self._sleep(wait)
                try:
                    async with self._session.request(
                        method, self._base + path, json=payload, headers=self._headers
                    ) as response:
                        status, headers, raw = response.status, response.headers, await response.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                    await self._sleep(min(0.25 * 2**attempt, 4))
                    continue
                self._learn(method, route, major, headers)
            body = _json_object(raw)
            if status == 429:
                self.rate_limited += 1
                retry_after = float(body.get("retry_after") or headers.get("Retry-After", 1))
                is_global = bool(body.get("global")) or headers.get("X-RateLimit-Global") == "true"
                if is_global:
                    self._global_until = self._clock() + retry_after
                else:
                    limited = self._bucket(method, route, major)
                    limited.remaining, limited.reset_at = 0, self._clock() + retry_after
                problem = f"429 ({'global' if is_global else headers.get('X-RateLimit-Scope', 'user')})"
                log.warning("discord.rate_limited", route=route, retry_after=retry_after, is_global=is_global)
                continue
            if status >= 500:
                problem = f"HTTP {status}"
                await self._sleep(min(0.25 * 2**attempt, 4))
                continue
            if status in gone:
                return None
            if status >= 400:
                raise DiscordError(
                    f"{method} {route}: HTTP {status} code={body.get('code')} {body.get('message')}"
                )
            return body  # type: ignore[no-any-return]
        raise TransientError(f"Discord {method} {route} not done ({problem}); the card is retried later")

    def _learn(self, method: str, route: str, major: str, headers: Mapping[str, str]) -> None:
        bucket_hash = headers.get("X-RateLimit-Bucket")
        if bucket_hash and self._route_bucket.get((method, route)) != bucket_hash:
            old = self._bucket(method, route, major)
            self._route_bucket[(method, route)] = bucket_hash
            self._buckets.setdefault((bucket_hash, major), old)
        bucket = self._bucket(method, route, major)
        with contextlib.suppress(KeyError, TypeError, ValueError):
            bucket.remaining = int(headers["X-RateLimit-Remaining"])
            bucket.reset_at = self._clock() + float(headers["X-RateLimit-Reset-After"])


def _json_object(raw: bytes) -> dict[str, Any]:
    """Discord answers JSON objects; a proxy's HTML error page must not look like a crash of ours."""
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {"message": raw[:200].decode(errors="replace")}
    return body if isinstance(body, dict) else {"message": str(body)[:200]}


# --- console fallback ------------------------------------------------------------------------


class ConsoleDiscord:
    """Prints each card with rich when no bot token is set; approvals then come from the CLI."""

    def __init__(
        self, console: Any = None, *, command_for: Callable[[str], str | None] | None = None
    ) -> None:
        """`command_for` turns a button's custom_id into the CLI command that does the same."""
        from rich.console import Console

        self._console = console or Console(stderr=False)
        self._command_for = command_for
        self.posted: list[tuple[str, dict[str, Any]]] = []

    async def post_message(self, channel_id: str, payload: Mapping[str, Any]) -> str:
        message_id = f"console-{uuid.uuid4().hex[:12]}"
        self.posted.append((message_id, clamp_message(payload)))
        self._render(payload, header="new card")
        return message_id

    async def edit_message(self, channel_id: str, message_id: str, payload: Mapping[str, Any]) -> bool:
        self._render(payload, header=f"card {message_id} updated")
        return True

    def _render(self, payload: Mapping[str, Any], *, header: str) -> None:
        """Print what Discord would show. Card text is untrusted (a tag `owner=[/bold]` is rich markup,
        an ANSI escape would reach the terminal): it only ever goes into `Text`, never into markup."""
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        def shown(text: Any, style: str = "") -> Text:
            return Text(printable(unescape_markdown(str(text)), None, lines=True), style=style)

        message = clamp_message(payload)
        if message.get("content"):
            self._console.print(shown(message["content"], "bold"))
        for embed in message.get("embeds", []):
            table = Table.grid(padding=(0, 2))
            for f in embed.get("fields", []):
                table.add_row(shown(f["name"], "bold"), shown(f["value"]))
            body = Table.grid()
            body.add_row(shown(embed.get("description", "")))
            body.add_row(table)
            if embed.get("footer"):
                body.add_row(shown(embed["footer"]["text"], "dim"))
            title = Text(f"{header}: ").append_text(shown(embed.get("title", "")))
            self._console.print(Panel(body, title=title, expand=False))
        for row in message.get("components", []):
            for button in row["components"]:
                command = self._command_for(button.get("custom_id", "")) if self._command_for else None
                if command and not button.get("disabled"):
                    line = Text(f"  {button.get('label', '')}: ").append(printable(command, None), "cyan")
                    self._console.print(line)
