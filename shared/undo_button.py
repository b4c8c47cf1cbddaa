"""The Undo button's custom_id, `ct:undo:<decision id>`: made by the executor's card (shared/undo.py
`undo_custom_id`), read by the interactions endpoint.

A module of its own that imports nothing, so a cold interactions Lambda recognises an Undo click (and
queues it, services/serverless/interactions.py) without loading the undo itself: shared/undo.py brings
the kinds and the ledger, which the cold path leaves for the clicks queue's invocation.
"""

from __future__ import annotations

# 44 characters for a decision id (the card record of a single card is named after its decision and
# lists its ledger key). The approval buttons' are ct:<action>:... (services/notifier/cards.py).
UNDO_PREFIX = "ct:undo:"


def parse_undo(custom_id: str) -> str | None:
    """The decision id an Undo button names, or None for any other button."""
    if not custom_id.startswith(UNDO_PREFIX):
        return None
    decision_id = custom_id.removeprefix(UNDO_PREFIX)
    return decision_id if 1 <= len(decision_id) <= 64 and ":" not in decision_id else None
