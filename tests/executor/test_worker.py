"""The executor worker as `cloudthrift worker executor` runs it: the execute queue, the runtime, moto."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from services.executor.main import WORKER, execution_policy
from services.workers import available_workers
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.ledger import State
from shared.worker import open_runtime, run_workers
from tests.executor.helpers import (
    approve,
    idle_volume,
    observe,
    snapshots_of,
    volume_exists,
    wait_until_executed,
)


def test_the_executor_is_a_registered_worker() -> None:
    assert available_workers()["executor"] is WORKER
    assert (WORKER.input, WORKER.output) == ("execute", None)


def test_the_policy_comes_from_the_settings(make_settings) -> None:
    policy = execution_policy(
        make_settings(
            cloudthrift_dry_run=False,
            cloudthrift_snapshot_before_delete=False,
            cloudthrift_visibility_timeout=45,
            cloudthrift_claim_ttl_seconds=20,
            cloudthrift_snapshot_wait_seconds=120,
            cloudthrift_optout_tag="keep-me",
        )
    )
    assert (policy.dry_run, policy.snapshot_before_delete, policy.optout_tag) == (False, False, "keep-me")
    # The claim has its own lifetime, independent of the visibility timeout.
    assert policy.claim_ttl == timedelta(seconds=20) and policy.snapshot_wait_seconds == 120
    assert execution_policy(make_settings()).dry_run is True  # dry run until the user turns it off


async def test_an_approval_on_the_queue_is_executed_as_a_dry_run_by_default(
    make_settings, botocore_session
) -> None:
    settings = make_settings()
    dry_run = True
    async with AwsClients(settings, session=botocore_session) as aws:
        await bootstrap(settings, aws)
    async with open_runtime(settings) as runtime:
        ec2 = await runtime.aws.client("ec2")
        volume_id = await idle_volume(ec2)
        finding = await observe(ec2, "ebs-volume", volume_id)
        event = await approve(runtime.ledger, finding)
        await runtime.publisher.publish(runtime.queues["execute"].url, [event])

        stop = asyncio.Event()
        workers = asyncio.create_task(run_workers(runtime, [WORKER], stop=stop))
        decision = await wait_until_executed(runtime, finding.key, attempts=200)
        stop.set()
        await asyncio.wait_for(workers, 15)

        assert decision is not None and decision.state is State.EXECUTED
        assert decision.get("dry_run") is dry_run
        assert await volume_exists(ec2, volume_id) is dry_run
        assert len(await snapshots_of(ec2, volume_id)) == (0 if dry_run else 1)
        dlq = await runtime.sqs.receive_message(QueueUrl=runtime.queues["execute"].dlq_url, WaitTimeSeconds=0)
        assert dlq.get("Messages", []) == []


async def _counted_after_execution(settings, botocore_session) -> object:  # type: ignore[no-untyped-def]
    """Run the executor worker on one real clean-up, let its sweeps run a while (at least ten approval
    sweeps); the clean-up's `avoided_counted_at` then (set by the money sweep), or None."""
    async with AwsClients(settings, session=botocore_session) as aws:
        await bootstrap(settings, aws)
    async with open_runtime(settings) as runtime:
        ec2 = await runtime.aws.client("ec2")
        finding = await observe(ec2, "ebs-volume", await idle_volume(ec2))
        event = await approve(runtime.ledger, finding)
        await runtime.publisher.publish(runtime.queues["execute"].url, [event])
        stop = asyncio.Event()
        workers = asyncio.create_task(run_workers(runtime, [WORKER], stop=stop))
        decision = await wait_until_executed(runtime, finding.key, attempts=300)
        assert decision is not None and decision.state is State.EXECUTED
        for _ in range(100):
            await asyncio.sleep(0.1)
            counted = (await runtime.ledger.get(finding.key)).get("avoided_counted_at")  # type: ignore[union-attr]
            if counted is not None:
                break
        stop.set()
        await asyncio.wait_for(workers, 15)
        return counted


async def test_the_money_sweep_keeps_its_own_cadence_apart_from_the_approval_sweep(
    make_settings, botocore_session
) -> None:
    """A money pass writes once per clean-up: at the approval sweep's short cadence (issue 20's bench
    ran it every 10 s) that was most of the ledger's writes. It runs at CLOUDTHRIFT_MONEY_SWEEP_SECONDS."""
    fast_approvals = {"cloudthrift_dry_run": False, "cloudthrift_approval_sweep_seconds": 0.1}
    hourly = make_settings(**fast_approvals)
    assert await _counted_after_execution(hourly, botocore_session) is None
    often = make_settings(**fast_approvals, cloudthrift_money_sweep_seconds=0.1)
    assert await _counted_after_execution(often, botocore_session) is not None
