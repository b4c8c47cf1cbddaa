"""Deciding a card counts the human's answer in Datadog, once per decision actually moved."""

from __future__ import annotations

from datetime import UTC, datetime

from services.notifier.decide import DecideDeps, decide
from shared.events import Approver
from shared.ledger import State
from shared.telemetry.metrics import MemoryMetrics
from shared.worker import Runtime
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
