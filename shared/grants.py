"""ApprovalGranted built from the ledger, and published inside the trace stored with its decision.

Two places send an approval to the executor: the click (services/notifier/decide.py) and the executor's
sweep for approvals whose event was lost (services/executor/sweep.py). Both build the event here, so a
re-published approval is the same event as the first one (same deterministic id, same approver and
time, as the ledger recorded the click), and both agree on when an approval counts as lost.

Re-drives are bookkept here too: a decision records when it was last re-driven and how often
(`redriven_at`, `redrives`, by a conditional write), so it is re-driven at most once per recovery
window with a doubling back-off, and the messages published for it are counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.config import default
from shared.events import ApprovalGranted, Approver, Envelope, Payload
from shared.ledger import Attr, Decision, Ledger, State
from shared.telemetry import TRACE_CONTEXT_FIELD
from shared.telemetry.tracing import Tracing

# CLOUDTHRIFT_APPROVAL_RECOVER_SECONDS's default, for callers built without the settings: one value.
RECOVER_AFTER = timedelta(seconds=default("cloudthrift_approval_recover_seconds"))
_PARALLEL = 16


class GrantPublisher(Protocol):
    """shared/publisher.py's `Publisher`; `attributes` (the trace context) is passed only with tracing on."""

    async def publish(
        self,
        queue_url: str,
        payloads: Sequence[Payload],
        *,
        attributes: Mapping[str, Mapping[str, str]] | None = None,
    ) -> list[Envelope[Any]]: ...


def grant_for(
    decision: Decision, approver: Approver | None = None, approved_at: datetime | None = None
) -> ApprovalGranted:
    """The approval of `decision`; without `approver` / `approved_at`, the ones the ledger recorded."""
    finding = decision.finding
    if approver is None:
        approver = Approver.model_validate_json(decision.get(Attr.APPROVER))
    when = approved_at or approved_time(decision)
    if when is None:
        raise ValueError(f"decision {decision.decision_id} records no approval time")
    return ApprovalGranted(
        decision_id=decision.decision_id,
        key=decision.key,
        approver=approver,
        approved_at=when,
        finding=finding,
        fingerprint=decision.get(Attr.FINGERPRINT) or finding.fingerprint,
        remedy=decision.get(Attr.REMEDY) or None,
    )


def approved_time(decision: Decision) -> datetime | None:
    """When it was approved; `updated_at` stands in (an APPROVED item changes only on approval)."""
    return decision.time(Attr.APPROVED_AT) or decision.time(Attr.UPDATED_AT)


def is_lost(decision: Decision, now: datetime, recover_after: timedelta) -> bool:
    """Still APPROVED `recover_after` after the click: the executor never claimed it, its event is lost.

    `recover_after` is far above normal execute latency, so a merely backlogged executor rarely gets
    a duplicate; one that does ignores it (deterministic event id, conditional claim).
    """
    approved_at = approved_time(decision)
    return decision.state is State.APPROVED and approved_at is not None and now - approved_at >= recover_after


def is_stalled(decision: Decision, now: datetime, grace: timedelta) -> bool:
    """EXECUTING, its claim expired at least `grace` ago, and nobody took it again.

    A dead delivery's own message comes back within the visibility timeout and resumes it (a new
    claim); with `grace` that long, a claim still expired means that message is gone (acknowledged as
    a duplicate, or dead-lettered), and only a re-drive finishes the work.
    """
    if decision.state is not State.EXECUTING:
        return False
    expires = decision.time(Attr.CLAIM_EXPIRES_AT)
    return expires is None or now - expires >= grace


def redrive_due(decision: Decision, now: datetime, window: timedelta) -> bool:
    """Re-driven at most once per `window`, and each further time after twice as long as the last:
    one decision's messages stay few (1 click + a handful), whatever the backlog or the sweep rate."""
    last = decision.time("redriven_at")
    if last is None:
        return True
    count = max(int(decision.get("redrives") or 1), 1)
    return now - last >= window * 2 ** min(count - 1, 16)


async def mark_redriven(ledger: Ledger, decision: Decision, now: datetime) -> bool:
    """Record a re-drive on the decision, conditionally on nothing having changed since it was read.

    Two sweeps (two executors) that read the same stuck decision both try; one wins and publishes.
    A decision claimed, renewed or finished since it was read is no longer stuck: the write fails.
    """
    names = {"#state": "state"}
    values: dict[str, Any] = {
        ":state": decision.state.value,
        ":decision_id": decision.decision_id,
        ":now": now,
        ":one": 1,
    }
    condition = "#state = :state AND decision_id = :decision_id"
    last = decision.get("redriven_at")
    if last is None:
        condition += " AND attribute_not_exists(redriven_at)"
    else:
        condition += " AND redriven_at = :last"
        values[":last"] = last
    expires = decision.get(Attr.CLAIM_EXPIRES_AT)
    if decision.state is State.EXECUTING:
        if expires is None:
            condition += " AND attribute_not_exists(claim_expires_at)"
        else:
            condition += " AND claim_expires_at = :expires"
            values[":expires"] = expires
    return await ledger.update_if(
        decision.pk,
        update="SET redriven_at = :now ADD redrives :one",
        condition=condition,
        names=names,
        values=values,
    )


def messages_published(decision: Decision) -> int:
    """Approval messages ever published for this decision: the click's, plus one per re-drive."""
    return 1 + int(decision.get("redrives") or 0)


async def publish_grants(
    publisher: GrantPublisher,
    queue_url: str,
    grants: Sequence[ApprovalGranted],
    decisions: Mapping[str, Decision],
    *,
    tracing: Tracing | None,
    span: str,
    resource: str,
    announce: Callable[[ApprovalGranted], None] | None = None,
) -> None:
    """Publish the approvals; `announce` logs each once it is sent.

    With tracing on, each is sent inside a span that continues its decision's stored trace
    (`decisions` by decision id), so the click or sweep and the execution join the trace that started
    with the scan, and `announce`'s line carries that trace's ids.
    """
    if tracing is None or not tracing.enabled:
        await publisher.publish(queue_url, grants)
        for grant in grants:
            if announce is not None:
                announce(grant)
        return
    gate = asyncio.Semaphore(_PARALLEL)

    async def one(grant: ApprovalGranted) -> None:
        carrier = decisions[grant.decision_id].get(TRACE_CONTEXT_FIELD)
        async with gate:
            with tracing.resume(carrier, span, resource=resource):
                await publisher.publish(queue_url, [grant], attributes=tracing.message_attributes())
                if announce is not None:
                    announce(grant)

    await asyncio.gather(*(one(grant) for grant in grants))
