"""No clean-up that loses money by default (issue 14): a cold volume's card offers the cheaper choices
instead of snapshot-then-delete, Approve all never includes it, and the choice reaches the ledger."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from services.notifier import card_buttons, cards
from services.notifier.decide import DecideDeps, decide
from services.notifier.handler import NotifierDeps, handle_analyzed
from services.scanner.rules import build_finding
from shared.events import Approver, DecisionKey, Finding
from shared.kinds import kind_named
from shared.kinds.base import Observation
from shared.kinds.pricing import load_prices
from shared.ledger import State
from shared.worker import Runtime
from tests.fakes.discord import FakeDiscord
from tests.notifier.conftest import CHANNEL
from tests.notifier.helpers import ACCOUNT, analysis, analyzed, drain, state_of

ANA = Approver(id="42", name="ana", via="discord")


def volume(resource_id: str, volume_type: str, size: int) -> Finding:
    """The finding the scanner makes of an unattached volume, priced by the shipped table."""
    facts = {"volume_type": volume_type, "size_gib": size, "state": "available", "name": resource_id}
    check = kind_named("ebs-volume").checks.get("unattached")()
    key = DecisionKey(
        account_id=ACCOUNT, region="us-east-1", kind="ebs-volume", check="unattached", resource_id=resource_id
    )
    observation = Observation(resource_id, facts)
    return build_finding(
        check, observation, "unattached", key, load_prices(), now=datetime.now(UTC), scan_id="scan-1"
    )


def test_a_cold_volume_card_offers_the_cheaper_choices_and_not_the_losing_default() -> None:
    cold = volume("vol-cold", "sc1", 1000)  # $15.00/month; a standard snapshot $50.00
    payload = cards.single_card(cold, analysis(), str(uuid.uuid4()), now=datetime.now(UTC))
    row = payload["components"][0]["components"]
    parsed = [card_buttons.parse_custom_id(b["custom_id"]) for b in row]
    approvals = [(b.action, b.remedy) for b in parsed if b and b.action == "approve"]
    assert approvals == [("approve", "archive-snapshot-then-delete"), ("approve", "delete")]
    labels = [b["label"] for b in row]
    assert "Delete (saves $15.00/mo, cannot be undone)" in labels
    assert "Archive snapshot then delete (saves $2.50/mo)" in labels
    fields = {f["name"]: f["value"] for f in payload["embeds"][0]["fields"]}
    assert "$-" not in str(payload) and "loses $35.00/month" in fields["Net saving"]
    choices = fields["Choices"]
    assert "**loses $35.00/month**: not offered" in choices
    assert "**cannot be undone**" in choices and "$37.50 minimum" in choices and "72 hours" in choices


def test_a_volume_that_saves_keeps_its_default_and_offers_the_others() -> None:
    warm = volume("vol-warm", "gp3", 100)
    row = cards.single_card(warm, analysis(), str(uuid.uuid4()), now=datetime.now(UTC))["components"][0][
        "components"
    ]
    parsed = [card_buttons.parse_custom_id(b["custom_id"]) for b in row]
    assert [(b.action, b.remedy) for b in parsed if b] == [
        ("approve", None),
        ("approve", "archive-snapshot-then-delete"),
        ("approve", "delete"),
        ("reject", None),
        ("snooze", None),
    ]


async def test_approving_a_money_losing_default_needs_a_choice_and_the_choice_is_recorded(
    runtime: Runtime, decide_deps: DecideDeps
) -> None:
    cold = volume("vol-cold", "sc1", 1000)
    await analyzed(runtime.ledger, cold)
    await runtime.ledger.transition(cold.key, State.ANALYZED, State.AWAITING_APPROVAL)
    decision_id = (await state_of(runtime.ledger, cold)).decision_id

    bare = await decide(decide_deps, decision_id, "approve", ANA, now=datetime.now(UTC), pk=cold.key.pk)
    assert bare.decided == [] and [d.pk for d in bare.needs_choice] == [cold.key.pk]
    assert (await state_of(runtime.ledger, cold)).state is State.AWAITING_APPROVAL
    assert await drain(runtime) == []

    chosen = await decide(
        decide_deps, decision_id, "approve", ANA, now=datetime.now(UTC), pk=cold.key.pk, remedy="delete"
    )
    assert len(chosen.decided) == 1
    decision = await state_of(runtime.ledger, cold)
    assert decision.state is State.APPROVED and decision.get("remedy") == "delete"
    assert decision.get("history")[-1]["note"] == "remedy chosen: delete"
    [sent] = await drain(runtime)
    assert sent["payload"]["remedy"] == "delete"


async def test_approve_all_never_includes_a_member_that_loses_money(
    runtime: Runtime,
    fake_discord: FakeDiscord,
    notifier_deps: Callable[..., NotifierDeps],
    decide_deps: DecideDeps,
) -> None:
    warm = [volume(f"vol-{i:017x}", "gp3", 100) for i in range(4)]
    cold = volume("vol-cold", "sc1", 1000)
    events = [await analyzed(runtime.ledger, f) for f in [*warm, cold]]
    await asyncio.gather(*(handle_analyzed(e, notifier_deps()) for e in events))

    posted = fake_discord.in_channel(CHANNEL)
    group = next(c for c in posted if "4 idle" in c["message"]["embeds"][0]["title"])
    apart = next(f for f in group["message"]["embeds"][0]["fields"] if f["name"].startswith("Not in Approve"))
    assert "vol-cold" in apart["value"] and "loses $35.00/month" in apart["value"]
    own = next(c for c in posted if "vol-cold" in c["message"]["embeds"][0]["title"])
    assert (await state_of(runtime.ledger, cold)).get("message_id") == own["message"]["id"]
    group_card_id = (await state_of(runtime.ledger, warm[0])).get("card_id")

    clicked = await decide(decide_deps, group_card_id, "approve", ANA, now=datetime.now(UTC))

    assert len(clicked.decided) == 4
    assert (await state_of(runtime.ledger, cold)).state is State.AWAITING_APPROVAL
    assert {body["payload"]["key"]["resource_id"] for body in await drain(runtime)} == {
        f.key.resource_id for f in warm
    }
