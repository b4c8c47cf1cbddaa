"""Approvals whose ApprovalGranted was lost are published again by the executor's sweep (issue 4 gap).

Everything runs against moto over HTTP: the ledger's real transitions, the real execute queue, the
executor worker as `cloudthrift worker executor` runs it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from structlog.testing import capture_logs

from services.executor.main import WORKER, sweep_deps
from services.executor.sweep import SweepDeps, run_sweeps, sweep
from services.notifier.decide import DecideDeps, decide
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.events import Approver, Finding
from shared.grants import is_lost, messages_published
from shared.ledger import Decision, Ledger, State
from shared.telemetry.metrics import MemoryMetrics
from shared.worker import Runtime, open_runtime, run_workers
from tests.executor.helpers import (
    ALICE,
    ANALYSIS,
    idle_volume,
    observe,
    sample_finding,
    state_of,
    wait_until_executed,
)
from tests.notifier.helpers import drain

LOST = timedelta(minutes=20)  # older than the 900 s default threshold
THRESHOLD = timedelta(seconds=900)


async def approved(
    ledger: Ledger, finding: Finding, *, ago: timedelta, approver: Approver = ALICE
) -> Decision:
    """A click's transition `ago` (the card was posted a day before), whose ApprovalGranted never reached
    the queue."""
    when = datetime.now(UTC) - ago
    posted = when - timedelta(days=1)
    assert (await ledger.create(finding, now=posted)).applied
    await ledger.transition(
        finding.key, State.FOUND, State.ANALYZED, fields={"analysis": ANALYSIS}, now=posted
    )
    await ledger.transition(finding.key, State.ANALYZED, State.AWAITING_APPROVAL, now=posted)
    moved = await ledger.transition(
        finding.key,
        State.AWAITING_APPROVAL,
        State.APPROVED,
        fields={"approver": approver, "decided_by": approver.name, "decided_at": when, "approved_at": when},
        actor=f"{approver.via}:{approver.name}",
        now=when,
    )
    assert moved.applied and moved.current is not None
    return moved.current


def deps_for(runtime: Runtime, **overrides: Any) -> SweepDeps:
    base = SweepDeps(
        runtime.ledger, runtime.publisher, runtime.queues["execute"].url, recover_after=THRESHOLD
    )
    return dataclasses.replace(base, **overrides)


async def test_a_lost_approval_is_published_again_as_the_same_event(runtime: Runtime) -> None:
    finding = sample_finding()
    decision = await approved(runtime.ledger, finding, ago=LOST)
    metrics = MemoryMetrics()
    deps = deps_for(runtime, metrics=metrics)

    with capture_logs() as logs:
        assert len(await sweep(deps)) == 1
    [grant] = await drain(runtime)
    assert grant["type"] == "ApprovalGranted"
    payload = grant["payload"]
    assert payload["decision_id"] == decision.decision_id
    assert payload["key"] == finding.key.model_dump()
    assert Approver.model_validate(payload["approver"]) == ALICE
    # The approval as the ledger recorded the click, not the time of the sweep.
    assert datetime.fromisoformat(payload["approved_at"]) == decision.time("approved_at")
    assert payload["fingerprint"] == finding.fingerprint
    [line] = [entry for entry in logs if entry["event"] == "decision.grant_republished"]
    assert line["log_level"] == "warning" and line["decision_id"] == decision.decision_id
    assert line["by"] == "sweep" and line["lost_for_seconds"] >= LOST.total_seconds()
    assert metrics.values("cloudthrift.approvals.republished", by="sweep", kind="ebs-volume") == [1]

    stored = await state_of(runtime.ledger, finding.key)
    assert stored.get("redrives") == 1 and stored.get("redriven_at") is not None
    # The executor has not acted yet. The next sweeps within the recovery window send nothing: a
    # backlog or a slow executor never multiplies the approval (issue 20).
    assert await sweep(deps) == []
    assert await drain(runtime) == []
    # A window later it is sent again, as the same event (its id is deterministic), which the
    # executor's conditional claim turns into a no-op; then it waits twice as long.
    later = datetime.now(UTC) + THRESHOLD
    assert len(await sweep(dataclasses.replace(deps, clock=lambda: later))) == 1
    [again] = await drain(runtime)
    assert again["id"] == grant["id"] and again["payload"] == payload
    twice = later + THRESHOLD + timedelta(seconds=1)
    assert await sweep(dataclasses.replace(deps, clock=lambda: twice)) == []
    assert len(await sweep(dataclasses.replace(deps, clock=lambda: later + 2 * THRESHOLD))) == 1
    assert messages_published(await state_of(runtime.ledger, finding.key)) == 4  # the click + 3


async def test_recent_approvals_and_other_states_are_left_alone(runtime: Runtime) -> None:
    ledger = runtime.ledger
    recent = await approved(ledger, sample_finding("vol-0000000000000000a"), ago=timedelta(minutes=5))
    # Old, but no longer (or not yet) waiting for the executor.
    executed = await approved(ledger, sample_finding("vol-0000000000000000b"), ago=LOST)
    await ledger.transition(executed.key, State.APPROVED, State.EXECUTING, now=datetime.now(UTC) - LOST)
    await ledger.transition(executed.key, State.EXECUTING, State.EXECUTED, now=datetime.now(UTC) - LOST)
    waiting = sample_finding("vol-0000000000000000c")
    await ledger.create(waiting, now=datetime.now(UTC) - LOST)
    await ledger.transition(waiting.key, State.FOUND, State.ANALYZED, now=datetime.now(UTC) - LOST)
    await ledger.transition(
        waiting.key, State.ANALYZED, State.AWAITING_APPROVAL, now=datetime.now(UTC) - LOST
    )
    metrics = MemoryMetrics()

    assert await sweep(deps_for(runtime, metrics=metrics)) == []
    assert await drain(runtime) == []
    assert metrics.values("cloudthrift.approvals.republished") == []
    assert (await state_of(ledger, recent.key)).state is State.APPROVED
    assert (await state_of(ledger, executed.key)).state is State.EXECUTED
    assert (await state_of(ledger, waiting.key)).state is State.AWAITING_APPROVAL
    # A decision the index still lists as APPROVED but the executor claimed since: the full read decides.
    claimed = await state_of(ledger, executed.key)
    assert claimed.time("approved_at") is not None and not is_lost(claimed, datetime.now(UTC), THRESHOLD)
    # The same recent approval is lost for a sweep with a shorter threshold: the threshold decides.
    [grant] = await sweep(deps_for(runtime, recover_after=timedelta(minutes=4)))
    assert grant.decision_id == recent.decision_id


async def test_an_approval_no_executor_can_act_on_is_logged_not_sent_to_the_dead_letter_queue(
    runtime: Runtime,
) -> None:
    known = sample_finding()
    finding = known.model_copy(update={"key": known.key.model_copy(update={"kind": "nat-gateway"})})
    decision = await approved(runtime.ledger, finding, ago=LOST)

    with capture_logs() as logs:
        assert await sweep(deps_for(runtime, kinds=frozenset({"ebs-volume", "elastic-ip"}))) == []
    assert await drain(runtime) == []
    [line] = [entry for entry in logs if entry["event"] == "decision.grant_not_republished"]
    assert line["decision_id"] == decision.decision_id and "nat-gateway" in line["reason"]
    # An executor that knows the kind sends it.
    [grant] = await sweep(deps_for(runtime, kinds=frozenset({"nat-gateway"})))
    assert grant.decision_id == decision.decision_id


async def test_a_failed_sweep_is_logged_and_the_next_one_recovers(
    runtime: Runtime, make_settings: Any
) -> None:
    # The ledger table is unreachable at first (a DynamoDB outage, seen as a missing table).
    dynamodb = await runtime.aws.client("dynamodb")
    outage = make_settings(cloudthrift_prefix="outage")
    ledger = Ledger(dynamodb, outage.table_name)
    deps = deps_for(runtime, ledger=ledger)

    with capture_logs() as logs:
        sweeper = asyncio.create_task(run_sweeps(deps, every=0.1))
        for _ in range(100):
            if sum(entry["event"] == "decision.sweep_failed" for entry in logs) >= 2:
                break
            await asyncio.sleep(0.05)
        assert not sweeper.done()  # the loop survived its failures
        failures = [entry for entry in logs if entry["event"] == "decision.sweep_failed"]
        assert len(failures) >= 2 and "ResourceNotFoundException" in failures[0]["error"]

        # DynamoDB is back, with an approval lost meanwhile: a later sweep of the same loop sends it.
        await bootstrap(outage, runtime.aws)
        decision = await approved(ledger, sample_finding(), ago=LOST)
        grants: list[dict[str, Any]] = []
        for _ in range(100):
            grants += await drain(runtime)
            if grants:
                break
            await asyncio.sleep(0.05)
        sweeper.cancel()
        await asyncio.wait([sweeper])
    assert grants and {g["payload"]["decision_id"] for g in grants} == {decision.decision_id}


async def test_the_sweep_takes_its_threshold_from_the_settings(runtime: Runtime, make_settings: Any) -> None:
    configured = dataclasses.replace(
        runtime, settings=make_settings(cloudthrift_approval_recover_seconds=120)
    )
    deps = sweep_deps(configured, frozenset({"ebs-volume"}))
    assert deps.recover_after == timedelta(seconds=120)
    assert deps.execute_url == runtime.queues["execute"].url and deps.kinds == frozenset({"ebs-volume"})
    assert sweep_deps(runtime, ()).recover_after == timedelta(seconds=900)  # the default


async def test_the_executor_worker_finishes_an_approval_whose_click_failed_to_publish(
    make_settings: Any, botocore_session: Any
) -> None:
    settings = make_settings(cloudthrift_approval_sweep_seconds=0.3)
    async with AwsClients(settings, session=botocore_session) as aws:
        await bootstrap(settings, aws)
    async with open_runtime(settings, session=botocore_session) as runtime:
        ec2 = await runtime.aws.client("ec2")
        finding = await observe(ec2, "ebs-volume", await idle_volume(ec2))
        stop = asyncio.Event()
        workers = asyncio.create_task(run_workers(runtime, [WORKER], stop=stop))

        # The click, twenty minutes ago, while SQS refused the publish: APPROVED, nothing on the queue.
        when = datetime.now(UTC) - LOST
        assert (await runtime.ledger.create(finding, now=when)).applied
        await runtime.ledger.transition(finding.key, State.FOUND, State.ANALYZED, now=when)
        await runtime.ledger.transition(finding.key, State.ANALYZED, State.AWAITING_APPROVAL, now=when)
        pk = finding.key.pk
        card = (await state_of(runtime.ledger, finding.key)).decision_id
        broken = DecideDeps(runtime.ledger, runtime.publisher, runtime.queues["execute"].url + "-gone")
        with pytest.raises(ClientError):
            await decide(broken, card, "approve", ALICE, now=when, pk=pk)
        assert (await state_of(runtime.ledger, finding.key)).state is State.APPROVED

        decision = await wait_until_executed(runtime, finding.key, attempts=300)
        stop.set()
        await asyncio.wait_for(workers, 15)

        assert decision is not None and decision.state is State.EXECUTED and decision.get("dry_run") is True
        # Executed once, whatever number of copies the sweeps sent before the claim.
        moves = [(h["from"], h["to"]) for h in decision.get("history")]
        assert moves.count(("APPROVED", "EXECUTING")) == 1 and moves.count(("EXECUTING", "EXECUTED")) == 1
        assert decision.get("approver_name") == ALICE.name
        dlq = await runtime.sqs.receive_message(QueueUrl=runtime.queues["execute"].dlq_url, WaitTimeSeconds=0)
        assert dlq.get("Messages", []) == []
        # The worker's exit cancelled and awaited its sweep.
        assert not [t for t in asyncio.all_tasks() if t.get_name() == "executor:sweep"]


async def test_two_sweeps_at_once_re_drive_a_lost_approval_once(runtime: Runtime) -> None:
    # Two executors sweep the same ledger: the conditional re-drive record lets one of them publish.
    decision = await approved(runtime.ledger, sample_finding(), ago=LOST)
    deps = deps_for(runtime)

    first, second = await asyncio.gather(sweep(deps), sweep(deps))

    assert len(first) + len(second) == 1
    [grant] = await drain(runtime)
    assert grant["payload"]["decision_id"] == decision.decision_id


async def test_a_backlog_defers_every_re_drive_until_it_drains(runtime: Runtime) -> None:
    # As many messages waiting as there are stuck decisions: their approvals may be among them.
    await approved(runtime.ledger, sample_finding("vol-0000000000000000a"), ago=LOST)
    await approved(runtime.ledger, sample_finding("vol-0000000000000000b"), ago=LOST)
    queued = 2

    async def backlog() -> int:
        return queued

    assert await sweep(deps_for(runtime, backlog=backlog)) == []
    assert await drain(runtime) == []
    queued = 1  # fewer messages than stuck decisions: at least one approval is lost
    assert len(await sweep(deps_for(runtime, backlog=backlog))) == 2


async def test_an_executing_decision_whose_claim_expired_long_ago_is_re_driven_once(
    runtime: Runtime,
) -> None:
    ledger = runtime.ledger
    decision = await approved(ledger, sample_finding(), ago=LOST)
    claimed_at = datetime.now(UTC) - timedelta(minutes=3)
    await ledger.transition(
        decision.key,
        State.APPROVED,
        State.EXECUTING,
        fields={"claim_id": "dead", "claim_expires_at": claimed_at + timedelta(seconds=30)},
        now=claimed_at,
    )
    # Expired 2.5 minutes ago: past a 60 s visibility timeout its own message would have resumed it.
    deps = deps_for(runtime, stalled_after=timedelta(seconds=60))
    assert await sweep(dataclasses.replace(deps, stalled_after=timedelta(minutes=5))) == []

    [grant] = await sweep(deps)

    assert grant.decision_id == decision.decision_id
    assert await sweep(deps) == []  # once per recovery window
    [message] = await drain(runtime)
    assert message["payload"]["decision_id"] == decision.decision_id


async def test_an_executing_decision_with_a_live_claim_is_never_re_driven(runtime: Runtime) -> None:
    ledger = runtime.ledger
    decision = await approved(ledger, sample_finding(), ago=LOST)
    now = datetime.now(UTC)
    await ledger.transition(
        decision.key,
        State.APPROVED,
        State.EXECUTING,
        fields={"claim_id": "alive", "claim_expires_at": now + timedelta(seconds=30)},
        now=now,
    )
    assert await sweep(deps_for(runtime, stalled_after=timedelta(0))) == []
    assert await drain(runtime) == []
