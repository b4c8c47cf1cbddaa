"""The buttons of a card and the ids they carry: what a click names, and what the CLI types instead.

A button's `custom_id` names the action and the card (`ct:<action>:<card id>`), for a single card the
ledger key of its decision (so a click needs no read of the card record), and for an approval of one
of the card's priced choices the remedy (`ct:approve/<remedy>:...`). Discord returns it verbatim with
the click; `parse_custom_id` is the only reader, and refuses anything it did not write.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from services.notifier.choices import choice_label
from shared.discord_messages import cut, disabled_components
from shared.events import CostEstimate

Action = Literal["approve", "reject", "snooze"]
ACTIONS: tuple[Action, ...] = ("approve", "reject", "snooze")
PREFIX = "ct"


@dataclass(frozen=True)
class Button:
    """What a click names: the action, the card, for a single card the ledger key of its decision, and
    for an approval of another remedy than the default, that remedy (the card's priced choices)."""

    action: Action
    card_id: str
    pk: str | None = None
    remedy: str | None = None


_REMEDY = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")


def custom_id(action: Action, card_id: str, pk: str | None = None, remedy: str | None = None) -> str:
    """`ct:<action>:<card id>`, or `ct:<action>:<decision id, 22 chars>:<ledger key>` when that fits;
    an approval of a chosen remedy names it in the action: `ct:approve/<remedy>:...`.

    The second form lets a click on a single card skip reading the card record (one AWS call less per
    click); a key too long for it falls back to the first. Both are <= 100 characters by construction.
    """
    verb = f"{action}/{remedy}" if remedy else action
    if pk is not None:
        compact = base64.urlsafe_b64encode(uuid.UUID(card_id).bytes).decode().rstrip("=")
        direct = f"{PREFIX}:{verb}:{compact}:{pk}"
        if len(direct) <= 100:
            return direct
    value = f"{PREFIX}:{verb}:{card_id}"
    if len(value) > 100:
        raise ValueError(f"custom_id for card {card_id!r} would exceed 100 characters")
    return value


def parse_custom_id(value: str) -> Button | None:
    """The click, or None for a button this version did not make."""
    parts = value.split(":", 3)
    if len(parts) < 3 or parts[0] != PREFIX:
        return None
    verb, _, remedy = parts[1].partition("/")
    if verb not in ACTIONS or (remedy and (verb != "approve" or not _REMEDY.match(remedy))):
        return None
    action: Action = verb  # type: ignore[assignment]
    if len(parts) == 3:
        return Button(action, parts[2], None, remedy or None) if 1 <= len(parts[2]) <= 64 else None
    try:
        card_id = str(uuid.UUID(bytes=base64.urlsafe_b64decode(parts[2] + "==")))
    except ValueError:
        return None
    return Button(action, card_id, parts[3], remedy or None) if parts[3].count("#") >= 2 else None


def cli_command(value: str) -> str | None:
    """What the console shows under a card: the CLI command that does what the button does."""
    button = parse_custom_id(value)
    if button is None:
        return None
    chosen = f" --remedy {button.remedy}" if button.remedy else ""
    return f"cloudthrift {button.action} {button.card_id}{chosen}"


def nonce(card_id: str) -> str:
    """Discord nonce (<= 25 chars): a re-post of the same card after a crash returns the first message."""
    return hashlib.sha256(card_id.encode()).hexdigest()[:25]


def buttons(
    card_id: str,
    *,
    group: bool,
    snooze_days: int = 30,
    disabled: bool = False,
    pk: str | None = None,
    cost: CostEstimate | None = None,
) -> list[dict[str, Any]]:
    """Approve (the default remedy), Reject, Snooze; with a single card's priced choices, one Approve
    per other remedy that saves money, and no default Approve when the default would lose money. A
    finding offered no clean-up (`cost.withheld`) gets no Approve of any kind: Reject and Snooze."""
    suffix = " all" if group else ""
    approve = [
        {"type": 2, "style": 3, "label": f"Approve{suffix}", "custom_id": custom_id("approve", card_id, pk)}
    ]
    if cost is not None and cost.withheld:
        approve = []
    elif cost is not None and cost.choices:
        default = cost.choices[0].remedy
        approve = [] if cost.loses_money else approve
        approve += [
            {
                "type": 2,
                "style": 3 if choice.undo else 4,
                "label": cut(choice_label(choice), 80),
                "custom_id": custom_id("approve", card_id, pk, choice.remedy),
            }
            for choice in cost.choices
            if choice.remedy != default and choice.net_monthly_saving_usd > 0
        ][:3]
    row = [
        *approve,
        {"type": 2, "style": 4, "label": f"Reject{suffix}", "custom_id": custom_id("reject", card_id, pk)},
        {
            "type": 2,
            "style": 2,
            "label": f"Snooze{suffix} {snooze_days} days",
            "custom_id": custom_id("snooze", card_id, pk),
        },
    ]
    rows = [{"type": 1, "components": row}]
    return disabled_components(rows) if disabled else rows
