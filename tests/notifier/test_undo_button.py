"""The Undo button of an executed card, end to end on moto: the card the executor edits carries it, a
signed click by an approver sends one RestoreRequested, the executor restores, and any later click
(a second one, a replay) changes nothing and is told why."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from aiohttp.test_utils import TestClient
from rich.console import Console

from services.executor.handler import ExecutionPolicy, ExecutorDeps, handle_approval
from services.executor.outcome import DiscordCardReporter
from services.executor.restore import handle_restore
from services.notifier import cards
from shared.discord import ConsoleDiscord
from shared.events import Envelope, Finding, parse_event
from shared.ledger import Attr, State
from shared.worker import Runtime
from tests.executor.helpers import ANALYSIS, REGION, idle_volume, observe, sample_finding
from tests.notifier.helpers import drain, state_of
from tests.notifier.test_interactions import APPROVER, Signer, announced, button, click, client, post

__all__ = ["client"]  # the endpoint fixture, shared with test_interactions


class Edits:
    """The executor's card editor: keeps each PATCH body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def edit_message(self, channel_id: str, message_id: str, payload: dict[str, Any]) -> None:
        self.bodies.append(payload)


def undo_button(body: dict[str, Any]) -> dict[str, Any] | None:
    found = [
        b for row in body["components"] for b in row["components"] if b["label"] in ("Undo", "Retry undo")
    ]
    return found[0] if found else None


async def execute(runtime: Runtime, edits: Edits, *, dry_run: bool = False) -> ExecutorDeps:
    deps = ExecutorDeps(
        aws=runtime.aws,
        ledger=runtime.ledger,
        reporter=DiscordCardReporter(edits),
        policy=ExecutionPolicy(dry_run=dry_run, claim_ttl=timedelta(seconds=30), snapshot_wait_seconds=5),
    )
    for body in await drain(runtime):
        event = parse_event(body)
        if event.type == "ApprovalGranted":
            await handle_approval(Envelope.wrap(event.payload), deps)  # type: ignore[arg-type]
        else:
            await handle_restore(Envelope.wrap(event.payload), deps)  # type: ignore[arg-type]
    return deps


async def test_an_approver_undoes_an_executed_card_exactly_once(
    client: TestClient, sign: Signer, runtime: Runtime
) -> None:
    ec2 = await runtime.aws.client("ec2", REGION)
    finding = await observe(ec2, "ebs-volume", await idle_volume(ec2))
    sink = ConsoleDiscord(Console(file=io.StringIO()))
    await announced(runtime, [finding], sink=sink)
    await post(client, sign, click(button(sink, "Approve")))
    edits = Edits()
    await execute(runtime, edits)
    executed = edits.bodies[-1]
    assert executed["content"].startswith("✅ Done: deleted ebs-volume")
    undo = undo_button(executed)
    assert undo is not None and undo["custom_id"].startswith("ct:undo:")

    # Someone who is not an approver: refused, nothing sent.
    status, answer = await post(client, sign, click(undo["custom_id"], user="222222222222222222"))
    assert status == 200 and answer["data"]["flags"] == 64 and "not allowed" in answer["data"]["content"]
    assert await drain(runtime) == []

    body = click(undo["custom_id"], name="bob")
    status, answer = await post(client, sign, body)
    assert status == 200 and answer["type"] == 7
    assert answer["data"]["content"].startswith("↩️ Undo requested by Bob at ")
    assert all(b["disabled"] for row in answer["data"]["components"] for b in row["components"])
    assert (await state_of(runtime.ledger, finding)).state is State.EXECUTED  # nothing written at the door
    await execute(runtime, edits)

    restored = await state_of(runtime.ledger, finding)
    assert restored.state is State.RESTORED
    assert restored.get(Attr.RESTORE_REQUESTED_BY) == f"Bob (discord:{APPROVER})"
    assert edits.bodies[-1]["content"].startswith("↩️ Undone: ebs-volume")
    assert undo_button(edits.bodies[-1]) is None  # an undo is never undone
    # A second click, or Discord's request replayed: told why, nothing sent or written.
    for again in (click(undo["custom_id"], name="carol"), body):
        status, answer = await post(client, sign, again)
        assert answer["data"]["flags"] == 64 and "already restored" in answer["data"]["content"]
    assert await drain(runtime) == []
    assert (await state_of(runtime.ledger, finding)).version == restored.version


async def test_a_dry_run_card_has_no_undo_and_a_forged_undo_is_refused(
    client: TestClient, sign: Signer, runtime: Runtime
) -> None:
    ec2 = await runtime.aws.client("ec2", REGION)
    finding = await observe(ec2, "ebs-volume", await idle_volume(ec2))
    sink = ConsoleDiscord(Console(file=io.StringIO()))
    [decision] = await announced(runtime, [finding], sink=sink)
    await post(client, sign, click(button(sink, "Approve")))
    edits = Edits()
    await execute(runtime, edits, dry_run=True)
    assert undo_button(edits.bodies[-1]) is None

    _, answer = await post(client, sign, click(f"ct:undo:{decision.decision_id}"))
    assert answer["data"]["flags"] == 64 and "dry run" in answer["data"]["content"]
    assert await drain(runtime) == []


def _card_undo(finding: Finding) -> str:
    card = cards.single_card(finding, ANALYSIS, "6f4f1a2e-9d0c-4c55-9a8e-2c1b7f0e5a11", now=datetime.now(UTC))
    return next(f["value"] for f in card["embeds"][0]["fields"] if f["name"] == "Undo")


def test_the_card_says_before_approval_how_it_is_undone_or_that_it_cannot_be(throwaway: ModuleType) -> None:
    volume = sample_finding()
    assert _card_undo(volume).startswith("create a volume from the kept snapshot")
    address_key = volume.key.model_copy(update={"kind": "elastic-ip", "check": "unassociated"})
    assert "same public IP" in _card_undo(volume.model_copy(update={"key": address_key}))
    topic_key = volume.key.model_copy(update={"kind": "throwaway-topic", "check": "unused"})
    assert "cannot be undone" in _card_undo(volume.model_copy(update={"key": topic_key}))
