"""A deferred click's card, edited through the click's own webhook (no bot token), on moto and the fake
Discord: once, whatever the queue redelivers, and an expired token is a result, not a retry loop."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from services.serverless.interactions import invoke, new_container
from shared.config import Settings
from shared.events import ClickReceived, utcnow
from shared.ledger import State
from shared.publisher import Publisher, QueueRef
from shared.worker import Runtime
from tests.fakes.discord import FakeDiscord
from tests.notifier.helpers import drain, finding, state_of
from tests.notifier.signed_cases import APPROVER, ROLE, Signer, awaiting, click_body
from tests.serverless.aws_events import drain_dlq, queue_arn, receive, record, sqs_event, url_event

CARD_MESSAGE = "1300000000000000042"


@pytest.fixture
def no_bot(
    make_settings: Callable[..., Settings],
    discord_public_key: str,
    clicks: QueueRef,
    fake_discord: FakeDiscord,
) -> Settings:
    """A deployment without DISCORD_BOT_TOKEN: the function URL and the clicks queue only."""
    return make_settings(
        discord_public_key=discord_public_key,
        discord_approver_ids=APPROVER,
        discord_approver_role_ids=ROLE,
        cloudthrift_clicks_queue_url=clicks.url,
        discord_api_base_url=fake_discord.base_url,
    )


def clicked(custom_id: str, fake: FakeDiscord, token: str) -> dict[str, Any]:
    """Discord's click on the card: its application, its token, the message and its buttons."""
    row = {"type": 1, "components": [{"type": 2, "style": 3, "label": "Approve", "custom_id": custom_id}]}
    return click_body(custom_id) | {
        "application_id": fake.application_id,
        "token": token,
        "message": {"id": CARD_MESSAGE, "components": [row]},
    }


async def test_a_cold_click_without_a_bot_token_edits_its_card_through_the_webhook_once(
    runtime: Runtime,
    no_bot: Settings,
    sign: Signer,
    clicks: QueueRef,
    fake_discord: FakeDiscord,
) -> None:
    f = finding("vol-00000000000webhook")
    custom_id = await awaiting(runtime, f.key.resource_id)
    token = fake_discord.interaction(CARD_MESSAGE)
    container = new_container(no_bot)  # cold
    with capture_logs() as logs:
        response = await invoke(container, url_event(*sign(clicked(custom_id, fake_discord, token))))
        assert json.loads(response["body"]) == {"type": 6}
        arn = await queue_arn(runtime.sqs, clicks)
        [queued] = await receive(runtime.sqs, clicks, 1)
        assert await invoke(container, sqs_event([record(queued, arn)])) == {"batchItemFailures": []}
        # A lost delete: the queue delivers it again. Nothing is decided, published or edited again.
        again = sqs_event([record(queued, arn, receive_count=2)])
        assert await invoke(container, again) == {"batchItemFailures": []}

    assert (await state_of(runtime.ledger, f)).state is State.APPROVED
    assert fake_discord.webhook_edits == [CARD_MESSAGE]
    [edit] = fake_discord.messages[CARD_MESSAGE]["edits"]
    assert "Approved by Alice" in edit["content"]
    assert edit["allowed_mentions"] == {"parse": []}
    assert all(button["disabled"] for row in edit["components"] for button in row["components"])
    assert [e["edit"] for e in logs if e["event"] == "interactions.deferred_card"] == ["webhook"]
    assert token not in repr(logs)  # a credential for 15 minutes: never in a log line
    assert len(await drain(runtime)) == 1  # the one approval
    assert await drain_dlq(runtime.sqs, clicks) == []


async def test_a_token_discord_refuses_as_expired_ends_the_click_with_a_result(
    runtime: Runtime,
    no_bot: Settings,
    sign: Signer,
    clicks: QueueRef,
    fake_discord: FakeDiscord,
) -> None:
    """Discord answers 401 (code 50027): the decision stands, the card is left, the message is done."""
    f = finding("vol-0000000000expired")
    custom_id = await awaiting(runtime, f.key.resource_id)
    token = fake_discord.interaction(CARD_MESSAGE, age=16 * 60)
    container = new_container(no_bot)
    with capture_logs() as logs:
        await invoke(container, url_event(*sign(clicked(custom_id, fake_discord, token))))
        arn = await queue_arn(runtime.sqs, clicks)
        [queued] = await receive(runtime.sqs, clicks, 1)
        assert await invoke(container, sqs_event([record(queued, arn)])) == {"batchItemFailures": []}

    assert (await state_of(runtime.ledger, f)).state is State.APPROVED
    assert fake_discord.webhook_refused == [50027] and fake_discord.webhook_edits == []
    assert [e["edit"] for e in logs if e["event"] == "interactions.deferred_card"] == ["token_expired"]
    assert token not in repr(logs)
    assert await drain_dlq(runtime.sqs, clicks) == []


async def test_a_click_queued_past_the_tokens_fifteen_minutes_is_not_sent_to_discord(
    runtime: Runtime,
    no_bot: Settings,
    sign: Signer,
    clicks: QueueRef,
    fake_discord: FakeDiscord,
) -> None:
    """A backed-up queue: the token is known to be dead, so no request is spent on it."""
    f = finding("vol-0000000000backlog")
    custom_id = await awaiting(runtime, f.key.resource_id)
    body, _ = sign(clicked(custom_id, fake_discord, fake_discord.interaction(CARD_MESSAGE)))
    late = ClickReceived(interaction=body.decode(), received_at=utcnow() - timedelta(minutes=20))
    await Publisher(runtime.sqs).publish(clicks.url, [late])
    container = new_container(no_bot)
    arn = await queue_arn(runtime.sqs, clicks)
    [queued] = await receive(runtime.sqs, clicks, 1)
    with capture_logs() as logs:
        assert await invoke(container, sqs_event([record(queued, arn)])) == {"batchItemFailures": []}

    assert (await state_of(runtime.ledger, f)).state is State.APPROVED
    assert fake_discord.requests == 0
    assert [e["edit"] for e in logs if e["event"] == "interactions.deferred_card"] == ["token_expired"]
