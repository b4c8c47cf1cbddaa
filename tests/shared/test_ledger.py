"""The ledger against DynamoDB on moto: conditional transitions, races, claims, history."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from shared.ledger import Ledger, State, decision_id_for
from shared.worker import Runtime
from tests.shared.factories import finding


async def approved(ledger: Ledger, resource_id: str = "vol-1") -> str:
    """Drive a decision through its real transitions up to APPROVED."""
    f = finding(resource_id)
    assert (await ledger.create(f)).applied
    for expected, new in [
        (State.FOUND, State.ANALYZED),
        (State.ANALYZED, State.AWAITING_APPROVAL),
        (State.AWAITING_APPROVAL, State.APPROVED),
    ]:
        assert (await ledger.transition(f.key, expected, new)).applied
    return f.key.pk


async def test_create_records_found_once_and_a_second_create_reports_the_existing_item(
    runtime: Runtime,
) -> None:
    f = finding()
    first = await runtime.ledger.create(f)
    second = await runtime.ledger.create(f.model_copy(update={"scan_id": "scan-2"}))
    assert first.applied and not second.applied
    assert second.current is not None and second.current.state is State.FOUND
    assert second.current.finding.scan_id == "scan-1"
    assert second.current.decision_id == decision_id_for(f.key, 0)


async def test_two_concurrent_claims_of_the_same_transition_exactly_one_wins(runtime: Runtime) -> None:
    # Forty rounds: a store that checks and writes non-atomically (moto's own threaded server did, in
    # about one round in ten) lets two claims through sooner or later.
    now = datetime.now(UTC)
    for round_ in range(40):
        pk = await approved(runtime.ledger, f"vol-{round_}")
        results = await asyncio.gather(
            *(
                runtime.ledger.transition(
                    pk,
                    State.APPROVED,
                    State.EXECUTING,
                    fields={"executor": f"worker-{i}", "claim_expires_at": now + timedelta(minutes=15)},
                    claim_expired_before=now,
                )
                for i in range(8)
            )
        )
        winners = [r for r in results if r.applied]
        assert len(winners) == 1, f"round {round_}: {len(winners)} winners"
        # Every loser is told who won, as a result rather than an exception.
        assert {r.current.get("executor") for r in results if not r.applied} == {
            winners[0].current.get("executor")
        }


async def test_an_expired_claim_can_be_taken_over_but_a_live_one_cannot(runtime: Runtime) -> None:
    pk = await approved(runtime.ledger)
    t0 = datetime(2026, 11, 25, 12, tzinfo=UTC)
    claim = await runtime.ledger.transition(
        pk,
        State.APPROVED,
        State.EXECUTING,
        fields={"claim_expires_at": t0 + timedelta(minutes=15)},
        claim_expired_before=t0,
        now=t0,
    )
    assert claim.applied
    early = t0 + timedelta(minutes=5)
    assert not (
        await runtime.ledger.transition(
            pk, State.APPROVED, State.EXECUTING, claim_expired_before=early, now=early
        )
    ).applied
    late = t0 + timedelta(minutes=16)
    takeover = await runtime.ledger.transition(
        pk, State.APPROVED, State.EXECUTING, fields={"executor": "b"}, claim_expired_before=late, now=late
    )
    assert takeover.applied and takeover.current.get("executor") == "b"


async def test_transition_from_the_wrong_state_changes_nothing(runtime: Runtime) -> None:
    f = finding()
    await runtime.ledger.create(f)
    result = await runtime.ledger.transition(f.key, State.AWAITING_APPROVAL, State.APPROVED)
    assert not result.applied
    assert result.current.state is State.FOUND and result.current.version == 1


async def test_transition_of_a_missing_item_is_a_lost_race_not_a_crash(runtime: Runtime) -> None:
    result = await runtime.ledger.transition(
        "123456789012#us-east-1#ebs-volume#unattached#vol-nope", State.APPROVED, State.EXECUTING
    )
    assert result == type(result)(applied=False, current=None)


def test_an_illegal_move_is_refused_before_anything_is_written() -> None:
    ledger = Ledger(dynamodb=None, table_name="unused")
    with pytest.raises(ValueError, match="FOUND → EXECUTED"):
        asyncio.run(ledger.transition("pk", State.FOUND, State.EXECUTED))


async def test_transitions_keep_a_history_and_bump_the_version(runtime: Runtime) -> None:
    f = finding()
    await runtime.ledger.create(f)
    await runtime.ledger.transition(f.key, State.FOUND, State.ANALYZED, actor="analyzer", note="rules")
    decision = await runtime.ledger.get(f.key)
    assert decision.version == 2
    assert [(h["from"], h["to"], h["by"]) for h in decision.get("history")] == [
        ("", "FOUND", "scanner"),
        ("FOUND", "ANALYZED", "analyzer"),
    ]


async def test_expected_decision_id_refuses_a_move_on_a_newer_cycle(runtime: Runtime) -> None:
    pk = await approved(runtime.ledger)
    result = await runtime.ledger.transition(
        pk, State.APPROVED, State.EXECUTING, expected_decision_id="stale-id"
    )
    assert not result.applied


async def test_create_many_writes_new_items_and_reports_those_that_existed(runtime: Runtime) -> None:
    existing = finding("vol-existing")
    await runtime.ledger.create(existing)
    batch = [finding(f"vol-{i}") for i in range(150)] + [existing]
    results = await runtime.ledger.create_many(batch)
    assert sum(r.applied for r in results) == 150
    assert len(await runtime.ledger.get_many(f.key for f in batch)) == 151


async def test_by_state_lists_decisions_through_the_index(runtime: Runtime) -> None:
    pk = await approved(runtime.ledger, "vol-a")
    await runtime.ledger.create(finding("vol-b"))
    assert [d.pk async for d in runtime.ledger.by_state(State.APPROVED)] == [pk]


async def test_forget_only_drops_the_sighting_it_read(runtime: Runtime) -> None:
    f = finding()
    await runtime.ledger.create(f)
    since = (await runtime.ledger.get(f.key)).get("idle_since")
    assert not await runtime.ledger.forget(
        f.key, expected=State.FOUND, idle_since="2020-01-01T00:00:00+00:00"
    )
    assert await runtime.ledger.forget(f.key, expected=State.FOUND, idle_since=since)
    assert await runtime.ledger.get(f.key) is None


async def test_a_cancelled_transaction_leaves_every_item_as_it_was(runtime: Runtime) -> None:
    """The embedded AWS backs up only the items a transaction names (services/embedded_aws.py): a
    cancelled one must still undo its puts and its in-place update."""
    db = runtime.ledger._db
    table = runtime.ledger.table_name
    existing = finding("vol-existing")
    await runtime.ledger.create(existing)
    await runtime.ledger.create(finding("vol-bystander"))
    before = (await runtime.ledger.get(existing.key)).attrs
    with pytest.raises(db.exceptions.TransactionCanceledException):
        await db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "new-1"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": existing.key.pk}},
                        "UpdateExpression": "SET note = :n",
                        "ExpressionAttributeValues": {":n": {"S": "changed"}},
                    }
                },
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": "new-2"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert (await db.get_item(TableName=table, Key={"pk": {"S": "new-1"}})).get("Item") is None
    assert (await runtime.ledger.get(existing.key)).attrs == before
    assert await runtime.ledger.get(finding("vol-bystander").key) is not None
