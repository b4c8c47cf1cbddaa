"""The money sweeps: safety snapshots expire, and the cost avoided is counted to Datadog, once each.

Retention. A safety snapshot is insurance for the weeks after a clean-up; kept forever it bills
forever, and the decision's net saving never becomes its gross one. Once CLOUDTHRIFT_SAFETY_SNAPSHOT_DAYS
have passed since execution, the sweep deletes it and records it, exactly once:

1. a notice goes out `notice_before` ahead (Discord, in the card's channel, or the console), once: a
   conditional write (`snapshot_notice_at` absent) decides which sweep sends it;
2. a snapshot tagged `cloudthrift:keep` is never expired (the tag is read from AWS at every pass, so
   adding it before the date is enough);
3. a conditional write claims the expiry (`snapshot_expiry_claim`, re-claimable once stale after a
   crash); only the winner deletes the snapshot, and its own claim conditions the record: the net
   saving becomes the gross one (`net_before_expiry_usd` keeps what it was).

Savings to date. Datadog sums a count over whatever window a dashboard shows; a gauge of "avoided to
date" would reset with it. Each pass adds, per real clean-up, the cost avoided since the instant it last
counted (`avoided_counted_at`), after recording that instant with a conditional write on the previous
one: of two sweeps, one counts each interval. The rate follows the decision (net, then gross after
expiry) and stops at `restore_requested_at` (an undo).

`sweep_money_once` runs both: what a scheduled function (a Lambda) calls; the executor calls it
periodically beside the approval sweep.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import structlog

from services.executor.accrual import accruals_of, avoided_between
from services.executor.savings import CLEANED_UP
from shared.aws import ClientFactory, RegionClients, is_error
from shared.events import utcnow
from shared.ledger import Attr, Decision, Ledger, State
from shared.telemetry.metrics import Metrics, NullMetrics

log = structlog.get_logger("cloudthrift.executor.retention")

KEEP_TAG = "cloudthrift:keep"
AVOIDED_METRIC = "cloudthrift.cost_avoided.usd"
_GONE = ("InvalidSnapshot.NotFound",)
_FIELDS = (
    "decision_id",
    "kind",
    "account_id",
    "region",
    "executed_at",
    "dry_run",
    "snapshot_id",
    "snapshot_notice_at",
    "snapshot_expired_at",
    "realised_monthly_saving_usd",
    "gross_monthly_saving_usd",
    "net_before_expiry_usd",
    "restore_requested_at",
    "restored_at",
    "updated_at",
    "avoided_counted_at",
    "channel_id",
)


class Poster(Protocol):
    """Discord's REST client or the console (shared/discord.py): where a notice is posted."""

    async def post_message(self, channel_id: str, payload: Mapping[str, Any]) -> Any: ...


@dataclass(frozen=True)
class MoneyDeps:
    aws: ClientFactory
    ledger: Ledger
    poster: Poster
    keep_for: timedelta  # CLOUDTHRIFT_SAFETY_SNAPSHOT_DAYS
    notice_before: timedelta = timedelta(days=3)
    channel_id: str = "console"  # for a decision whose card is not known
    claim_stale_after: timedelta = timedelta(minutes=15)
    metrics: Metrics = field(default_factory=NullMetrics)
    clock: Callable[[], datetime] = utcnow


@dataclass
class MoneySweep:
    """What one pass did: decision ids noticed, expired, kept by tag; dollars counted to Datadog."""

    noticed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    counted_usd: Decimal = Decimal(0)


async def sweep_money_once(deps: MoneyDeps) -> MoneySweep:
    """One pass of both sweeps over the real clean-ups: retention first, then the count."""
    result = MoneySweep()
    now = deps.clock()
    async for decision in deps.ledger.by_state(State.EXECUTED, attributes=_FIELDS):
        if decision.get(Attr.DRY_RUN) or not decision.get(Attr.SNAPSHOT_ID):
            continue
        if decision.get("snapshot_expired_at"):
            continue
        await _retain(deps, decision, now, result)
    for state in CLEANED_UP:
        async for decision in deps.ledger.by_state(State(state), attributes=_FIELDS):
            if not decision.get(Attr.DRY_RUN):
                result.counted_usd += await _count(deps, decision, now)
    return result


async def run_money_sweeps(deps: MoneyDeps, every: float) -> None:
    """`sweep_money_once` now and every `every` seconds until cancelled; a failed pass is logged and
    the next one retries (every write is conditional, so a pass cut short is simply redone)."""
    while True:
        try:
            await sweep_money_once(deps)
        except Exception as exc:
            log.warning("retention.sweep_failed", error=f"{type(exc).__name__}: {exc}", exc_info=True)
        await asyncio.sleep(every)


async def _retain(deps: MoneyDeps, decision: Decision, now: datetime, result: MoneySweep) -> None:
    executed_at = decision.time(Attr.EXECUTED_AT)
    if executed_at is None:
        return
    due = executed_at + deps.keep_for
    if now < due - deps.notice_before:
        return
    snapshot_id = str(decision.get(Attr.SNAPSHOT_ID))
    full = await deps.ledger.get(decision.pk)
    if full is None or full.state is not State.EXECUTED:
        return
    ec2 = await RegionClients(deps.aws, full.key.region, full.finding.role_arn)("ec2")
    tags = await _tags(ec2, snapshot_id)
    if tags is not None and KEEP_TAG in tags:
        result.kept.append(full.decision_id)
        return
    if not decision.get("snapshot_notice_at") and await _notice(deps, full, snapshot_id, due, now):
        result.noticed.append(full.decision_id)
    if now >= due and await _expire(deps, full, ec2, snapshot_id, now, gone=tags is None):
        result.expired.append(full.decision_id)


async def _tags(ec2: Any, snapshot_id: str) -> dict[str, str] | None:
    """The snapshot's tags, or None when it no longer exists."""
    try:
        answer = await ec2.describe_snapshots(SnapshotIds=[snapshot_id])
    except Exception as exc:
        if is_error(exc, *_GONE):
            return None
        raise
    snapshots = answer.get("Snapshots") or []
    if not snapshots:
        return None
    return {tag["Key"]: tag.get("Value", "") for tag in snapshots[0].get("Tags", []) or []}


async def _notice(
    deps: MoneyDeps, decision: Decision, snapshot_id: str, due: datetime, now: datetime
) -> bool:
    """Say, once, that the snapshot will be deleted and how to keep it."""
    won = await deps.ledger.update_if(
        decision.pk,
        update="SET snapshot_notice_at = :now",
        condition="attribute_not_exists(snapshot_notice_at) AND attribute_not_exists(snapshot_expired_at)",
        values={":now": now},
    )
    if not won:
        return False
    text = (
        f"🗓️ Safety snapshot {snapshot_id} of {decision.key.resource_id} (decision {decision.decision_id}) "
        f"will be deleted on {due:%Y-%m-%d} (kept {deps.keep_for.days} days). After that the clean-up "
        f"cannot be undone. To keep it, tag the snapshot `{KEEP_TAG}`."
    )
    channel = str(decision.get(Attr.CHANNEL_ID) or deps.channel_id)
    try:
        await deps.poster.post_message(channel, {"content": text, "allowed_mentions": {"parse": []}})
    except Exception as exc:  # the ledger records the notice; a lost post is logged, not repeated
        log.warning("retention.notice_failed", decision_id=decision.decision_id, error=str(exc)[:200])
    log.info(
        "retention.noticed", decision_id=decision.decision_id, snapshot_id=snapshot_id, due=due.isoformat()
    )
    return True


async def _expire(
    deps: MoneyDeps, decision: Decision, ec2: Any, snapshot_id: str, now: datetime, *, gone: bool
) -> bool:
    """Claim the expiry, delete the snapshot, record it: the winner of the claim does it, once."""
    claim = str(uuid.uuid4())
    stale = now - deps.claim_stale_after
    claimed = await deps.ledger.update_if(
        decision.pk,
        update="SET snapshot_expiry_claim = :claim, snapshot_expiring_at = :now",
        condition="#state = :executed AND attribute_not_exists(snapshot_expired_at) AND "
        "(attribute_not_exists(snapshot_expiring_at) OR snapshot_expiring_at < :stale)",
        names={"#state": "state"},
        values={":claim": claim, ":now": now, ":stale": stale, ":executed": State.EXECUTED.value},
    )
    if not claimed:
        return False
    if not gone:
        try:
            await ec2.delete_snapshot(SnapshotId=snapshot_id)
        except Exception as exc:
            if not is_error(exc, *_GONE):
                raise
    gross = Decimal(str(decision.get(Attr.GROSS_MONTHLY_SAVING_USD) or decision.finding.cost.monthly_usd))
    net = Decimal(str(decision.get(Attr.REALISED_MONTHLY_SAVING_USD) or 0))
    recorded = await deps.ledger.update_if(
        decision.pk,
        update="SET snapshot_expired_at = :now, net_before_expiry_usd = :net, "
        "realised_monthly_saving_usd = :gross, snapshot_monthly_usd = :zero REMOVE snapshot_expiring_at",
        condition="snapshot_expiry_claim = :claim AND attribute_not_exists(snapshot_expired_at)",
        values={":now": now, ":net": net, ":gross": gross, ":zero": Decimal(0), ":claim": claim},
    )
    log.info(
        "retention.expired",
        decision_id=decision.decision_id,
        snapshot_id=snapshot_id,
        net_before=str(net),
        gross=str(gross),
        recorded=recorded,
    )
    return recorded


async def _count(deps: MoneyDeps, decision: Decision, now: datetime) -> Decimal:
    """Add the cost avoided since the last counted instant to Datadog, once (conditional on it)."""
    last = decision.time("avoided_counted_at")
    accruals = accruals_of(decision)
    if not accruals:
        return Decimal(0)
    since = last or accruals[0].start
    amount = avoided_between(accruals, since, now)
    if amount == 0:
        return Decimal(0)
    condition = "avoided_counted_at = :last" if last else "attribute_not_exists(avoided_counted_at)"
    values: dict[str, Any] = {":now": now} | ({":last": last} if last else {})
    if not await deps.ledger.update_if(
        decision.pk, update="SET avoided_counted_at = :now", condition=condition, values=values
    ):
        return Decimal(0)  # another sweep counted this interval
    tags = {
        "kind": str(decision.get(Attr.KIND, "unknown")),
        "region": str(decision.get(Attr.REGION, "unknown")),
        "account_id": str(decision.get(Attr.ACCOUNT_ID, "unknown")),
    }
    deps.metrics.increment("cloudthrift.cost_avoided.usd", amount, tags=tags)  # AVOIDED_METRIC
    return amount
