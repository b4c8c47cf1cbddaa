"""Cards fit every Discord limit by construction: the fake refuses anything past one with a 400."""

from __future__ import annotations

from datetime import UTC, datetime

from services.notifier import card_buttons, cards
from shared.discord import DiscordClient, clamp_message
from tests.fakes.discord import FakeDiscord, _check_message
from tests.notifier.helpers import analysis, finding

NOW = datetime(2026, 11, 25, tzinfo=UTC)
ID = "3f1e6a52-5c8b-5d6e-9a63-2f0c9d1b7e44"


def test_custom_ids_name_action_and_card_and_fit_in_100_characters() -> None:
    pk = "123456789012#us-east-1#ebs-volume#unattached#vol-0123456789abcdef0"  # 66 characters: fits
    for action in card_buttons.ACTIONS:
        plain, direct = card_buttons.custom_id(action, ID), card_buttons.custom_id(action, ID, pk)
        assert len(plain) <= 100 and len(direct) <= 100
        assert card_buttons.parse_custom_id(plain) == card_buttons.Button(action, ID)
        assert card_buttons.parse_custom_id(direct) == card_buttons.Button(action, ID, pk)
    long_pk = "123456789012#ap-southeast-1#elastic-ip#unassociated#eipalloc-0123456789abcdef0"  # 78: does not
    assert card_buttons.parse_custom_id(
        card_buttons.custom_id("approve", ID, long_pk)
    ) == card_buttons.Button("approve", ID)
    for bad in (
        "",
        "ct:delete:" + ID,
        "xx:approve:" + ID,
        "ct:approve:",
        "ct:approve:" + "x" * 65,
        "ct:approve:!!notbase64!!:a#b#c",
        "ct:approve:AAAAAAAAAAAAAAAAAAAAAA:no-key",
    ):
        assert card_buttons.parse_custom_id(bad) is None
    assert card_buttons.cli_command(card_buttons.custom_id("reject", ID, pk)) == f"cloudthrift reject {ID}"


def test_an_enormous_finding_is_truncated_not_refused() -> None:
    huge_tags = {f"tag-{i}-" + "k" * 100: "v" * 200 for i in range(60)}
    f = finding("vol-" + "9" * 200, tags=huge_tags)
    a = analysis(summary="s" * 700)
    payload = cards.single_card(f, a, ID, now=NOW)
    assert _check_message(payload, creating=True) is None
    assert payload["embeds"][0]["fields"][-1]["value"].endswith("…")


def test_a_huge_group_card_lists_the_largest_and_stays_within_limits() -> None:
    items = [(finding(f"vol-{i:017x}", monthly=str(i)), analysis(summary="x" * 700)) for i in range(1, 801)]
    payload = cards.group_card(items, ID)
    assert _check_message(payload, creating=True) is None
    embed = payload["embeds"][0]
    assert "800 idle ebs-volume" in embed["title"] and "$320,400.00" in str(embed["fields"])
    assert embed["description"].index("vol-00000000000000320") < embed["description"].index(
        "vol-00000000000000319"
    )


def test_clamp_respects_the_6000_total_across_embeds() -> None:
    embeds = [
        {
            "title": "t" * 300,
            "description": "d" * 5000,
            "fields": [{"name": "n", "value": "v" * 2000}] * 30,
            "footer": {"text": "f" * 3000},
        }
        for _ in range(12)
    ]
    payload = clamp_message({"content": "c" * 2500, "embeds": embeds})
    assert _check_message(payload, creating=True) is None and 1 <= len(payload["embeds"]) <= 10


async def test_the_fake_accepts_every_card_the_notifier_builds(
    fake_discord: FakeDiscord, bot: DiscordClient
) -> None:
    f = finding(tags={"k" * 300: "v" * 3000})
    await bot.post_message("7", cards.single_card(f, analysis(risk="high", source="rules"), ID, now=NOW))
    await bot.post_message("7", cards.group_card([(f, analysis())] * 30, ID))
    assert fake_discord.rejected == [] and len(fake_discord.messages) == 2
    embed = next(iter(fake_discord.messages.values()))["message"]["embeds"][0]
    assert embed["color"] == cards.RISK_COLOURS["high"] and "rules (no Gemini)" in str(embed["fields"])


async def test_the_fake_refuses_what_discord_refuses(fake_discord: FakeDiscord, bot: DiscordClient) -> None:
    too_long = {"embeds": [{"title": "t" * 257}]}
    assert _check_message(too_long, creating=True) == "embed title > 256"
    six_buttons = {
        "components": [
            {
                "type": 1,
                "components": [{"type": 2, "style": 1, "label": "b", "custom_id": str(i)} for i in range(6)],
            }
        ]
    }
    assert _check_message(six_buttons, creating=True) is not None
    assert _check_message({"content": "x", "nonce": "n" * 26}, creating=True) == "nonce > 25"
