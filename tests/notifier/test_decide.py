"""Deciding a card counts the human's answer in Datadog, once per decision actually moved, and sends an
approval whose event was lost again, past the threshold the executor's sweep uses too."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from services.executor.sweep import SweepDeps
from services.notifier.decide import DecideDeps, decide
from shared.config import Settings
from shared.events import Approver
from shared.grants import RECOVER_AFTER
from shared.ledger import State
from shared.telemetry.metrics import MemoryMetrics
from shared.worker import Runtime
from tests.notifier.helpers import drain
from tests.shared.factories import finding


async def test_an_approval_is_counted_once_even_when_clicked_twice(runtime: Runtime) -> None:
    metrics = MemoryMetrics()
    deps = DecideDeps(runtime.ledger, runtime.publisher, runtime.queues["execute"].url, metrics=metrics)
    f = finding()
    created = await runtime.ledger.create(f)
    await runtime.ledger.transition(f.key, State.FOUND, State.ANALYZED)
    await runtime.ledger.transition(f.key, State.ANALYZED, State.AWAITING_APPROVAL)
    ana = Approver(id="42", name="ana", via="discord")
    for _ in range(2):
        await decide(deps, created.current.decision_id, "approve", ana, now=datetime.now(UTC), pk=f.key.pk)

    assert metrics.values("cloudthrift.approvals", decision="approved", via="discord", kind="ebs-volume") == [
        1
    ]
    assert (await runtime.ledger.get(f.key)).state is State.APPROVED


async def test_a_later_click_sends_a_lost_approval_again_only_past_the_shared_threshold(
    runtime: Runtime,
) -> None:
    metrics = MemoryMetrics()
    url = runtime.queues["execute"].url
    deps = DecideDeps(
        runtime.ledger, runtime.publisher, url, metrics=metrics, recover_after=timedelta(minutes=10)
    )
    f = finding()
    created = await runtime.ledger.create(f)
    await runtime.ledger.transition(f.key, State.FOUND, State.ANALYZED)
    await runtime.ledger.transition(f.key, State.ANALYZED, State.AWAITING_APPROVAL)
    ana, bob = Approver(id="42", name="ana", via="discord"), Approver(id="43", name="bob", via="discord")
    decision_id, t0 = created.current.decision_id, datetime.now(UTC) - timedelta(minutes=30)
    # Ana's click is recorded, but SQS refuses the publish: APPROVED, nothing on the queue.
    with pytest.raises(ClientError):
        await decide(
            replace(deps, execute_url=url + "-gone"), decision_id, "approve", ana, now=t0, pk=f.key.pk
        )

    # Five minutes on, younger than the threshold: a double click, nothing is sent.
    early = await decide(deps, decision_id, "approve", bob, now=t0 + timedelta(minutes=5), pk=f.key.pk)
    assert early.published == 0 and await drain(runtime) == []
    # Past it: the executor never claimed it, so the click sends Ana's approval again.
    late = await decide(deps, decision_id, "approve", bob, now=t0 + timedelta(minutes=11), pk=f.key.pk)
    assert late.published == 1
    [grant] = await drain(runtime)
    assert grant["payload"]["decision_id"] == decision_id and grant["payload"]["approver"]["name"] == "ana"
    assert datetime.fromisoformat(grant["payload"]["approved_at"]) == t0
    assert metrics.values("cloudthrift.approvals.republished", by="click", kind="ebs-volume") == [1]
    # Recorded as a re-drive: a third click within the recovery window sends nothing more (issue 20).
    again = await decide(deps, decision_id, "approve", bob, now=t0 + timedelta(minutes=12), pk=f.key.pk)
    assert again.published == 0 and await drain(runtime) == []
    assert (await runtime.ledger.get(f.key)).get("redrives") == 1


def test_the_click_and_the_sweep_share_one_default_threshold() -> None:
    default = Settings.model_fields["cloudthrift_approval_recover_seconds"].default
    assert DecideDeps(None, None, "").recover_after == timedelta(seconds=default) == RECOVER_AFTER  # type: ignore[arg-type]
    assert SweepDeps(None, None, "").recover_after == RECOVER_AFTER  # type: ignore[arg-type]
