"""ResourceAnalyzed → cards on the fake Discord, and the ledger moved to AWAITING_APPROVAL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from services.notifier import card_buttons
from services.notifier.handler import GroupPolicy, NotifierDeps, handle_analyzed
from shared.errors import TransientError
from shared.events import Envelope, ResourceAnalyzed
from shared.ledger import State
from shared.worker import Runtime
from tests.fakes.discord import FakeDiscord
from tests.notifier.conftest import CHANNEL
from tests.notifier.helpers import analyzed, finding, state_of

SINGLE = GroupPolicy(threshold=0)


async def test_a_finding_gets_one_card_and_its_decision_awaits_approval(
    runtime: Runtime, fake_discord: FakeDiscord, notifier_deps: Callable[..., NotifierDeps]
) -> None:
    f = finding()
    event = await analyzed(runtime.ledger, f)
    assert await handle_analyzed(event, notifier_deps(SINGLE)) == []
    [card] = fake_discord.in_channel(CHANNEL)
    decision = await state_of(runtime.ledger, f)
    assert decision.state is State.AWAITING_APPROVAL
    assert decision.get("channel_id") == CHANNEL and decision.get("message_id") == card["message"]["id"]
    embed = card["message"]["embeds"][0]
    assert f.key.resource_id in embed["title"] and embed["color"] == 0x2ECC71
    assert "Gemini (gemini-2.5-flash-lite)" in str(embed["fields"])
    custom_ids = [b["custom_id"] for b in card["message"]["components"][0]["components"]]
    assert [card_buttons.parse_custom_id(c) for c in custom_ids] == [
        card_buttons.Button(a, decision.decision_id, decision.pk) for a in ("approve", "reject", "snooze")
    ]
    for _ in range(2):  # SQS redelivers: nothing new is posted
        await handle_analyzed(event, notifier_deps(SINGLE))
    assert len(fake_discord.messages) == 1


async def test_few_findings_get_one_card_each_and_a_late_one_opens_a_new_window(
    runtime: Runtime, fake_discord: FakeDiscord, notifier_deps: Callable[..., NotifierDeps]
) -> None:
    findings = [finding(f"vol-{i:017x}") for i in range(3)]  # threshold is 3: not above it
    events = [await analyzed(runtime.ledger, f) for f in findings]
    await asyncio.gather(*(handle_analyzed(e, notifier_deps()) for e in events))
    assert len(fake_discord.messages) == 3
    for f in findings:
        assert (await state_of(runtime.ledger, f)).state is State.AWAITING_APPROVAL
    late = finding("vol-late")  # analysed after the window closed: it gets its own window and card
    await handle_analyzed(await analyzed(runtime.ledger, late), notifier_deps())
    assert len(fake_discord.messages) == 4
    assert (await state_of(runtime.ledger, late)).state is State.AWAITING_APPROVAL


async def test_many_findings_of_a_scan_share_one_group_card_but_keep_their_own_decisions(
    runtime: Runtime, fake_discord: FakeDiscord, notifier_deps: Callable[..., NotifierDeps]
) -> None:
    findings = [finding(f"vol-{i:017x}", monthly=str(10 + i)) for i in range(12)]
    other_region = finding("vol-eu", region="eu-west-1")
    events = [await analyzed(runtime.ledger, f) for f in [*findings, other_region]]
    await asyncio.gather(*(handle_analyzed(e, notifier_deps()) for e in events))
    cards = fake_discord.in_channel(CHANNEL)
    assert len(cards) == 2  # one group card for us-east-1, one single card for eu-west-1
    group = next(c for c in cards if "12 idle" in c["message"]["embeds"][0]["title"])
    embed = group["message"]["embeds"][0]
    assert "$186.00" in str(embed["fields"])  # 10 + 11 + ... + 21
    assert "vol-0000000000000000b" in embed["description"]  # the largest item is listed
    labels = [b["label"] for b in group["message"]["components"][0]["components"]]
    assert labels[:2] == ["Approve all", "Reject all"]
    decisions = [await state_of(runtime.ledger, f) for f in findings]
    assert {d.state for d in decisions} == {State.AWAITING_APPROVAL}
    assert {d.get("message_id") for d in decisions} == {group["message"]["id"]}
    assert len({d.decision_id for d in decisions}) == 12


async def test_a_429_storm_delays_cards_but_loses_none(
    runtime: Runtime, fake_discord: FakeDiscord, notifier_deps: Callable[..., NotifierDeps]
) -> None:
    fake_discord.storm(8, retry_after=0.05)
    findings = [finding(f"vol-{i:017x}", region=f"region-{i}") for i in range(4)]
    events = [await analyzed(runtime.ledger, f) for f in findings]
    await asyncio.gather(*(handle_analyzed(e, notifier_deps(SINGLE)) for e in events))
    assert len(fake_discord.messages) == 4 and fake_discord.rate_limited >= 8
    assert fake_discord.violations == 0 and fake_discord.rejected == []


async def test_a_storm_longer_than_the_budget_leaves_the_decision_for_a_retry(
    runtime: Runtime, fake_discord: FakeDiscord, notifier_deps: Callable[..., NotifierDeps]
) -> None:
    f = finding()
    event = await analyzed(runtime.ledger, f)
    fake_discord.storm(50, retry_after=0.01, is_global=True)
    with pytest.raises(TransientError):
        await handle_analyzed(event, notifier_deps(SINGLE))
    assert (await state_of(runtime.ledger, f)).state is State.ANALYZED
    fake_discord.storm(0)
    await handle_analyzed(event, notifier_deps(SINGLE))  # the queue's redelivery
    assert len(fake_discord.messages) == 1
    assert (await state_of(runtime.ledger, f)).state is State.AWAITING_APPROVAL


async def test_a_late_event_about_older_facts_posts_nothing_and_the_newer_one_does(
    runtime: Runtime, fake_discord: FakeDiscord, notifier_deps: Callable[..., NotifierDeps]
) -> None:
    old = finding(tags={"team": "data"})
    new = finding(tags={"team": "data", "owner": "bob"})  # a later scan saw a new tag
    old_event = await analyzed(runtime.ledger, old)
    moved = await runtime.ledger.transition(
        new.key, State.ANALYZED, State.ANALYZED, fields={"analysis_fingerprint": new.fingerprint}
    )
    assert moved.applied
    await handle_analyzed(old_event, notifier_deps(SINGLE))
    assert fake_discord.messages == {}
    new_event = Envelope.wrap(ResourceAnalyzed(finding=new, analysis=old_event.payload.analysis))
    await handle_analyzed(new_event, notifier_deps(SINGLE))
    [card] = fake_discord.in_channel(CHANNEL)
    assert "owner=bob" in str(card["message"]["embeds"][0]["fields"])
    assert (await state_of(runtime.ledger, new)).get("fingerprint") == new.fingerprint
