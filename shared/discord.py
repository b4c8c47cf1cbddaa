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
import re
import time
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import structlog

from shared.errors import PermanentError, TransientError

log = structlog.get_logger("cloudthrift.discord")

USER_AGENT = "DiscordBot (https://github.com/cloudthrift/cloudthrift, 0.1.0)"
EPHEMERAL = 1 << 6
# Limits of a legacy (non components-v2) message, PROTOCOLS A4/A5.
CONTENT, EMBEDS, TITLE, DESCRIPTION, FIELDS, FIELD_NAME, FIELD_VALUE = 2000, 10, 256, 4096, 25, 256, 1024
FOOTER, AUTHOR, EMBED_TOTAL = 2048, 256, 6000
ROWS, BUTTONS_PER_ROW, LABEL, CUSTOM_ID = 5, 5, 80, 100
# Sent with every message, edit and interaction reply: text we show may contain `@everyone` or
# `<@id>` (a tag, a name, Gemini's prose), and a card must never ping anyone because of it.
NO_MENTIONS: dict[str, list[str]] = {"parse": []}


class MessageSink(Protocol):
    """Where cards go: Discord itself, or the console when no bot token is configured."""

    async def post_message(self, channel_id: str, payload: Mapping[str, Any]) -> str: ...
    async def edit_message(self, channel_id: str, message_id: str, payload: Mapping[str, Any]) -> bool: ...


class DiscordError(PermanentError):
    """Discord refused a request in a way retrying cannot fix (bad token, missing permission, 400)."""


# --- untrusted text ----------------------------------------------------------------------------

# Discord (simple-markdown) renders a backslash before any ASCII punctuation as that character. These
# start formatting anywhere; list markers and heading marks only at the start of a line.
_INLINE = re.compile(r"([\\*_~`|<>#\[\]@])")
_LINE_START = re.compile(r"(?m)^(\s*)([-+]|[0-9]+\.)(?=\s)")
_ESCAPED = re.compile(r"\\([\\*_~`|<>#\[\]@+.-])")


def escape_markdown(text: Any) -> str:
    """`text` as Discord shows it verbatim: no bold, link, mention pill, heading or list from it."""
    escaped = _INLINE.sub(r"\\\1", str(text))
    return _LINE_START.sub(lambda m: f"{m.group(1)}{m.group(2)[:-1]}\\{m.group(2)[-1]}", escaped)


def unescape_markdown(text: str) -> str:
    """What Discord displays for text made by `escape_markdown` (the console shows the same)."""
    return _ESCAPED.sub(r"\1", text)


def printable(text: Any, limit: int | None = 200, *, lines: bool = False) -> str:
    """Untrusted text for a log line or a terminal: control characters (an ANSI escape in a tag, a
    newline forging a log line unless `lines`) and undecodable bytes are shown as escapes."""
    value = str(text)[:limit]
    keep = "\n\t" if lines else ""
    return "".join(
        ch if ch in keep or unicodedata.category(ch) not in ("Cc", "Cs") else ascii(ch)[1:-1] for ch in value
    )


# --- limits ----------------------------------------------------------------------------------


def cut(text: Any, limit: int) -> str:
    """Trim as Discord counts (whitespace at the ends does not count), marking a cut with an ellipsis."""
    value = str(text).strip()
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def _embed_size(embed: Mapping[str, Any]) -> int:
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    size += len(embed.get("footer", {}).get("text", "")) + len(embed.get("author", {}).get("name", ""))
    return size + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))


def _clamp_embed(embed: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(embed)
    for name, limit in (("title", TITLE), ("description", DESCRIPTION)):
        if name in out:
            out[name] = cut(out[name], limit)
    if "footer" in out:
        out["footer"] = dict(out["footer"], text=cut(out["footer"]["text"], FOOTER))
    if "author" in out:
        out["author"] = dict(out["author"], name=cut(out["author"]["name"], AUTHOR))
    out["fields"] = [
        dict(f, name=cut(f["name"], FIELD_NAME) or "-", value=cut(f["value"], FIELD_VALUE) or "-")
        for f in out.get("fields", [])[:FIELDS]
    ]
    return out


def clamp_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `payload` that Discord accepts: every text field and the 6,000-character total fit."""
    out = dict(payload)
    if "content" in out:
        out["content"] = cut(out["content"], CONTENT)
    if "embeds" in out:
        embeds = [_clamp_embed(e) for e in out["embeds"][:EMBEDS]]
        # Over the total: shorten the longest description (down to 200), then drop trailing fields.
        while (excess := sum(_embed_size(e) for e in embeds) - EMBED_TOTAL) > 0:
            long = [e for e in embeds if len(e.get("description", "")) > 200]
            if long:
                embed = max(long, key=lambda e: len(e["description"]))
                embed["description"] = cut(embed["description"], max(200, len(embed["description"]) - excess))
                continue
            with_fields = [e for e in embeds if e["fields"]]
            if with_fields:
                with_fields[-1]["fields"].pop()
            else:  # one embed without fields is at most 2,760 characters here: drop trailing embeds
                embeds.pop()
        out["embeds"] = embeds
    if "components" in out:
        out["components"] = _clamp_components(out["components"])
    return out


def outgoing(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What CloudThrift sends to Discord (messages, edits, interaction replies): it fits, pings nobody."""
    return clamp_message(payload) | {"allowed_mentions": NO_MENTIONS}


def _clamp_components(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if len(rows) > ROWS:
        raise ValueError(f"{len(rows)} action rows: Discord allows {ROWS}")
    clamped = []
    seen: set[str] = set()
    for row in rows:
        buttons = row.get("components", [])
        if len(buttons) > BUTTONS_PER_ROW:
            raise ValueError(f"{len(buttons)} buttons in a row: Discord allows {BUTTONS_PER_ROW}")
        for button in buttons:
            custom_id = button.get("custom_id", "")
            # A custom_id cannot be truncated without breaking the click: its builder must respect this.
            if custom_id and (len(custom_id) > CUSTOM_ID or custom_id in seen):
                raise ValueError(f"custom_id {custom_id!r} is too long or not unique")
            seen.add(custom_id)
        clamped.append(
            dict(
                row,
                components=[
                    dict(b, label=cut(b["label"], LABEL)) if "label" in b else dict(b) for b in buttons
                ],
            )
        )
    return clamped


def disabled_components(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The same buttons, greyed out: what a decided card shows."""
    return [dict(row, components=[dict(b, disabled=True) for b in row.get("components", [])]) for row in rows]


# --- the REST client -------------------------------------------------------------------------


@dataclass
class _Bucket:
    remaining: int | None = None
    reset_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class DiscordClient:
    """The bot's REST client (API v10). Use as an async context manager."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = "https://discord.com/api/v10",
        max_attempts: int = 6,
        max_wait: float = 30.0,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._headers = {"Authorization": f"Bot {token}", "User-Agent": USER_AGENT}
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
            missing_ok=True,
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
        missing_ok: bool = False,
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
            if status == 404 and missing_ok:
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
