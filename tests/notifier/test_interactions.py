"""The interactions endpoint over HTTP: signed requests, clicks, the ledger on moto, the execute queue."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from nacl.signing import SigningKey
from rich.console import Console

from services.notifier import http
from services.notifier.handler import GroupPolicy, NotifierDeps, handle_analyzed
from services.notifier.http import build_endpoint, init_app
from services.notifier.inbound import Click
from shared.config import Settings
from shared.discord import ConsoleDiscord, DiscordClient
from shared.events import Approver, Finding
from shared.ledger import Decision, State
from shared.publisher import Publisher
from shared.worker import Runtime
from tests.fakes.discord import FakeDiscord
from tests.notifier.helpers import analyzed, drain, finding, state_of

APPROVER, ROLE = "111111111111111111", "999999999999999999"
Signer = Callable[..., tuple[bytes, dict[str, str]]]


@pytest.fixture
async def client(
    runtime: Runtime, make_settings: Callable[..., Settings], discord_public_key: str
) -> AsyncIterator[TestClient]:
    settings = make_settings(
        discord_public_key=discord_public_key,
        discord_approver_ids=APPROVER,
        discord_approver_role_ids=ROLE,
        cloudthrift_scan_token="s3cret-token",
        cloudthrift_http_max_body=8192,
    )
    test_client = TestClient(TestServer(init_app(settings, runtime=runtime)))
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def announced(
    runtime: Runtime, findings: list[Finding], *, threshold: int = 0, sink: ConsoleDiscord | None = None
) -> list[Decision]:
    """Post cards the way the notifier does (to a silent console) and return the decisions."""
    deps = NotifierDeps(
        ledger=runtime.ledger,
        sink=sink or ConsoleDiscord(Console(file=io.StringIO())),
        channel_id="c",
        policy=GroupPolicy(threshold=threshold, window=0.1, max_wait=15, settle=0.01, poll=0.05),
    )
    events = [await analyzed(runtime.ledger, f) for f in findings]
    await asyncio.gather(*(handle_analyzed(e, deps) for e in events))
    return [await state_of(runtime.ledger, f) for f in findings]


def button(sink: ConsoleDiscord, label: str) -> str:
    """The custom_id of a button on the last card the notifier posted."""
    _, payload = sink.posted[-1]
    return next(
        b["custom_id"] for row in payload["components"] for b in row["components"] if b["label"] == label
    )


def click(
    custom_id: str, *, user: str = APPROVER, roles: tuple[str, ...] = (), name: str = "alice"
) -> dict[str, Any]:
    buttons = [
        {"type": 2, "style": s, "label": label, "custom_id": f"ct:{a}:x"}
        for s, label, a in ((3, "Approve", "approve"), (4, "Reject", "reject"), (2, "Snooze", "snooze"))
    ]
    return {
        "type": 3,
        "id": "1200000000000000001",
        "application_id": "1200000000000000002",
        "token": "tok",
        "version": 1,
        "guild_id": "1200000000000000003",
        "channel_id": "c",
        "data": {"custom_id": custom_id, "component_type": 2},
        "member": {"user": {"id": user, "username": name, "global_name": name.title()}, "roles": list(roles)},
        "message": {"id": "1200000000000000004", "components": [{"type": 1, "components": buttons}]},
    }


async def post(client: TestClient, sign: Signer, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    raw, headers = sign(body)
    response = await client.post("/interactions", data=raw, headers=headers)
    return response.status, await response.json()


async def test_ping_is_answered_with_pong_and_healthz_reports_ready(client: TestClient, sign: Signer) -> None:
    assert await post(client, sign, {"type": 1}) == (200, {"type": 1})
    response = await client.get("/healthz")
    assert response.status == 200 and (await response.json())["status"] == "ok"


async def test_a_valid_click_approves_publishes_the_finding_as_approved_and_disables_the_buttons(
    client: TestClient, sign: Signer, runtime: Runtime
) -> None:
    sink = ConsoleDiscord(Console(file=io.StringIO()))
    [decision] = await announced(runtime, [finding()], sink=sink)
    status, answer = await post(client, sign, click(button(sink, "Approve")))
    assert status == 200 and answer["type"] == 7
    assert answer["data"]["content"].startswith("✅ Approved by Alice at ")
    assert all(b["disabled"] for row in answer["data"]["components"] for b in row["components"])
    after = await state_of(runtime.ledger, decision.finding)
    assert after.state is State.APPROVED and after.get("decided_by") == "Alice"
    [grant] = await drain(runtime)
    payload = grant["payload"]
    assert grant["type"] == "ApprovalGranted" and payload["decision_id"] == decision.decision_id
    assert payload["approver"] == {"id": APPROVER, "name": "Alice", "via": "discord"}
    assert payload["fingerprint"] == decision.finding.fingerprint == after.get("fingerprint")
    assert Finding.model_validate(payload["finding"]) == decision.finding


async def test_missing_forged_stale_or_tampered_signatures_get_401_and_change_nothing(
    client: TestClient, sign: Signer, runtime: Runtime
) -> None:
    [decision] = await announced(runtime, [finding()])
    body = click(f"ct:approve:{decision.decision_id}")
    raw, good = sign(body)
    forged_raw, forged = (
        raw,
        dict(
            good,
            **{
                "X-Signature-Ed25519": SigningKey(b"\x07" * 32)
                .sign(good["X-Signature-Timestamp"].encode() + raw)
                .signature.hex()
            },
        ),
    )
    stale_raw, stale = sign(body, timestamp=int(time.time()) - 3600)
    tampered = raw.replace(b"approve", b"reject!")
    cases = [
        (raw, {"Content-Type": "application/json"}),  # missing
        (forged_raw, forged),
        (stale_raw, stale),
        (tampered, good),
        (raw, dict(good, **{"X-Signature-Ed25519": "zz" * 64})),  # not hex
    ]
    for data, headers in cases:
        response = await client.post("/interactions", data=data, headers=headers)
        assert response.status == 401
    assert (await state_of(runtime.ledger, decision.finding)).state is State.AWAITING_APPROVAL
    assert await drain(runtime) == []


async def test_oversized_malformed_and_unknown_requests_are_refused(client: TestClient, sign: Signer) -> None:
    raw, headers = sign(b'{"type": 1, "pad": "' + b"x" * 10_000 + b'"}')
    assert (await client.post("/interactions", data=raw, headers=headers)).status == 413
    for bad in (b"{not json", b"[1, 2]"):
        raw, headers = sign(bad)
        assert (await client.post("/interactions", data=raw, headers=headers)).status == 400
    assert (await post(client, sign, {"type": 2, "data": {}}))[0] == 400  # a slash command: not ours
    for custom_id in ("something-else", "ct:approve:00000000-0000-0000-0000-000000000000"):
        status, answer = await post(client, sign, click(custom_id))
        assert status == 200 and answer["type"] == 4 and answer["data"]["flags"] == 64


async def test_a_stranger_is_refused_and_an_approver_role_is_enough(
    client: TestClient, sign: Signer, runtime: Runtime
) -> None:
    [decision] = await announced(runtime, [finding()])
    _, answer = await post(
        client, sign, click(f"ct:approve:{decision.decision_id}", user="5", name="mallory")
    )
    assert answer == {
        "type": 4,
        "data": {
            "content": "You are not allowed to decide on CloudThrift cards.",
            "flags": 64,
            "allowed_mentions": {"parse": []},
        },
    }
    assert (await state_of(runtime.ledger, decision.finding)).state is State.AWAITING_APPROVAL
    _, answer = await post(
        client, sign, click(f"ct:reject:{decision.decision_id}", user="6", roles=(ROLE,), name="bob")
    )
    assert answer["type"] == 7 and answer["data"]["content"].startswith("❌ Rejected by Bob")
    assert (await state_of(runtime.ledger, decision.finding)).state is State.REJECTED
    assert await drain(runtime) == []


async def test_a_double_click_publishes_one_approval_and_tells_who_approved(
    client: TestClient, sign: Signer, runtime: Runtime
) -> None:
    sink = ConsoleDiscord(Console(file=io.StringIO()))
    [decision] = await announced(runtime, [finding()], sink=sink)
    first = await post(client, sign, click(button(sink, "Approve")))
    # The second click names the card only (the card-record path): the same answer.
    second = await post(
        client, sign, click(f"ct:approve:{decision.decision_id}", user=APPROVER, name="alice")
    )
    assert first[1]["type"] == 7
    assert second[1]["type"] == 4 and second[1]["data"]["flags"] == 64
    assert second[1]["data"]["content"].startswith("Already approved by Alice at ")
    assert len(await drain(runtime)) == 1


async def test_two_approvers_racing_produce_exactly_one_approval(
    client: TestClient, sign: Signer, runtime: Runtime
) -> None:
    [decision] = await announced(runtime, [finding()])
    answers = await asyncio.gather(
        *(
            post(
                client,
                sign,
                click(f"ct:approve:{decision.decision_id}", user="7", roles=(ROLE,), name=f"op{i}"),
            )
            for i in range(6)
        )
    )
    assert sorted(a[1]["type"] for a in answers) == [4, 4, 4, 4, 4, 7]
    assert len(await drain(runtime)) == 1


async def test_snooze_sets_the_date_and_a_later_click_on_the_snoozed_card_does_nothing(
    client: TestClient, sign: Signer, runtime: Runtime
) -> None:
    [decision] = await announced(runtime, [finding()])
    _, answer = await post(client, sign, click(f"ct:snooze:{decision.decision_id}"))
    assert answer["type"] == 7 and "Snoozed by Alice" in answer["data"]["content"]
    after = await state_of(runtime.ledger, decision.finding)
    until = after.time("snoozed_until")
    assert after.state is State.SNOOZED and until is not None
    assert abs(until - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)
    _, answer = await post(client, sign, click(f"ct:approve:{decision.decision_id}"))
    assert answer["type"] == 4 and answer["data"]["content"].startswith("Already snoozed by Alice")
    assert f"(until {until:%Y-%m-%d})" in answer["data"]["content"]
    assert await drain(runtime) == []


async def test_approve_all_on_a_group_card_approves_each_decision(
    client: TestClient, sign: Signer, runtime: Runtime
) -> None:
    decisions = await announced(runtime, [finding(f"vol-{i:017x}") for i in range(4)], threshold=2)
    [card_id] = {d.get("card_id") for d in decisions}
    assert card_id not in {d.decision_id for d in decisions}
    _, answer = await post(client, sign, click(f"ct:approve:{card_id}"))
    assert answer["type"] == 7 and answer["data"]["content"].startswith("✅ Approved 4 of 4 by Alice")
    grants = await drain(runtime)
    assert sorted(g["payload"]["decision_id"] for g in grants) == sorted(d.decision_id for d in decisions)
    for d in decisions:
        assert (await state_of(runtime.ledger, d.finding)).state is State.APPROVED


async def test_scan_requests_need_the_bearer_token(client: TestClient, runtime: Runtime) -> None:
    assert (await client.post("/scan")).status == 401
    assert (await client.post("/scan", headers={"Authorization": "Bearer wrong"})).status == 401
    bad = await client.post(
        "/scan", data=b'{"regions": "not-a-list"}', headers={"Authorization": "Bearer s3cret-token"}
    )
    assert bad.status == 400
    response = await client.post(
        "/scan",
        data=json.dumps({"regions": ["eu-west-1"], "requested_by": "n8n"}),
        headers={"Authorization": "Bearer s3cret-token"},
    )
    assert response.status == 202
    [request] = await drain(runtime, "scan")
    assert request["type"] == "ScanRequested" and request["payload"]["regions"] == ["eu-west-1"]
    assert request["payload"]["scan_id"] == (await response.json())["scan_id"]
    assert request["payload"]["requested_by"] == "http:n8n"


async def test_an_approval_whose_event_was_lost_is_sent_again_by_a_later_click(
    client: TestClient, sign: Signer, runtime: Runtime
) -> None:
    [decision] = await announced(runtime, [finding()])
    # A crash between the transition and the publish, twenty minutes ago (past
    # CLOUDTHRIFT_APPROVAL_RECOVER_SECONDS, 900 s by default): APPROVED, nothing on the queue.
    long_ago = datetime.now(UTC) - timedelta(minutes=20)
    approver = Approver(id=APPROVER, name="Alice", via="discord")
    await runtime.ledger.transition(
        decision.pk,
        State.AWAITING_APPROVAL,
        State.APPROVED,
        now=long_ago,
        fields={"approver": approver, "decided_by": "Alice", "decided_at": long_ago, "approved_at": long_ago},
    )
    _, answer = await post(client, sign, click(f"ct:approve:{decision.decision_id}"))
    assert answer["type"] == 4 and answer["data"]["content"].startswith("Already approved by Alice")
    [grant] = await drain(runtime)
    assert grant["payload"]["decision_id"] == decision.decision_id
    assert grant["payload"]["approver"]["name"] == "Alice"


class SlowPublisher:
    """The real publisher behind a delay: AWS having a slow moment."""

    def __init__(self, inner: Publisher, delay: float) -> None:
        self._inner, self._delay = inner, delay

    async def publish(self, queue_url: str, payloads: Any) -> Any:
        await asyncio.sleep(self._delay)
        return await self._inner.publish(queue_url, payloads)


async def test_a_slow_click_is_acknowledged_in_time_and_finished_in_the_background(
    runtime: Runtime, settings: Settings, fake_discord: FakeDiscord, bot: DiscordClient
) -> None:
    f = finding()
    deps = NotifierDeps(runtime.ledger, bot, "77", GroupPolicy(threshold=0))
    await handle_analyzed(await analyzed(runtime.ledger, f), deps)
    [card] = fake_discord.in_channel("77")
    endpoint = build_endpoint(settings, runtime, bot)
    endpoint = dataclasses.replace(
        endpoint,
        click_budget=0.1,
        decide=dataclasses.replace(endpoint.decide, publisher=SlowPublisher(runtime.publisher, 0.5)),
        approver_ids=frozenset({APPROVER}),
    )
    interaction = click(card["message"]["components"][0]["components"][0]["custom_id"])
    interaction["message"] = card["message"]
    started = time.monotonic()
    assert await http.click(endpoint, Click.model_validate(interaction)) == {"type": 6}  # DEFERRED_UPDATE
    assert time.monotonic() - started < 0.4
    for _ in range(50):
        if fake_discord.messages[card["message"]["id"]]["edits"]:
            break
        await asyncio.sleep(0.05)
    [edit] = fake_discord.messages[card["message"]["id"]]["edits"]
    assert edit["content"].startswith("✅ Approved by Alice")
    assert all(b["disabled"] for row in edit["components"] for b in row["components"])
    assert len(await drain(runtime)) == 1
    assert (await state_of(runtime.ledger, f)).state is State.APPROVED


async def test_the_click_uses_the_configured_recovery_threshold(
    runtime: Runtime, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(cloudthrift_approval_recover_seconds=120)
    assert build_endpoint(settings, runtime).decide.recover_after == timedelta(seconds=120)


async def test_a_signed_click_on_a_remedy_button_records_that_remedy_and_a_bare_approve_of_it_is_refused(
    client: TestClient, sign: Signer, runtime: Runtime
) -> None:
    """Issue 14: a cold volume's card approves the remedy the human clicked, never the losing default."""
    from tests.notifier.test_choices import volume

    sink = ConsoleDiscord(Console(file=io.StringIO()))
    [decision] = await announced(runtime, [volume("vol-cold", "sc1", 1000)], sink=sink)
    delete = button(sink, "Delete (saves $15.00/mo, cannot be undone)")
    bare = delete.replace("approve/delete", "approve")  # a forged or stale default Approve

    _, refused = await post(client, sign, click(bare))
    assert "would cost more than it saves" in refused["data"]["content"]
    assert (await state_of(runtime.ledger, decision.finding)).state is State.AWAITING_APPROVAL

    status, answer = await post(client, sign, click(delete))
    assert status == 200 and answer["type"] == 7
    after = await state_of(runtime.ledger, decision.finding)
    assert after.state is State.APPROVED and after.get("remedy") == "delete"
    [grant] = await drain(runtime)
    assert grant["payload"]["remedy"] == "delete"
