"""The report bench's ledger: decisions as the Ledger's own transitions leave them, written in bulk.

Each decision's life is a list of `Step`s, the arguments of `Ledger.transition` (who moved it, from
which state to which, with which fields, when). `through_ledger` plays a life through the Ledger: one
conditional PutItem, then one conditional UpdateItem per step, the path every worker takes (about
0.3 s a decision on the loaded machine: 10,000 took 3,210 s). `in_bulk` builds the same item without
the round trips: `Ledger._new_item` (the record builder `create` writes), then each step's effect as
`Ledger.transition`'s update expression states it (`state`, `updated_at`, `version + 1`, one history
entry, the fields set, the fields removed); `write_bulk` sends them 25 per BatchWriteItem.

`seed` plays a sample of every ending through the Ledger first and checks that `in_bulk` builds exactly
the items the Ledger wrote (every attribute, history included), so the bulk path cannot drift from the
ledger's: the check fails the bench, it is not a warning.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.events import Analysis, Approver, CostEstimate, CostLine, DecisionKey, Finding
from shared.ledger import Ledger
from shared.ledger import State as S
from shared.record import from_dynamo, to_dynamo

KINDS = (
    ("ebs-volume", "unattached", 55),
    ("elastic-ip", "unassociated", 15),
    ("ebs-snapshot", "old", 15),
    ("nat-gateway", "no-traffic", 5),
    ("load-balancer", "no-targets", 10),
)
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1", "us-west-2")
ACCOUNTS = ("111111111111", "222222222222", "333333333333", "444444444444", "555555555555")
# How decisions end in a ledger a few months old (weights out of 100).
ENDINGS = {
    "found": 3,
    "analyzed": 2,
    "awaiting": 43,
    "approved": 3,
    "executed": 22,
    "dry_run": 5,
    "skipped": 5,
    "failed": 4,
    "restored": 3,
    "rejected": 6,
    "snoozed": 4,
}
ANALYSIS = Analysis(summary="Idle.", likely_cause="Left behind.", risk="low", risk_reason="none",
                    recommendation="snapshot_then_delete", confidence=0.9, source="rules")  # fmt: skip
APPROVERS = (Approver(id="1", name="alice", via="discord"), Approver(id="2", name="bob", via="discord"))


@dataclass(frozen=True)
class Step:
    """One `Ledger.transition` call: its arguments, nothing else."""

    expected: tuple[S, ...]
    new: S
    at: datetime
    fields: Mapping[str, Any] = field(default_factory=dict)
    actor: str = "cloudthrift"
    note: str | None = None
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class Life:
    finding: Finding
    found: datetime
    steps: list[Step]


def finding(index: int, rng: random.Random, now: datetime) -> Finding:
    """Shaped like the scanner's: facts, one cost line, seven tags."""
    kind, check = rng.choices([(k, c) for k, c, _ in KINDS], weights=[w for *_, w in KINDS])[0]
    monthly = Decimal(str(round(rng.uniform(3.65, 900), 2))) if kind != "elastic-ip" else Decimal("3.65")
    snapshot = (monthly * Decimal("0.3")).quantize(Decimal("0.01")) if kind == "ebs-volume" else Decimal(0)
    return Finding(
        key=DecisionKey(account_id=rng.choice(ACCOUNTS), region=rng.choice(REGIONS), kind=kind,
                        check=check, resource_id=f"{kind}-{index:017x}"),
        facts={"volume_type": rng.choice(["gp2", "gp3", "io1", "st1"]), "size_gib": rng.randint(8, 4000),
               "state": "available", "availability_zone": "us-east-1a", "iops": 3000, "encrypted": True},
        tags={"Name": f"bench-{index}", "team": rng.choice(["data", "web", "ml"]), "env": "prod",
              "owner": "someone@example.com", "cost-center": "cc-42", "app": "bench",
              "ticket": f"OPS-{index}"},
        created_at=now - timedelta(days=200),
        idle_since=now - timedelta(days=rng.randint(1, 120)),
        idle_reason="unattached",
        cost=CostEstimate(
            monthly_usd=monthly,
            lines=(CostLine(item="storage", quantity=Decimal(100), unit="GB-month",
                            unit_price_usd=monthly / 100, monthly_usd=monthly),),
            snapshot_monthly_usd=snapshot,
            net_monthly_saving_usd=monthly - snapshot,
            price_source="bench price table",
            price_date="2026-11-01",
        ),
        scan_id="bench",
    )  # fmt: skip


def life(index: int, ending: str, rng: random.Random, now: datetime) -> Life:
    """One decision from first sighting to `ending`, spread over six months, as the workers write it."""
    found_finding = finding(index, rng, now)
    found = now - timedelta(days=rng.uniform(1, 180), minutes=index % 60)
    at = found + timedelta(minutes=5)
    steps: list[Step] = []
    if ending == "found":
        return Life(found_finding, found, steps)
    steps.append(Step((S.FOUND,), S.ANALYZED, at, {"analysis": ANALYSIS}, actor="analyzer"))
    if ending == "analyzed":
        return Life(found_finding, found, steps)
    steps.append(Step((S.ANALYZED,), S.AWAITING_APPROVAL, at, actor="notifier"))
    if ending == "awaiting":
        return Life(found_finding, found, steps)
    decided = min(at + timedelta(hours=rng.expovariate(1 / 20)), now)
    approver = rng.choice(APPROVERS)
    target = {"rejected": S.REJECTED, "snoozed": S.SNOOZED}.get(ending, S.APPROVED)
    fields: dict[str, Any] = {"approver": approver, "decided_by": approver.name, "decided_at": decided}
    if target is S.APPROVED:
        fields["approved_at"] = decided
    if target is S.SNOOZED:
        fields["snoozed_until"] = decided + timedelta(days=30)
    steps.append(Step((S.AWAITING_APPROVAL,), target, decided, fields, actor=f"discord:{approver.name}"))
    if target is not S.APPROVED or ending == "approved":
        return Life(found_finding, found, steps)
    ran = min(decided + timedelta(minutes=1), now)
    claim = {"claim_id": f"c{index}", "claim_expires_at": ran + timedelta(minutes=5), "claimed_at": ran}
    steps.append(Step((S.APPROVED, S.FAILED), S.EXECUTING, ran, claim, actor="executor"))
    done: dict[str, Any] = {"approver": approver, "approver_name": approver.name, "approved_at": decided}
    end = {"skipped": S.SKIPPED, "failed": S.FAILED}.get(ending, S.EXECUTED)
    if end is S.SKIPPED:
        done |= {"skip_reason": "resource no longer exists (removed outside CloudThrift)", "skipped_at": ran}
    elif end is S.FAILED:
        done |= {"error": "UnauthorizedOperation: not allowed", "error_code": "UnauthorizedOperation",
                 "failed_at": ran}  # fmt: skip
    else:
        dry = ending == "dry_run"
        cost = found_finding.cost
        saving = "would_save_monthly_usd" if dry else "realised_monthly_saving_usd"
        done |= {"remedy": "snapshot-then-delete", "gross_monthly_saving_usd": cost.monthly_usd,
                 "snapshot_monthly_usd": cost.snapshot_monthly_usd, "executed_at": ran, "action": "delete",
                 "dry_run": dry, "already_gone": False, saving: cost.net_monthly_saving_usd,
                 "snapshot_size_basis": "upper bound (provisioned size)"}  # fmt: skip
        if found_finding.key.kind == "ebs-volume" and not dry:
            done["snapshot_id"] = f"snap-{index:017x}"
    steps.append(Step((S.EXECUTING,), end, ran, done, actor="executor", note=f"{end.value.lower()}"))
    if ending != "restored":
        return Life(found_finding, found, steps)
    asked = min(ran + timedelta(days=rng.uniform(1, 20)), now)
    ask = {"claim_id": f"r{index}", "claim_expires_at": asked + timedelta(minutes=5), "claimed_at": asked,
           "restore_requested_by": approver.name, "restore_requested_at": asked}  # fmt: skip
    steps.append(
        Step(
            (S.EXECUTED, S.RESTORE_FAILED),
            S.RESTORING,
            asked,
            ask,
            actor=f"discord:{approver.name}",
            note="undo claimed",
            remove=("restore_error",),
        )
    )
    back = {"restored_at": asked, "restored_resource_id": f"vol-r{index:016x}", "restore_action": "restore",
            "restore_record": "{}"}  # fmt: skip
    steps.append(Step((S.RESTORING,), S.RESTORED, asked, back, actor="executor", note="restored"))
    return Life(found_finding, found, steps)


def endings(count: int, rng: random.Random) -> list[str]:
    names = list(ENDINGS)
    return rng.choices(names, weights=[ENDINGS[n] for n in names], k=count)


async def through_ledger(ledger: Ledger, one: Life) -> None:
    """The real path: `create`, then every step through `Ledger.transition` (conditional writes)."""
    assert (await ledger.create(one.finding, now=one.found)).applied
    for step in one.steps:
        result = await ledger.transition(
            one.finding.key, step.expected, step.new, fields=step.fields, remove=step.remove,
            actor=step.actor, note=step.note, now=step.at,
        )  # fmt: skip
        assert result.applied, (one.finding.key.pk, step.new)


def in_bulk(one: Life) -> dict[str, Any]:
    """The item `through_ledger` leaves, built locally: the record builder, then each step's update."""
    item = dict(Ledger._new_item(one.finding, cycle=0, now=one.found))
    for step in one.steps:
        entry = {
            "from": "|".join(s.value for s in step.expected),
            "to": step.new.value,
            "at": step.at.isoformat(),
            "by": step.actor,
        } | ({"note": step.note} if step.note else {})
        item |= {"state": step.new.value, "updated_at": step.at.isoformat(), "version": item["version"] + 1}
        item["history"] = [*item["history"], entry]
        item |= {str(name): value for name, value in step.fields.items()}
        for name in step.remove:
            item.pop(name, None)
    return {name: to_dynamo(value) for name, value in item.items()}


async def write_bulk(dynamodb: Any, table: str, items: list[dict[str, Any]], in_flight: int = 4) -> None:
    """BatchWriteItem, 25 items a call; what comes back unprocessed is sent again."""
    gate = asyncio.Semaphore(in_flight)

    async def batch(part: list[dict[str, Any]]) -> None:
        request = {table: [{"PutRequest": {"Item": item}} for item in part]}
        async with gate:
            while request:
                answer = await dynamodb.batch_write_item(RequestItems=request)
                request = answer.get("UnprocessedItems") or {}

    await asyncio.gather(*(batch(items[i : i + 25]) for i in range(0, len(items), 25)))


async def seed(ledger: Ledger, dynamodb: Any, count: int, *, seed_value: int = 19) -> dict[str, int]:
    """`count` decisions: two of each ending through the Ledger (and checked against `in_bulk`),
    the rest in bulk. Returns how many decisions ended how."""
    rng = random.Random(seed_value)
    now = datetime.now(UTC)
    plan = [*(name for name in ENDINGS for _ in range(2)), *endings(max(0, count - 2 * len(ENDINGS)), rng)]
    lives = [life(index, ending, rng, now) for index, ending in enumerate(plan[:count])]
    checked = lives[: 2 * len(ENDINGS)]
    for one in checked:
        await through_ledger(ledger, one)
        real = await ledger.get(one.finding.key)
        assert real is not None
        built = from_dynamo(in_bulk(one)).attrs
        if dict(real.attrs) != dict(built):
            differ = sorted(k for k in {*real.attrs, *built} if real.attrs.get(k) != built.get(k))
            raise AssertionError(f"bulk item differs from the Ledger's on {differ} ({one.finding.key.pk})")
    await write_bulk(dynamodb, ledger.table_name, [in_bulk(one) for one in lives[len(checked) :]])
    counts: dict[str, int] = {}
    for ending in plan[:count]:
        counts[ending] = counts.get(ending, 0) + 1
    return counts
