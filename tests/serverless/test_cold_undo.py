"""An executed card's Undo button clicked on a cold interactions function, on moto and the fake Discord:
checked and queued like any click (type 6), then sent by the clicks queue's consumer exactly as the
warm path sends it; a stranger is refused at once and nothing is queued."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from rich.console import Console

from services.executor.handler import ExecutionPolicy, ExecutorDeps, handle_approval
from services.executor.outcome import DiscordCardReporter
from services.executor.restore import handle_restore
from services.serverless.interactions import invoke, new_container
from shared.config import Settings
from shared.discord import ConsoleDiscord
from shared.events import Envelope, Finding, parse_event
from shared.ledger import Attr, State
from shared.publisher import QueueRef
from shared.worker import Runtime
from tests.executor.helpers import REGION, idle_volume, observe
from tests.fakes.discord import FakeDiscord
from tests.notifier.helpers import drain, state_of
from tests.notifier.signed_cases import APPROVER, ROLE, Signer, click_body
from tests.notifier.test_interactions import announced, button
from tests.notifier.test_undo_button import Edits, undo_button
from tests.serverless.aws_events import drain_dlq, queue_arn, receive, record, sqs_event, url_event

CARD_MESSAGE = "1300000000000000077"


@pytest.fixture
def function_settings(
    make_settings: Callable[..., Settings],
    discord_public_key: str,
    clicks: QueueRef,
    fake_discord: FakeDiscord,
) -> Settings:
    return make_settings(
        discord_public_key=discord_public_key,
        discord_approver_ids=APPROVER,
        discord_approver_role_ids=ROLE,
        cloudthrift_clicks_queue_url=clicks.url,
        discord_api_base_url=fake_discord.base_url,
    )


async def run_executor(runtime: Runtime, bodies: list[dict[str, Any]], edits: Edits) -> None:
    """The executor's handlers on what the execute queue held (its card edits kept in `edits`)."""
    deps = ExecutorDeps(
        aws=runtime.aws,
        ledger=runtime.ledger,
        reporter=DiscordCardReporter(edits),
        policy=ExecutionPolicy(dry_run=False, claim_ttl=timedelta(seconds=30), snapshot_wait_seconds=5),
    )
    for body in bodies:
        event = parse_event(body)
        if event.type == "ApprovalGranted":
            await handle_approval(Envelope.wrap(event.payload), deps)  # type: ignore[arg-type]
        else:
            await handle_restore(Envelope.wrap(event.payload), deps)  # type: ignore[arg-type]


async def executed(runtime: Runtime, settings: Settings, sign: Signer) -> tuple[Finding, str]:
    """An idle volume carded, approved on a warm function, deleted by the executor: the finding and the
    custom_id of its card's Undo button."""
    ec2 = await runtime.aws.client("ec2", REGION)
    finding = await observe(ec2, "ebs-volume", await idle_volume(ec2))
    sink = ConsoleDiscord(Console(file=io.StringIO()))
    await announced(runtime, [finding], sink=sink)
    warm = new_container(settings)
    await (await warm.state()).open_endpoint()
    approved = await invoke(warm, url_event(*sign(click_body(button(sink, "Approve")))))
    assert json.loads(approved["body"])["type"] == 7
    edits = Edits()
    await run_executor(runtime, await drain(runtime), edits)
    assert (await state_of(runtime.ledger, finding)).state is State.EXECUTED
    undo = undo_button(edits.bodies[-1])
    assert undo is not None
    return finding, str(undo["custom_id"])


def undo_click(custom_id: str, fake: FakeDiscord, token: str, *, user: str = APPROVER) -> dict[str, Any]:
    """Discord's click on the executed card's Undo button, with its application and token."""
    row = {"type": 1, "components": [{"type": 2, "style": 2, "label": "Undo", "custom_id": custom_id}]}
    return click_body(custom_id, user=user) | {
        "application_id": fake.application_id,
        "token": token,
        "message": {"id": CARD_MESSAGE, "components": [row]},
    }


async def test_a_cold_undo_click_is_queued_then_sent_once(
    runtime: Runtime,
    function_settings: Settings,
    sign: Signer,
    clicks: QueueRef,
    fake_discord: FakeDiscord,
) -> None:
    finding, custom_id = await executed(runtime, function_settings, sign)
    before = await state_of(runtime.ledger, finding)
    container = new_container(function_settings)  # cold
    token = fake_discord.interaction(CARD_MESSAGE)
    response = await invoke(container, url_event(*sign(undo_click(custom_id, fake_discord, token))))
    assert json.loads(response["body"]) == {"type": 6}  # within Discord's deadline, nothing sent yet
    assert await drain(runtime) == []

    arn = await queue_arn(runtime.sqs, clicks)
    [queued] = await receive(runtime.sqs, clicks, 1)
    assert await invoke(container, sqs_event([record(queued, arn)])) == {"batchItemFailures": []}
    [request] = await drain(runtime)
    assert request["type"] == "RestoreRequested"
    assert request["payload"]["decision_id"] == before.decision_id
    assert request["payload"]["requested_by"]["id"] == APPROVER
    # The click wrote nothing: the executor's conditional claim is the one guard.
    assert (await state_of(runtime.ledger, finding)).version == before.version
    # Its card says so, edited once through the click's own token (no bot in this deployment).
    assert fake_discord.webhook_edits == [CARD_MESSAGE]
    [edit] = fake_discord.messages[CARD_MESSAGE]["edits"]
    assert edit["content"].startswith("↩️ Undo requested by Alice at ")
    assert all(b["disabled"] for row in edit["components"] for b in row["components"])

    edits = Edits()
    await run_executor(runtime, [request], edits)
    restored = await state_of(runtime.ledger, finding)
    assert restored.state is State.RESTORED
    assert restored.get(Attr.RESTORE_REQUESTED_BY) == f"Alice (discord:{APPROVER})"

    # The queue delivers the click again (a lost delete): refused by the decision's state, nothing sent.
    again = sqs_event([record(queued, arn, receive_count=2)])
    assert await invoke(container, again) == {"batchItemFailures": []}
    assert await drain(runtime) == []
    assert (await state_of(runtime.ledger, finding)).version == restored.version
    assert fake_discord.webhook_edits == [CARD_MESSAGE]
    assert await drain_dlq(runtime.sqs, clicks) == []


async def test_a_redelivery_before_the_executor_claims_it_restores_once(
    runtime: Runtime,
    function_settings: Settings,
    sign: Signer,
    clicks: QueueRef,
    fake_discord: FakeDiscord,
) -> None:
    """The click writes nothing, so a redelivery the executor has not yet claimed sends the request
    again; the executor's conditional claim (EXECUTED → RESTORING) makes the second change nothing."""
    finding, custom_id = await executed(runtime, function_settings, sign)
    container = new_container(function_settings)
    token = fake_discord.interaction(CARD_MESSAGE)
    await invoke(container, url_event(*sign(undo_click(custom_id, fake_discord, token))))
    arn = await queue_arn(runtime.sqs, clicks)
    [queued] = await receive(runtime.sqs, clicks, 1)
    for count in (1, 2):
        event = sqs_event([record(queued, arn, receive_count=count)])
        assert await invoke(container, event) == {"batchItemFailures": []}
    requests = await drain(runtime)
    assert [r["type"] for r in requests] == ["RestoreRequested", "RestoreRequested"]

    ec2 = await runtime.aws.client("ec2", REGION)
    before = len((await ec2.describe_volumes())["Volumes"])
    edits = Edits()
    await run_executor(runtime, requests, edits)
    assert (await state_of(runtime.ledger, finding)).state is State.RESTORED
    assert len((await ec2.describe_volumes())["Volumes"]) == before + 1  # one volume made back, not two
    # The second request found it restored: the card re-told (the same words), nothing else done.
    assert {e["content"].split(":")[0] for e in edits.bodies} == {"↩️ Undone"}
    assert await drain_dlq(runtime.sqs, clicks) == []


async def test_a_strangers_cold_undo_click_is_refused_and_nothing_is_queued(
    runtime: Runtime,
    function_settings: Settings,
    sign: Signer,
    clicks: QueueRef,
    fake_discord: FakeDiscord,
) -> None:
    finding, custom_id = await executed(runtime, function_settings, sign)
    container = new_container(function_settings)
    body = undo_click(custom_id, fake_discord, fake_discord.interaction(CARD_MESSAGE), user="5")
    answer = json.loads((await invoke(container, url_event(*sign(body))))["body"])
    assert answer["type"] == 4 and answer["data"]["flags"] == 64
    assert answer["data"]["content"] == "You are not allowed to decide on CloudThrift cards."  # as warm
    queued = await runtime.sqs.receive_message(QueueUrl=clicks.url, WaitTimeSeconds=0)  # type: ignore[attr-defined]
    assert queued.get("Messages", []) == []
    assert await drain(runtime) == []
    assert (await state_of(runtime.ledger, finding)).state is State.EXECUTED
