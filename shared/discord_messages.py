"""What CloudThrift sends to Discord, shaped to fit: untrusted text escaped to show verbatim, every
payload clamped to Discord's documented limits (PROTOCOLS A4/A5 in the design notes; Discord's message
and component reference), and no mention ever pinging anyone. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

# Limits of a legacy (non components-v2) message, PROTOCOLS A4/A5.
CONTENT, EMBEDS, TITLE, DESCRIPTION, FIELDS, FIELD_NAME, FIELD_VALUE = 2000, 10, 256, 4096, 25, 256, 1024
FOOTER, AUTHOR, EMBED_TOTAL = 2048, 256, 6000
ROWS, BUTTONS_PER_ROW, LABEL, CUSTOM_ID = 5, 5, 80, 100
# Sent with every message, edit and interaction reply: text we show may contain `@everyone` or
# `<@id>` (a tag, a name, Gemini's prose), and a card must never ping anyone because of it.
NO_MENTIONS: dict[str, list[str]] = {"parse": []}
EPHEMERAL = 1 << 6  # a reply only the clicker sees


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
