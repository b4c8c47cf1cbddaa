"""ResourceAnalyzed in, an approval card on Discord out, and ANALYZED → AWAITING_APPROVAL in the ledger.

Grouping. The notifier sees one message at a time, so the ledger is where a scan's findings of one
account, region and kind meet. The first finding of such a group opens a *window* record
(`notify-group#<group>#<generation>`, write-once) and becomes its leader; every finding tags its ledger
item with the window and returns at once (so hundreds of findings never hold hundreds of consumer
slots). The leader waits for the window (at least `window`, longer while siblings of the same scan
are still being analysed, at most `max_wait`), then writes a write-once *closed* marker, reads the
tagged items and posts one group card above the threshold, or one card each below it. A finding that
arrives after the marker opens the next generation. Ordering makes this exact: a follower tags itself
*before* it checks the marker, the leader writes the marker *before* it reads the members.

Idempotency. A decision that is no longer ANALYZED has been announced: a redelivery posts nothing. A
card is recorded (`card#<id>`, write-once) right after it is posted and reused on a retry; posts also
carry a Discord nonce, so a crash between posting and recording does not produce a second card. A
crashed leader's message comes back and it resumes its window (it is named in the window record).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from services.notifier import card_buttons, cards
from services.notifier.decide import CARD_PREFIX
from shared.config import default
from shared.discord import MessageSink
from shared.errors import PermanentError, TransientError
from shared.events import (
    EVENT_NAMESPACE,
    Analysis,
    CostEstimate,
    Envelope,
    Finding,
    ResourceAnalyzed,
    utcnow,
)
from shared.ledger import Attr, Decision, Ledger, State

log = structlog.get_logger("cloudthrift.notifier")
WINDOW_PREFIX = "notify-group#"
_MAX_GROUP = 500


@dataclass(frozen=True)
class GroupPolicy:
    threshold: int = default("cloudthrift_group_threshold")  # more in one group: one card; 0: never
    window: float = default("cloudthrift_group_window_seconds")
    max_wait: float = default("cloudthrift_group_max_wait_seconds")
    settle: float = 0.5  # lets the state index catch up with the last tags before reading it
    poll: float = 0.5


@dataclass(frozen=True)
class NotifierDeps:
    ledger: Ledger
    sink: MessageSink
    channel_id: str
    policy: GroupPolicy = GroupPolicy()
    snooze_days: int = 30
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # The trace context of the message being handled, stored with the decision so the approval click
    # (hours later, another service) continues the finding's trace.
    trace_fields: Callable[[], Mapping[str, str]] = dict
    # What an approval will do now (shared/executor_status.py), shown on each card; None: say nothing.
    executor_status: Callable[[], Awaitable[str | None]] | None = None


def group_of(finding: Finding) -> str:
    raw = f"{finding.scan_id}|{finding.key.account_id}|{finding.key.region}|{finding.kind}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


async def handle_analyzed(event: Envelope[ResourceAnalyzed], deps: NotifierDeps) -> list[ResourceAnalyzed]:
    finding, analysis = event.payload.finding, event.payload.analysis
    decision = await deps.ledger.get(finding.key)
    if decision is None:
        raise PermanentError(f"no ledger item for {finding.key.pk}: the scanner records it first")
    if decision.state is not State.ANALYZED:
        log.info("notify.already_announced", pk=decision.pk, state=decision.state.value)
        return []
    analysed = decision.get(Attr.ANALYSIS_FINGERPRINT)
    if analysed and analysed != finding.fingerprint:
        # An older scan's event arriving late: the analyzer has since analysed newer facts, whose own
        # event announces them. The card must show what the approval will bind to.
        log.info("notify.stale_event", pk=decision.pk)
        return []
    if deps.policy.threshold == 0:
        tagged = await _tag(deps, decision, finding, analysis, window="")
        if tagged is not None:
            await post_cards(deps, [tagged], group_window=None)
        return []
    group = group_of(finding)
    generation = 0
    while True:
        window = f"{WINDOW_PREFIX}{group}#{generation}"
        now = deps.clock()
        opened = await deps.ledger.put_record(
            window,
            {
                "record": "notify-group",
                "leader": decision.pk,
                "opened_at": now,
                "scan_id": finding.scan_id,
                "account_id": finding.key.account_id,
                "region": finding.key.region,
                "kind": finding.kind,
            },
        )
        record = None if opened else await deps.ledger.get(window)
        leader = decision.pk if record is None else record.get("leader")
        tagged = await _tag(deps, decision, finding, analysis, window=window)
        if tagged is None:
            return []  # announced meanwhile
        if leader == decision.pk:
            opened_at = now if record is None else (record.time("opened_at") or now)
            await _lead(deps, tagged, window, opened_at)
            return []
        if await deps.ledger.get(window + "#closed") is None:
            log.info("notify.joined_group", window=window)
            return []  # the leader has not read its members yet: it will include this one
        # Closed: the leader may still have read this decision (tagged before it read); wait until it
        # is done (it records itself last) rather than open a second card for what it will announce.
        if await _announced_by_leader(deps, str(leader), decision.pk):
            return []
        generation += 1


async def _announced_by_leader(deps: NotifierDeps, leader_pk: str, pk: str) -> bool:
    deadline = deps.clock() + timedelta(seconds=deps.policy.max_wait + 30)
    while True:
        leader = await deps.ledger.get(leader_pk)
        me = await deps.ledger.get(pk)
        if me is None or me.state is not State.ANALYZED:
            return True
        if leader is None or leader.state is not State.ANALYZED:
            return False  # the leader is done and did not take this one: next window
        if deps.clock() > deadline:
            raise TransientError(f"the leader of {pk}'s group card has not finished; retry later")
        await deps.sleep(deps.policy.poll)


async def _tag(
    deps: NotifierDeps, decision: Decision, finding: Finding, analysis: Analysis, *, window: str
) -> Decision | None:
    """Join a window, and keep what the card will show as what an approval binds to."""
    result = await deps.ledger.transition(
        decision.pk,
        State.ANALYZED,
        State.ANALYZED,
        fields={
            "notify_group": window,
            "finding": finding,
            "analysis": analysis,
            "fingerprint": finding.fingerprint,
            **deps.trace_fields(),
        },
        actor="notifier",
        note=f"waiting in {window}" if window else None,
        now=deps.clock(),
        expected_decision_id=decision.decision_id,
    )
    return result.current if result.applied else None


async def _lead(deps: NotifierDeps, leader: Decision, window: str, opened_at: datetime) -> None:
    policy = deps.policy
    await _sleep_until(deps, opened_at + timedelta(seconds=policy.window))
    finding = leader.finding
    while deps.clock() < opened_at + timedelta(seconds=policy.max_wait) and await _siblings_pending(
        deps.ledger, finding, window
    ):
        await deps.sleep(policy.poll)
    await deps.ledger.put_record(window + "#closed", {"record": "notify-group-closed", "at": deps.clock()})
    await deps.sleep(policy.settle)
    members = {
        d.pk: d async for d in deps.ledger.by_state(State.ANALYZED) if d.get(Attr.NOTIFY_GROUP) == window
    }
    me = await deps.ledger.get(leader.pk)
    if me is not None and me.state is State.ANALYZED:
        members[me.pk] = me
    # The leader goes last: if it is announced, its whole window was, which is what a redelivery checks.
    ordered = sorted(members.values(), key=lambda d: (d.pk == leader.pk, d.pk))
    log.info("notify.window_closed", window=window, members=len(ordered), threshold=policy.threshold)
    await post_cards(deps, ordered, group_window=window if len(ordered) > policy.threshold else None)


async def _siblings_pending(ledger: Ledger, finding: Finding, window: str) -> bool:
    """Findings of the same scan and group still on their way (not analysed, or not yet tagged)."""
    wanted = ("account_id", "region", "kind", "notify_group", "finding")  # not the history nor analysis
    for state in (State.FOUND, State.ANALYZED):
        async for d in ledger.by_state(state, attributes=wanted):
            same = (d.get(Attr.ACCOUNT_ID), d.get(Attr.REGION), d.get(Attr.KIND)) == (
                finding.key.account_id,
                finding.key.region,
                finding.kind,
            )
            if not same or d.get(Attr.NOTIFY_GROUP) == window or "finding" not in d.attrs:
                continue
            if d.finding.scan_id == finding.scan_id:
                return True
    return False


async def _sleep_until(deps: NotifierDeps, moment: datetime) -> None:
    delay = (moment - deps.clock()).total_seconds()
    if delay > 0:
        await deps.sleep(delay)


async def post_cards(deps: NotifierDeps, members: Sequence[Decision], *, group_window: str | None) -> None:
    """One group card for all `members`, or one card each; then record each as AWAITING_APPROVAL.

    A member whose default clean-up would lose money (its safety snapshot costs more than it saves),
    or that is offered no clean-up (a protected load balancer), is never a group member: Approve all
    must not include it. It gets its own card (its priced choices, or no Approve), and the group card
    lists it. The last member (the leader's own decision) stays last."""
    status = await deps.executor_status() if deps.executor_status else None
    if group_window is not None:
        apart = [d for d in members if _on_its_own(d.finding.cost)]
        together = [d for d in members if not _on_its_own(d.finding.cost)]
        leader = members[-1] if members and any(d is members[-1] for d in apart) else None
        await _single_cards(deps, [d for d in apart if d is not leader], status)
        # A ledger item holds at most 400 KB: very large groups are split over several group cards.
        for start in range(0, len(together), _MAX_GROUP):
            chunk = together[start : start + _MAX_GROUP]
            card_id = str(uuid.uuid5(EVENT_NAMESPACE, f"{group_window}#{start}"))
            payload = cards.group_card(
                [(d.finding, d.analysis) for d in chunk],
                card_id,
                snooze_days=deps.snooze_days,
                apart=[d.finding for d in apart] if start == 0 else (),
            )
            payload = cards.with_executor_status(payload, status)
            await _post(deps, card_id, payload, chunk, group=True)
        await _single_cards(deps, [leader] if leader is not None else [], status)
        return
    await _single_cards(deps, members, status)


def _on_its_own(cost: CostEstimate) -> bool:
    """Never in a group card's Approve all: a clean-up that loses money by default, or none offered."""
    return cost.loses_money or not cost.offers_remedy


async def _single_cards(deps: NotifierDeps, members: Sequence[Decision], status: str | None) -> None:
    for decision in members:
        analysis = decision.analysis
        if analysis is None:
            raise PermanentError(f"{decision.pk} has no analysis recorded")
        payload = cards.single_card(
            decision.finding, analysis, decision.decision_id, now=deps.clock(), snooze_days=deps.snooze_days
        )
        payload = cards.with_executor_status(payload, status)
        await _post(deps, decision.decision_id, payload, [decision], group=False)


async def _post(
    deps: NotifierDeps, card_id: str, payload: dict, members: Sequence[Decision], *, group: bool
) -> None:
    existing = await deps.ledger.get(CARD_PREFIX + card_id)
    if existing is not None:
        channel_id, message_id = existing.get(Attr.CHANNEL_ID), existing.get(Attr.MESSAGE_ID)
    else:
        channel_id = deps.channel_id
        message_id = await deps.sink.post_message(
            channel_id, payload | {"nonce": card_buttons.nonce(card_id), "enforce_nonce": True}
        )
        await deps.ledger.put_record(
            CARD_PREFIX + card_id,
            {
                "record": "card",
                "group": group,
                "channel_id": channel_id,
                "message_id": message_id,
                "members": [d.pk for d in members],
                "decision_ids": [d.decision_id for d in members],
                # The executor's tally of outcomes (services/executor/group_card.py) counts against it.
                "member_count": len(members),
                "posted_at": deps.clock(),
            },
        )
    now = deps.clock()
    gate = asyncio.Semaphore(16)

    async def record(decision: Decision) -> None:
        async with gate:
            result = await deps.ledger.transition(
                decision.pk,
                State.ANALYZED,
                State.AWAITING_APPROVAL,
                fields={
                    "channel_id": channel_id,
                    "message_id": message_id,
                    "card_id": card_id,
                    "posted_at": now,
                },
                actor="notifier",
                now=now,
                expected_decision_id=decision.decision_id,
            )
        if not result.applied:
            log.info("notify.lost_race", pk=decision.pk)

    # The leader's own decision (last) is recorded after the others: see `_lead`.
    await asyncio.gather(*(record(d) for d in members[:-1]))
    await record(members[-1])
    log.info("notify.card_posted", card_id=card_id, group=group, members=len(members), message_id=message_id)
