"""What the ledger says about each sighting: record first sightings, announce only what a human has
not already got, start a new cycle for a resource idle again, and reset the idle clock of one seen busy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from shared.events import Finding
from shared.ledger import Attr, Decision, Ledger, State, decision_id_for

log = structlog.get_logger("cloudthrift.scanner")

# States in which a new sighting must not produce a new announcement.
# FOUND is re-announced (its ResourceFound may have been lost with a failed scan attempt); from ANALYZED
# on, a later stage owns the decision and its own retries carry it further.
_QUIET = {
    State.ANALYZED,
    State.AWAITING_APPROVAL,
    State.REJECTED,
    State.APPROVED,
    State.EXECUTING,
    State.FAILED,
}


@dataclass
class Gated:
    announce: list[Finding] = field(default_factory=list)
    quiet: int = 0  # already with a human, decided, or being cleaned up
    idle_too_briefly: int = 0


async def gate(
    findings: list[Finding],
    ledger: Ledger,
    now: datetime,
    min_idle: timedelta,
    unknown_age: Callable[[Finding], timedelta] | None = None,
) -> Gated:
    """Record first sightings, and keep only the findings that should be announced now.

    A resource whose age AWS does not say (a stopped instance whose StateTransitionReason cannot be
    read) is held until the ledger has seen it idle for `unknown_age(finding)`: its check's own
    minimum age counts from the first sighting instead."""
    known = await ledger.get_many(finding.key for finding in findings)
    new = [finding for finding in findings if finding.key.pk not in known]
    for result in await ledger.create_many(new, now=now):
        if result.current is not None:
            known[result.current.pk] = result.current
    gated = Gated()
    for finding in findings:
        decision = known.get(finding.key.pk)
        if decision is None:
            continue
        if decision.state in (State.SNOOZED, State.SKIPPED, State.EXECUTED):
            decision = await _maybe_new_cycle(ledger, decision, finding, now)
            if decision is None:
                gated.quiet += 1
                continue
        if decision.state in _QUIET:
            gated.quiet += 1
            continue
        idle_since = decision.time(Attr.IDLE_SINCE) or now
        required = min_idle
        if finding.created_at is None and unknown_age is not None:
            required = max(min_idle, unknown_age(finding))
        if now - idle_since < required:
            gated.idle_too_briefly += 1
            continue
        gated.announce.append(finding.model_copy(update={Attr.IDLE_SINCE: idle_since}))
    return gated


async def _maybe_new_cycle(
    ledger: Ledger, decision: Decision, finding: Finding, now: datetime
) -> Decision | None:
    """Start a new decision for a resource that is idle again after a snooze, a skip or a dry run."""
    if decision.state is State.SNOOZED:
        until = decision.time(Attr.SNOOZED_UNTIL)
        if until is not None and until > now:
            return None
    if decision.state is State.EXECUTED and not decision.get(Attr.DRY_RUN, False):
        log.warning("scan.executed_resource_still_idle", pk=decision.pk)
        return None
    cycle = decision.cycle + 1
    result = await ledger.transition(
        decision.pk,
        decision.state,
        State.FOUND,
        fields={
            Attr.CYCLE: cycle,
            Attr.DECISION_ID: decision_id_for(finding.key, cycle),
            Attr.IDLE_SINCE: (decision.time(Attr.IDLE_SINCE) if decision.state is State.SNOOZED else now)
            or now,
            Attr.FINDING: finding,
            Attr.FINGERPRINT: finding.fingerprint,
            Attr.MONTHLY_COST_USD: finding.cost.monthly_usd,
            Attr.NET_MONTHLY_SAVING_USD: finding.cost.net_monthly_saving_usd,
        }
        | ({Attr.WITHHELD: finding.cost.withheld} if finding.cost.withheld else {}),
        remove=() if finding.cost.withheld else (Attr.WITHHELD,),
        actor="scanner",
        note=f"idle again: new cycle {cycle}",
        now=now,
        expected_decision_id=decision.decision_id,
    )
    return result.current if result.applied else None


async def found_before(ledger: Ledger, account_id: str) -> list[Decision]:
    """The account's FOUND decisions, as the scan starts: read while its regions list (the by-state
    index is one Query, seconds on the emulator), for `forget_busy` at its end. Reading them before the
    scan's own first sightings changes nothing: those are all idle, and a decision that left FOUND
    meanwhile is not reset (the reset is conditional)."""
    # Only the fields read below: every FOUND finding's JSON would otherwise cross the wire each scan.
    fields = (Attr.ACCOUNT_ID, Attr.REGION, Attr.KIND, Attr.CHECK, Attr.IDLE_SINCE)
    return [d async for d in ledger.by_state(State.FOUND, attributes=fields, account_id=account_id)]


async def forget_busy(
    ledger: Ledger,
    found: Sequence[Decision],
    account_id: str,
    checked: set[tuple[str, str, str]],
    idle_pks: set[str],
) -> None:
    """A FOUND resource not seen idle by its check in a complete scan of its region is busy again:
    reset its clock. `found` is `found_before`; `checked` holds the (region, kind, check) triples the
    scan covered."""
    for decision in found:
        if decision.get(Attr.ACCOUNT_ID) != account_id or decision.pk in idle_pks:
            continue
        if (decision.get(Attr.REGION), decision.get(Attr.KIND), decision.get(Attr.CHECK)) not in checked:
            continue
        if await ledger.forget(decision.pk, expected=State.FOUND, idle_since=decision.get(Attr.IDLE_SINCE)):
            log.info("scan.idle_clock_reset", pk=decision.pk)
