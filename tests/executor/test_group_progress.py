"""A group card's progress line names every member's fate, in a fixed order, whatever the read order.

Members of a group card can be decided one by one from the CLI: a rejected or snoozed member is
finished (nothing will happen to it), and used to be shown as "not finished" forever.
"""

from __future__ import annotations

import io
import itertools
from decimal import Decimal

from services.executor.outcome import ConsoleReporter, Outcome, group_summary, progress_line
from shared.ledger import Decision, State


def member(n: int, state: State, **attrs: object) -> Decision:
    return Decision(
        {
            "pk": f"123456789012#us-east-1#vol-{n:017x}",
            "decision_id": f"d{n}",
            "state": state.value,
            "kind": "ebs-volume",
            "resource_id": f"vol-{n:017x}",
            **attrs,
        }
    )


STATES = [
    State.EXECUTED,
    State.REJECTED,
    State.SNOOZED,
    State.SKIPPED,
    State.FAILED,
    State.APPROVED,
    State.AWAITING_APPROVAL,
]


def test_rejected_and_snoozed_members_are_named_and_the_order_is_fixed() -> None:
    members = [
        member(i, state, realised_monthly_saving_usd="2.50", skip_reason="in use", error="boom")
        for i, state in enumerate(STATES)
    ]
    latest = Outcome(members[0])
    lines = {group_summary(list(order), latest) for order in itertools.permutations(members)}
    [text] = lines  # every read order gives the same card
    first = text.splitlines()[0]
    assert first == (
        "Group of 7: ✅ 1 done ($2.50/month) · ⏭️ 1 skipped · ❌ 1 failed · 🚫 1 rejected · 💤 1 snoozed"
        " · 🕓 1 awaiting a decision · ⏳ 1 not finished"
    )


def test_a_group_whose_other_members_were_rejected_or_snoozed_is_not_left_unfinished() -> None:
    members = [member(0, State.EXECUTED), member(1, State.REJECTED), member(2, State.SNOOZED)]
    text = group_summary(members, Outcome(members[0]))
    assert "not finished" not in text and "🚫 1 rejected · 💤 1 snoozed" in text
    counts = {State.EXECUTED: 2, State.REJECTED: 1}
    assert progress_line(counts, Decimal("3")) == "Group of 3: ✅ 2 done ($3.00/month) · 🚫 1 rejected"


def test_the_latest_line_quotes_names_and_reasons_verbatim_on_discord() -> None:
    skipped = member(0, State.SKIPPED, skip_reason="tag keep=**yes** <@1>", approver_name="eve_x")
    text = group_summary([skipped, member(1, State.APPROVED)], Outcome(skipped))
    assert "tag keep=\\*\\*yes\\*\\* \\<\\@1\\>" in text


async def test_the_console_fallback_shows_control_characters_instead_of_sending_them() -> None:
    out = io.StringIO()
    await ConsoleReporter(out).report(Outcome(member(0, State.FAILED, error="bad\x1b[2J tag")))
    assert "\x1b" not in out.getvalue() and "bad\\x1b[2J tag" in out.getvalue()
