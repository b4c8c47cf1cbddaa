"""The interactions function (function URL, payload 2.0, and its clicks queue) on moto."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from services.serverless import interactions
from services.serverless.interactions import invoke, new_container
from shared.config import Settings
from shared.ledger import State
from shared.publisher import QueueRef
from shared.worker import Runtime
from tests.notifier.helpers import drain, finding, state_of
from tests.notifier.signed_cases import APPROVER, MAX_BODY, ROLE, Signer, awaiting, click_body, run_cases
from tests.serverless.aws_events import drain_dlq, queue_arn, receive, record, sqs_event, url_event


@pytest.fixture
def function_settings(
    make_settings: Callable[..., Settings], discord_public_key: str, clicks: QueueRef
) -> Settings:
    return make_settings(
        discord_public_key=discord_public_key,
        discord_approver_ids=APPROVER,
        discord_approver_role_ids=ROLE,
        cloudthrift_http_max_body=MAX_BODY,
        cloudthrift_clicks_queue_url=clicks.url,
    )


def answer(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    assert response["headers"]["content-type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


async def test_a_warm_function_answers_every_shared_signed_case(
    runtime: Runtime, function_settings: Settings, sign: Signer
) -> None:
    container = new_container(function_settings)
    await (await container.state()).open_endpoint()  # warm: clicks are decided inline

    async def post(raw: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return answer(await invoke(container, url_event(raw, headers)))

    await run_cases(runtime, sign, post)


async def test_a_click_on_a_cold_function_is_deferred_then_recorded_exactly_once(
    runtime: Runtime, function_settings: Settings, sign: Signer, clicks: QueueRef
) -> None:
    f = finding("vol-0000000000000cold")
    custom_id = await awaiting(runtime, f.key.resource_id)
    container = new_container(function_settings)  # cold: nothing opened yet
    raw, headers = sign(click_body(custom_id))

    status, body = answer(await invoke(container, url_event(raw, headers, b64=False)))
    assert (status, body) == (200, {"type": 6})  # DEFERRED_UPDATE_MESSAGE, within Discord's deadline
    assert (await state_of(runtime.ledger, f)).state is State.AWAITING_APPROVAL

    arn = await queue_arn(runtime.sqs, clicks)
    [queued] = await receive(runtime.sqs, clicks, 1)
    assert json.loads(queued["Body"])["type"] == "ClickReceived"
    assert await invoke(container, sqs_event([record(queued, arn)])) == {"batchItemFailures": []}
    decided = await state_of(runtime.ledger, f)
    assert decided.state is State.APPROVED and decided.get("decided_by") == "Alice"
    [grant] = await drain(runtime)
    assert grant["type"] == "ApprovalGranted" and grant["payload"]["decision_id"] == decided.decision_id

    # The queue delivers it again (a lost delete): nothing changes, nothing is published.
    assert await invoke(container, sqs_event([record(queued, arn, receive_count=2)])) == {
        "batchItemFailures": []
    }
    assert dict((await state_of(runtime.ledger, f)).attrs) == dict(decided.attrs)
    assert await drain(runtime) == []
    # The container is warm now: a second click is answered inline, naming who decided.
    status, body = answer(await invoke(container, url_event(*sign(click_body(custom_id)))))
    assert (
        status == 200
        and body["type"] == 4
        and body["data"]["content"].startswith("Already approved by Alice")
    )
    assert await drain(runtime, "execute") == []
    assert await drain_dlq(runtime.sqs, clicks) == []


async def test_a_stranger_on_a_cold_function_is_refused_at_once_and_nothing_is_queued(
    runtime: Runtime, function_settings: Settings, sign: Signer, clicks: QueueRef
) -> None:
    custom_id = await awaiting(runtime, "vol-00000000000stranger")
    container = new_container(function_settings)
    status, body = answer(await invoke(container, url_event(*sign(click_body(custom_id, user="5")))))
    assert status == 200 and body["type"] == 4
    queued = await runtime.sqs.receive_message(QueueUrl=clicks.url, WaitTimeSeconds=0)  # type: ignore[attr-defined]
    assert queued.get("Messages", []) == []


async def test_other_paths_and_methods(function_settings: Settings, sign: Signer) -> None:
    container = new_container(function_settings)
    assert answer(await invoke(container, url_event(b"", {}, path="/admin")))[0] == 404
    assert answer(await invoke(container, url_event(b"", {}, method="GET")))[0] == 405


async def test_the_lambda_handler_itself_answers_a_ping_from_its_environment(
    runtime: Runtime,
    clicks: QueueRef,
    discord_public_key: str,
    sign: Signer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The synchronous entry Lambda calls: settings from the environment, its own loop (a thread here)."""
    monkeypatch.setenv("DISCORD_PUBLIC_KEY", discord_public_key)
    monkeypatch.setattr(interactions, "_CONTAINER", None)
    event = url_event(*sign({"type": 1}))
    response = await asyncio.to_thread(interactions.handler, event, None)
    assert answer(response) == (200, {"type": 1})
