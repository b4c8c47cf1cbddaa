"""Text CloudThrift does not control (tags, names, Gemini's prose) is shown verbatim and pings nobody.

A tag `owner=[/bold]` once made every console card print raise rich's MarkupError: the card went to
the DLQ and nobody saw it. On Discord, `**x**` would render bold and `<@123>` as a mention.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from services.notifier.handler import GroupPolicy, NotifierDeps, handle_analyzed
from shared.discord import ConsoleDiscord, DiscordClient, escape_markdown, unescape_markdown
from shared.ledger import State
from tests.fakes.discord import FakeDiscord
from tests.notifier.conftest import APPROVER
from tests.notifier.helpers import analysis, analyzed, finding, state_of

HOSTILE = {
    "owner": "[/bold]",
    "team": "[bold red]x[/] **data** __u__ ~~s~~ `c` ||spoiler|| [link](https://evil.example)",
    "ping": "@everyone @here <@123> <@&456> <#789>",
    "lines": "# heading\n- item\n1. first\n> quote",
    "ansi": "red\x1b[31m",
}
SUMMARY = "Idle [/red] volume **really** <@123> @everyone, safe to delete."
UNESCAPED = re.compile(r"(?<!\\)[*_~`|<>#\[\]@]")  # a markdown character Discord would act on


def no_markdown(text: str) -> bool:
    """Every character Discord would act on is escaped (pairs of backslashes are themselves escapes)."""
    return UNESCAPED.search(re.sub(r"\\\\", "", text)) is None


def hostile_finding() -> Any:
    f = finding(tags=HOSTILE)
    return f.model_copy(update={"facts": {**f.facts, "name": "[red]scratch[/red] <@999>"}})


async def test_a_console_card_with_rich_markup_in_its_tags_is_printed_verbatim(runtime: Any) -> None:
    out = io.StringIO()
    sink = ConsoleDiscord(Console(file=out, width=400, color_system=None))
    deps = NotifierDeps(runtime.ledger, sink, "c", GroupPolicy(threshold=0))
    f = hostile_finding()
    await handle_analyzed(await analyzed(runtime.ledger, f, analysis(summary=SUMMARY)), deps)
    printed = out.getvalue()
    assert (await state_of(runtime.ledger, f)).state is State.AWAITING_APPROVAL
    for key in ("owner", "team", "ping"):
        assert f"{key}={HOSTILE[key]}" in printed
    assert SUMMARY in printed and "[red]scratch[/red] <@999>" in printed
    assert "\x1b" not in printed and "red\\x1b[31m" in printed  # a control character is shown, not sent
    assert "# heading" in printed and "- item" in printed  # no backslash left from the Discord escape


async def test_a_discord_card_shows_hostile_text_verbatim_and_pings_nobody(
    runtime: Any, fake_discord: FakeDiscord, bot: DiscordClient
) -> None:
    deps = NotifierDeps(runtime.ledger, bot, "42", GroupPolicy(threshold=0))
    f = hostile_finding()
    await handle_analyzed(await analyzed(runtime.ledger, f, analysis(summary=SUMMARY)), deps)
    await bot.edit_message("42", next(iter(fake_discord.messages)), {"content": "@everyone done <@123>"})
    assert fake_discord.rejected == [] and len(fake_discord.payloads) == 2
    assert all(p["allowed_mentions"] == {"parse": []} for p in fake_discord.payloads)
    card = fake_discord.payloads[0]
    embed = card["embeds"][0]
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    shown_tags = unescape_markdown(fields["Tags"])
    for key, value in HOSTILE.items():
        if key != "lines":
            assert f"{key}={value}" in shown_tags
    assert "# heading\n- item\n1. first\n> quote" in shown_tags
    assert unescape_markdown(embed["description"]).startswith(SUMMARY)
    assert "name: [red]scratch[/red] <@999>" in unescape_markdown(fields["Details"])
    for text in (fields["Tags"], fields["Details"], embed["description"].split("\n")[0]):
        assert no_markdown(text), text


async def test_click_replies_quote_the_clickers_name_verbatim_and_ping_nobody(
    endpoint: TestClient, sign: Callable[..., tuple[bytes, dict[str, str]]], runtime: Any
) -> None:
    sink = ConsoleDiscord(Console(file=io.StringIO()))
    deps = NotifierDeps(runtime.ledger, sink, "c", GroupPolicy(threshold=0))
    f = finding()
    await handle_analyzed(await analyzed(runtime.ledger, f), deps)
    decision = await state_of(runtime.ledger, f)
    name = "**Eve** @everyone <@1>"
    click = {
        "type": 3,
        "data": {"custom_id": f"ct:approve:{decision.decision_id}"},
        "member": {"user": {"id": APPROVER, "username": "eve", "global_name": name}, "roles": []},
    }
    answers = []
    for _ in range(2):  # the first decides (UPDATE_MESSAGE), the second is told who did (ephemeral)
        raw, headers = sign(click)
        answers.append(await (await endpoint.post("/interactions", data=raw, headers=headers)).json())
    assert [a["type"] for a in answers] == [7, 4]
    for answer in answers:
        content = answer["data"]["content"]
        assert answer["data"]["allowed_mentions"] == {"parse": []}
        assert name in unescape_markdown(content) and no_markdown(content), content


@settings(database=None)  # nothing written into the checkout
@given(st.text(max_size=200))
def test_escaping_is_undone_exactly_and_leaves_nothing_for_discord_to_format(text: str) -> None:
    escaped = escape_markdown(text)
    assert unescape_markdown(escaped) == text
    assert no_markdown(escaped)
    assert not re.search(r"(?m)^\s*([-+]|[0-9]+\.)\s", escaped)  # no list item from a line of text
