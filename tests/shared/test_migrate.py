"""Upgrading a ledger written before decision keys named the kind and the check (issue 12): bootstrap
moves every legacy decision to its new key with its state and history, rewrites card records, and a
click on a card posted before the upgrade still decides the moved decision."""

from __future__ import annotations

import json
from typing import Any

from shared.bootstrap import bootstrap
from shared.events import Approver, utcnow
from shared.ledger import State
from shared.worker import Runtime

LEGACY_PK = "123456789012#us-east-1#vol-0123456789abcdef0"
NEW_PK = "123456789012#us-east-1#ebs-volume#unattached#vol-0123456789abcdef0"
DECISION_ID = "5f1b1c9e-0000-5000-8000-000000000001"


def legacy_finding() -> str:
    """A finding as the previous version serialised it: the kind beside a three-part key."""
    return json.dumps(
        {
            "kind": "ebs-volume",
            "key": {
                "account_id": "123456789012",
                "region": "us-east-1",
                "resource_id": "vol-0123456789abcdef0",
            },
            "facts": {"volume_type": "gp3", "size_gib": 100, "state": "available"},
            "tags": {"team": "data"},
            "idle_since": "2026-11-01T00:00:00+00:00",
            "idle_reason": "unattached",
            "cost": {
                "monthly_usd": "8.00",
                "net_monthly_saving_usd": "3.00",
                "snapshot_monthly_usd": "5.00",
                "price_source": "table",
                "price_date": "2026-11-01",
            },
            "scan_id": "scan-1",
        }
    )


async def seed_legacy(runtime: Runtime) -> dict[str, Any]:
    db, table = await runtime.aws.client("dynamodb"), runtime.settings.table_name
    item = {
        "pk": {"S": LEGACY_PK},
        "state": {"S": "AWAITING_APPROVAL"},
        "decision_id": {"S": DECISION_ID},
        "cycle": {"N": "0"},
        "version": {"N": "3"},
        "kind": {"S": "ebs-volume"},
        "updated_at": {"S": "2026-11-20T00:00:00+00:00"},
        "finding": {"S": legacy_finding()},
        "fingerprint": {"S": "fp"},
        "history": {"L": [{"M": {"to": {"S": "FOUND"}}}]},
    }
    await db.put_item(TableName=table, Item=item)
    card = {
        "pk": {"S": "card#c-1"},
        "members": {"L": [{"S": LEGACY_PK}]},
        "decision_ids": {"L": [{"S": DECISION_ID}]},
    }
    await db.put_item(TableName=table, Item=card)
    return item


async def test_bootstrap_moves_legacy_decisions_and_cards_to_the_new_keys(runtime: Runtime) -> None:
    await seed_legacy(runtime)

    report = await bootstrap(runtime.settings, runtime.aws)

    assert "moved 1 decision(s) to keys that name kind and check" in report.existing
    assert await runtime.ledger.get(LEGACY_PK) is None
    moved = await runtime.ledger.get(NEW_PK)
    assert moved is not None and moved.state is State.AWAITING_APPROVAL
    assert moved.decision_id == DECISION_ID and moved.version == 3 and len(moved.get("history")) == 1
    assert moved.key.check == "unattached" and moved.finding.key.pk == NEW_PK
    card = await runtime.ledger.get("card#c-1")
    assert card is not None and card.get("members") == [NEW_PK]
    again = await bootstrap(runtime.settings, runtime.aws)  # idempotent: nothing left to move
    assert not [line for line in again.existing if line.startswith("moved")]


async def test_a_click_on_a_card_posted_before_the_upgrade_decides_the_moved_decision(
    runtime: Runtime,
) -> None:
    from services.notifier.decide import DecideDeps, decide

    await seed_legacy(runtime)
    await bootstrap(runtime.settings, runtime.aws)
    deps = DecideDeps(runtime.ledger, runtime.publisher, runtime.queues["execute"].url)
    approver = Approver(id="42", name="tester", via="discord")

    outcome = await decide(deps, DECISION_ID, "approve", approver, now=utcnow(), pk=LEGACY_PK)

    assert outcome.published == 1
    assert (await runtime.ledger.get(NEW_PK)).state is State.APPROVED  # type: ignore[union-attr]
