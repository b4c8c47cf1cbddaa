"""A click on a group card says what happened to the members decided before it, not just "3 of 5"."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from rich.console import Console

from services.notifier import cards
from services.notifier.decide import DecideDeps, decide
from services.notifier.handler import GroupPolicy, NotifierDeps, handle_analyzed
from shared.discord import ConsoleDiscord
from shared.events import Approver
from tests.notifier.conftest import APPROVER
from tests.notifier.helpers import analyzed, finding, state_of

WHEN = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def test_the_status_line_names_earlier_decisions_in_a_fixed_order() -> None:
    line = cards.status_line("approve", "Alice", WHEN, count=2, of=5, earlier={"snoozed": 1, "rejected": 2})
    assert (
        line == "✅ Approved 2 of 5 by Alice at 2026-11-28 09:30 UTC (2 already rejected, 1 already snoozed)"
    )
    assert "already" not in cards.status_line("reject", "Bob", WHEN, count=5, of=5, earlier={})


async def group_card(runtime: Any, members: int) -> tuple[str, list[Any]]:
    """One group card of `members` findings, posted by the real notifier handler (console sink)."""
    deps = NotifierDeps(
        runtime.ledger,
        ConsoleDiscord(Console(file=io.StringIO())),
        "c",
        GroupPolicy(threshold=2, window=0.1, max_wait=15, settle=0.01, poll=0.05),
    )
    findings = [finding(f"vol-{i:017x}") for i in range(members)]
    events = [await analyzed(runtime.ledger, f) for f in findings]
    await asyncio.gather(*(handle_analyzed(e, deps) for e in events))
    decisions = [await state_of(runtime.ledger, f) for f in findings]
    [card_id] = {d.get("card_id") for d in decisions}
    return str(card_id), decisions


async def test_approve_all_after_the_cli_rejected_and_snoozed_members_says_so(
    endpoint: TestClient,
    sign: Callable[..., tuple[bytes, dict[str, str]]],
    runtime: Any,
    decide_deps: DecideDeps,
) -> None:
    card_id, decisions = await group_card(runtime, 5)
    root = Approver(id="root", name="root", via="cli")
    await decide(decide_deps, card_id, "reject", root, now=WHEN, only=frozenset({decisions[0].pk}))
    await decide(decide_deps, card_id, "snooze", root, now=WHEN, only=frozenset({decisions[1].pk}))

    click = {
        "type": 3,
        "data": {"custom_id": f"ct:approve:{card_id}"},
        "member": {"user": {"id": APPROVER, "username": "alice", "global_name": "Alice"}, "roles": []},
    }
    raw, headers = sign(click)
    answer = await (await endpoint.post("/interactions", data=raw, headers=headers)).json()
    content = answer["data"]["content"]
    assert content.startswith("✅ Approved 3 of 5 by Alice at ")
    assert content.endswith("(1 already rejected, 1 already snoozed)")


async def test_members_set_aside_one_by_one_count_as_finished_in_the_cards_tally(
    runtime: Any, decide_deps: DecideDeps
) -> None:
    """The executor's tally (constant work per outcome) never sees rejected or snoozed members: the
    click that sets them aside counts them on the card record, once each, however often it is sent."""
    from services.executor.group_card import GroupCards

    card_id, decisions = await group_card(runtime, 4)
    root = Approver(id="root", name="root", via="cli")
    for _ in range(2):  # a repeated CLI call counts once
        await decide(decide_deps, card_id, "reject", root, now=WHEN, only=frozenset({decisions[0].pk}))
    await decide(decide_deps, card_id, "snooze", root, now=WHEN, only=frozenset({decisions[1].pk}))

    tally = await GroupCards(runtime.ledger).tally(card_id)
    assert tally is not None and (tally.members, tally.rejected, tally.snoozed) == (4, 1, 1)
    assert tally.text().startswith(
        "Group of 4: ✅ 0 done ($0.00/month) · 🚫 1 rejected · 💤 1 snoozed · ⏳ 2"
    )
