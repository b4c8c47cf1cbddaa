"""Exactly once under at-least-once delivery: duplicates, crashes at every step, and AWS errors."""

from __future__ import annotations

import pytest
from moto.ec2.models import ec2_backends

from services.executor.handler import handle_approval
from shared.errors import PermanentError, TransientError
from shared.ledger import State
from tests.executor.helpers import (
    ACCOUNT,
    REGION,
    Crash,
    Wrapped,
    approve,
    client_error,
    idle_address,
    idle_volume,
    observe,
    snapshots_of,
    state_of,
    volume_exists,
)

CLAIM_TTL = 30  # seconds, as make_deps sets it


async def test_a_duplicate_delivery_deletes_once_and_makes_one_snapshot(
    ledger, ec2, make_deps, reporter
) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)
    counted: list[Wrapped] = []

    def count(client):  # type: ignore[no-untyped-def]
        counted.append(Wrapped(client, method="none"))
        return counted[-1]

    deps = make_deps(wrap=count)
    await handle_approval(event, deps)
    await handle_approval(event, deps)  # the same message again, after the first finished

    assert not await volume_exists(ec2, volume_id)
    assert len(await snapshots_of(ec2, volume_id)) == 1
    assert sum(w.calls.get("delete_volume", 0) for w in counted) == 1
    assert sum(w.calls.get("create_snapshot", 0) for w in counted) == 1
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED
    assert sum(1 for h in decision.get("history") if h["to"] == "EXECUTED") == 1
    # The duplicate re-edits the card (idempotent) rather than doing anything in AWS.
    assert [o.state for o in reporter.outcomes] == [State.EXECUTED, State.EXECUTED]


@pytest.mark.parametrize("moment", ["create_snapshot", "delete_volume"])
async def test_a_duplicate_arriving_mid_flight_is_left_to_the_claim_owner(
    ledger, ec2, make_deps, moment: str
) -> None:
    # A second delivery of the same approval runs while the first is between its claim and its
    # snapshot (or delete). Arranged with the proxy rather than left to chance: moto 5.2.5 does not
    # make conditional writes atomic under concurrent requests (DynamoDB does), so a truly
    # simultaneous race on moto would test moto, not us.
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)
    second: list[BaseException | list[object]] = []

    async def deliver_again() -> None:
        second.append(await handle_approval(event, make_deps()))

    await handle_approval(event, make_deps(wrap=lambda c: Wrapped(c, moment, meanwhile=deliver_again)))

    # The duplicate ends quietly (acknowledged, not retried, never toward the dead-letter budget).
    assert second == [[]]
    assert not await volume_exists(ec2, volume_id)
    assert len(await snapshots_of(ec2, volume_id)) == 1
    assert (await state_of(ledger, finding.key)).state is State.EXECUTED


@pytest.mark.parametrize(
    ("method", "when"),
    [
        ("create_snapshot", "before"),  # died before the snapshot
        ("create_snapshot", "after"),  # snapshot made, died before recording anything
        ("delete_volume", "before"),  # snapshot made, died before the delete
        ("delete_volume", "after"),  # volume deleted, died before the outcome was recorded
    ],
)
async def test_a_crash_at_any_step_resumes_to_one_snapshot_and_one_deletion(
    ledger, ec2, make_deps, clock, method: str, when: str
) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)

    with pytest.raises(Crash):
        await handle_approval(event, make_deps(wrap=lambda c: Wrapped(c, method=method, when=when)))
    assert (await state_of(ledger, finding.key)).state is State.EXECUTING

    # Redelivered while the dead attempt's claim still looks alive: nothing happens, and the delivery
    # ends (the sweep re-drives a claim left to expire; here the next delivery stands in for it).
    assert await handle_approval(event, make_deps()) == []
    assert (await state_of(ledger, finding.key)).state is State.EXECUTING
    # Once the claim expires, the next delivery takes over and finishes the job exactly once.
    clock.advance(CLAIM_TTL + 1)
    await handle_approval(event, make_deps())

    assert not await volume_exists(ec2, volume_id)
    [snapshot] = await snapshots_of(ec2, volume_id)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED
    assert decision.get("snapshot_id") == snapshot["SnapshotId"]
    assert decision.get("action") == "snapshot_then_delete"
    assert decision.get("already_gone") is (method == "delete_volume" and when == "after")
    assert decision.get("realised_monthly_saving_usd") is not None


async def test_an_address_released_before_a_crash_counts_as_done(ledger, ec2, make_deps, clock) -> None:
    allocation_id, public_ip = await idle_address(ec2)
    finding = await observe(ec2, "elastic-ip", allocation_id)
    event = await approve(ledger, finding)

    with pytest.raises(Crash):
        await handle_approval(
            event, make_deps(wrap=lambda c: Wrapped(c, method="release_address", when="after"))
        )
    clock.advance(CLAIM_TTL + 1)
    await handle_approval(event, make_deps())

    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED and decision.get("already_gone") is True
    assert decision.get("public_ip") == public_ip


async def test_a_permission_error_fails_at_once_and_a_replay_finishes_it(
    ledger, ec2, make_deps, reporter
) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)
    denied = client_error("UnauthorizedOperation")

    with pytest.raises(PermanentError, match="UnauthorizedOperation"):
        await handle_approval(
            event, make_deps(wrap=lambda c: Wrapped(c, method="delete_volume", raise_=denied))
        )

    decision = await state_of(ledger, finding.key)
    assert decision.state is State.FAILED
    assert decision.get("error_code") == "UnauthorizedOperation"
    assert await volume_exists(ec2, volume_id)
    assert [o.state for o in reporter.outcomes] == [State.FAILED]

    # The operator fixes the IAM policy and replays the message from the DLQ: FAILED → EXECUTING.
    await handle_approval(event, make_deps())
    assert not await volume_exists(ec2, volume_id)
    assert len(await snapshots_of(ec2, volume_id)) == 1  # the first attempt's snapshot is reused
    assert (await state_of(ledger, finding.key)).state is State.EXECUTED


async def test_throttling_is_retried_and_the_retry_resumes(ledger, ec2, make_deps) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)
    throttled = client_error("RequestLimitExceeded", "CreateSnapshot", 503)

    with pytest.raises(TransientError, match="RequestLimitExceeded"):
        await handle_approval(
            event, make_deps(wrap=lambda c: Wrapped(c, method="create_snapshot", raise_=throttled))
        )

    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTING  # not FAILED: the queue retries it with backoff
    assert await volume_exists(ec2, volume_id) and await snapshots_of(ec2, volume_id) == []
    # The claim was released, so the retry does not wait for it to expire.
    await handle_approval(event, make_deps())
    assert (await state_of(ledger, finding.key)).state is State.EXECUTED
    assert len(await snapshots_of(ec2, volume_id)) == 1


async def test_a_snapshot_still_pending_after_the_bounded_wait_is_reused_by_the_retry(
    ledger, ec2, make_deps, clock
) -> None:
    volume_id = await idle_volume(ec2)
    finding = await observe(ec2, "ebs-volume", volume_id)
    event = await approve(ledger, finding)
    # An earlier attempt made the snapshot and died; it is still `pending` as on real AWS (moto
    # completes at once, so the in-process moto backend is told otherwise, the way services/estate.py
    # backdates volumes). Its claim expires: the next delivery takes over.
    with pytest.raises(Crash):
        await handle_approval(event, make_deps(wrap=lambda c: Wrapped(c, "create_snapshot", "after")))
    [created] = await snapshots_of(ec2, volume_id)
    snapshot = ec2_backends[ACCOUNT][REGION].snapshots[created["SnapshotId"]]
    snapshot.status = "pending"
    clock.advance(CLAIM_TTL + 1)

    with pytest.raises(TransientError, match=r"SnapshotCompleted|Max attempts"):
        await handle_approval(event, make_deps(snapshot_wait_seconds=1))
    assert await volume_exists(ec2, volume_id)  # never deleted before its snapshot completed
    assert (await state_of(ledger, finding.key)).state is State.EXECUTING

    snapshot.status = "completed"
    await handle_approval(event, make_deps(snapshot_wait_seconds=1))

    assert not await volume_exists(ec2, volume_id)
    assert [s["SnapshotId"] for s in await snapshots_of(ec2, volume_id)] == [created["SnapshotId"]]
    assert (await state_of(ledger, finding.key)).get("snapshot_id") == created["SnapshotId"]
