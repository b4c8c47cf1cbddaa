"""In-use gp2 volumes that would cost less as gp3, with at least the performance they have today.

gp3 costs 20% less per GB and includes 3,000 IOPS and 125 MiB/s; gp2's performance grows with its
size (https://docs.aws.amazon.com/ebs/latest/userguide/general-purpose.html): 3 IOPS per GiB, at least
100 and at most 16,000, bursting to 3,000 below 1 TiB; throughput up to 128 MiB/s at 170 GiB and
below, 250 MiB/s above. The gp3 target is whichever is higher of each, so no workload gets slower; what
it buys above gp3's allowances is priced and subtracted (`Remedy.residual` is the gp3 bill), and a
volume where gp3 would not be cheaper (171-333 GiB, whose 250 MiB/s burst costs more than the 20%
saves) is not reported (`Check.saves_only`).

Unattached gp2 volumes are the unattached check's (the listing asks for `in-use` only): no volume gets
two cards. The change is online (no detach, no downtime) and is billed at the new type from the start
of the modification; AWS allows one modification per volume every 6 hours, so the undo (back to gp2,
`ModifyToGp3.restore`) may have to wait.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tenacity import AsyncRetrying, retry_if_result, stop_after_delay, wait_fixed

from shared.aws import is_error
from shared.aws_errors import error_code
from shared.events import CostLine, Finding, Recommendation, Risk
from shared.kinds.advice import Advice, confidence, usd
from shared.kinds.base import (
    Check,
    Clients,
    Done,
    Job,
    NotYet,
    Observation,
    Refused,
    Remedy,
    Restored,
    UndoJob,
    Usage,
    expect_dry_run_ok,
)
from shared.kinds.ebs_volume.kind import GP3_FREE_IOPS, GP3_FREE_THROUGHPUT, LISTED_VOLUMES, EbsVolume
from shared.kinds.pricing import Rates, money
from shared.kinds.signals import Signals

GP2_MIN_IOPS, GP2_MAX_IOPS, GP2_IOPS_PER_GIB = 100, 16_000, 3
GP2_BURST_IOPS, GP2_BURST_BELOW_GIB = 3_000, 1_000
GP2_SMALL_GIB, GP2_SMALL_THROUGHPUT, GP2_THROUGHPUT = 170, 128, 250
# ModifyVolume's states: `optimizing` is usable at the new type, `completed` is done.
USABLE = frozenset({"optimizing", "completed"})
IN_PROGRESS = frozenset({"modifying", "optimizing"})
_POLL_SECONDS = 15
SIX_HOURS_NOTE = "AWS allows one modification per volume every 6 hours: the revert waits until then"
REVERT_RETRY = timedelta(minutes=15)  # SQS's longest delay; the undo is asked again until AWS allows it


@dataclass(frozen=True)
class Gp3Target:
    """The gp3 configuration that delivers at least what the gp2 volume does."""

    iops: int
    throughput_mibps: int


def gp2_iops(size_gib: int) -> int:
    """The IOPS a gp2 volume can deliver: its baseline, or its burst below 1 TiB."""
    baseline = min(GP2_MAX_IOPS, max(GP2_MIN_IOPS, GP2_IOPS_PER_GIB * size_gib))
    return max(baseline, GP2_BURST_IOPS) if size_gib < GP2_BURST_BELOW_GIB else baseline


def gp2_throughput(size_gib: int) -> int:
    return GP2_SMALL_THROUGHPUT if size_gib <= GP2_SMALL_GIB else GP2_THROUGHPUT


def gp3_target(size_gib: int) -> Gp3Target:
    return Gp3Target(
        iops=max(GP3_FREE_IOPS, gp2_iops(size_gib)),
        throughput_mibps=max(GP3_FREE_THROUGHPUT, gp2_throughput(size_gib)),
    )


def gp3_cost(observation: Observation, rates: Rates) -> Decimal:
    """What the volume would cost as gp3 at its target, priced by the kind's own pricing."""
    size = int(observation.facts.get("size_gib") or 0)
    target = gp3_target(size)
    as_gp3 = Observation(
        observation.resource_id,
        {
            "volume_type": "gp3",
            "size_gib": size,
            "iops": target.iops,
            "throughput_mibps": target.throughput_mibps,
        },
    )
    return money(sum((ln.monthly_usd for ln in EbsVolume().price(as_gp3, rates).lines), Decimal(0)))


@EbsVolume.check("in-use-gp2")
class InUseGp2(Check):
    summary = "in-use gp2 volume that gp3 serves at the same or better IOPS and throughput, for less"
    filters = LISTED_VOLUMES  # one listing of the region's volumes with the unattached check
    remedies = ("modify-to-gp3",)
    saves_only = True

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        facts = observation.facts
        if facts.get("volume_type") != "gp2" or facts.get("state") != "in-use":
            return None
        size = int(facts.get("size_gib") or 0)
        target = gp3_target(size)
        return (
            f"in-use gp2 volume of {size} GiB: gp3 with {target.iops:,} IOPS and "
            f"{target.throughput_mibps} MiB/s (at least what gp2 delivers) costs less"
        )

    def busy_reason(self, observation: Observation) -> str:
        facts = observation.facts
        return (
            f"volume is no longer an in-use gp2 (type {facts.get('volume_type')!r}, state "
            f"{facts.get('state')!r}): changed since approval"
        )

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        """Low risk: the change is online and keeps gp2's performance; production only raises it to
        medium (a change window), and a keep tag still means keep."""
        facts, cost = finding.facts, finding.cost
        size = int(facts.get("size_gib") or 0)
        target = gp3_target(size)
        name = str(facts.get("name") or "")
        summary = (
            f"In-use {size} GiB gp2 volume{f' named {name[:60]!r}' if name else ''} in "
            f"{facts.get('availability_zone') or finding.key.region}. As gp3 with {target.iops:,} IOPS "
            f"and {target.throughput_mibps} MiB/s (at least what gp2 delivers today) it would cost "
            f"{usd(cost.snapshot_monthly_usd)}/month instead of {usd(cost.monthly_usd)}, saving "
            f"{usd(cost.net_monthly_saving_usd)}/month. The change is online: no detach, no restart. "
            f"Undo: back to gp2, but {SIX_HOURS_NOTE}."
        )
        cause = "gp2 was the default volume type until gp3 (2020); older launch templates still ask for it."
        risk: Risk
        recommendation: Recommendation
        if s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif s.prod:
            risk, recommendation = "medium", "delete"
            reason = f"production volume ({s.prod}): online, but schedule it in a change window"
        else:
            risk, recommendation = "low", "delete"
            reason = "online change that keeps the volume's IOPS and throughput; data is untouched"
        # "delete" is the analysis' word for "apply the remedy": here, modify to gp3.
        return Advice(summary, cause, risk, reason, recommendation, confidence(s, risk))


@EbsVolume.remedy("modify-to-gp3")
class ModifyToGp3(Remedy):
    action = "modify_to_gp3"
    summary = "modify the volume to gp3 with at least gp2's IOPS and throughput (online), wait until usable"
    permissions = ("ec2:DescribeVolumes", "ec2:DescribeVolumesModifications", "ec2:ModifyVolume")
    undo = f"modify the volume back to gp2 ({SIX_HOURS_NOTE})"

    def residual(self, observation: Observation, rates: Rates) -> CostLine:
        """What stays billed: the same volume as gp3, with what it buys above gp3's allowances."""
        size = int(observation.facts.get("size_gib") or 0)
        target, monthly = gp3_target(size), gp3_cost(observation, rates)
        item = f"gp3 after the change ({size} GiB, {target.iops:,} IOPS, {target.throughput_mibps} MiB/s)"
        return CostLine(
            item=item, quantity=Decimal(1), unit="month", unit_price_usd=monthly, monthly_usd=monthly
        )

    async def apply(self, clients: Clients, job: Job) -> Done | Refused:
        ec2 = await clients("ec2")
        busy = await _modification_in_progress(ec2, job.resource_id)
        if busy is not None:
            return Refused(busy)
        target = gp3_target(int(job.facts.get("size_gib") or 0))
        await job.guard()
        try:
            answer = await ec2.modify_volume(VolumeId=job.resource_id, **_arguments(target))
        except Exception as exc:
            if is_error(exc, *EbsVolume.gone_codes):
                return Done(self.action, already_gone=True, record=_record(job, target, None))
            if is_error(exc, "IncorrectModificationState", "VolumeModificationRateExceeded"):
                return Refused(f"AWS refused the modification: {exc} ({SIX_HOURS_NOTE.split(':')[0]})")
            raise
        state = await _wait_usable(
            ec2, job.resource_id, answer["VolumeModification"], job.snapshot_wait_seconds
        )
        if state == "failed":
            return Refused("AWS reported the modification to gp3 as failed: the volume stays gp2")
        # The gp3 volume stays billed: the executor subtracts the residual (`keeps_snapshot` = kept).
        return Done(self.action, keeps_snapshot=True, record=_record(job, target, state))

    async def finished(self, clients: Clients, job: Job) -> Done | None:
        """An earlier attempt's modification to this gp3 target (from gp2), still running or done:
        waited for until usable and recorded, instead of being re-checked as a volume no longer gp2."""
        ec2 = await clients("ec2")
        target = gp3_target(int(job.facts.get("size_gib") or 0))
        answer = await ec2.describe_volumes_modifications(VolumeIds=[job.resource_id])
        for modification in answer.get("VolumesModifications", []):
            if (
                modification.get("OriginalVolumeType") == "gp2"
                and modification.get("TargetVolumeType") == "gp3"
                and modification.get("TargetIops") == target.iops
                and modification.get("TargetThroughput") == target.throughput_mibps
                and modification.get("ModificationState") != "failed"
            ):
                state = await _wait_usable(ec2, job.resource_id, modification, job.snapshot_wait_seconds)
                return Done(self.action, keeps_snapshot=True, record=_record(job, target, state))
        return None

    async def rehearse(self, clients: Clients, job: Job) -> Done:
        target = gp3_target(int(job.facts.get("size_gib") or 0))
        ec2 = await clients("ec2")
        await expect_dry_run_ok(
            ec2.modify_volume(VolumeId=job.resource_id, DryRun=True, **_arguments(target))
        )
        return Done(self.action, keeps_snapshot=True, record=_record(job, target, None))

    async def restore(self, clients: Clients, job: UndoJob) -> Restored | NotYet | Refused:
        """Back to gp2 (its IOPS and throughput follow its size again). AWS refuses within 6 hours of
        the last change: that is a wait (`NotYet`), resumed every 15 minutes, not a failure."""
        ec2 = await clients("ec2")
        volume_id = str(job.record.get("volume_id") or job.resource_id)
        original = str(job.record.get("original_volume_type") or "gp2")
        raw = await EbsVolume().describe(clients, volume_id)
        if raw is None:
            return Refused(f"volume {volume_id} no longer exists: there is nothing to modify back")
        busy = await _modification_in_progress(ec2, volume_id)
        if raw.get("VolumeType") == original and busy is None:
            return Restored("modify_back_to_gp2", volume_id, {"volume_type": original})  # an earlier attempt
        if busy is not None:
            return NotYet(busy, REVERT_RETRY)
        await job.guard()
        try:
            await ec2.modify_volume(VolumeId=volume_id, VolumeType=original)
        except Exception as exc:
            if is_error(exc, "IncorrectModificationState", "VolumeModificationRateExceeded"):
                return NotYet(f"{SIX_HOURS_NOTE} ({error_code(exc)})", REVERT_RETRY)
            raise
        return Restored("modify_back_to_gp2", volume_id, {"volume_type": original})


def _arguments(target: Gp3Target) -> dict[str, Any]:
    return {"VolumeType": "gp3", "Iops": target.iops, "Throughput": target.throughput_mibps}


def _record(job: Job, target: Gp3Target, state: str | None) -> dict[str, Any]:
    return {
        "volume_id": job.resource_id,
        "original_volume_type": job.facts.get("volume_type") or "gp2",
        "gp3_iops": target.iops,
        "gp3_throughput_mibps": target.throughput_mibps,
        "modification_state": state,
    }


async def _modification_in_progress(ec2: Any, volume_id: str) -> str | None:
    """Why the volume must be left alone now: a modification of it is still running."""
    answer = await ec2.describe_volumes_modifications(VolumeIds=[volume_id])
    for modification in answer.get("VolumesModifications", []):
        if modification.get("ModificationState") in IN_PROGRESS:
            return (
                f"volume is already being modified (state {modification['ModificationState']!r} since "
                f"{modification.get('StartTime')}); {SIX_HOURS_NOTE.split(':')[0]}"
            )
    return None


async def _wait_usable(ec2: Any, volume_id: str, modification: Mapping[str, Any], seconds: int) -> str:
    """The modification's state once `optimizing` or `completed` (usable at gp3), or `failed`; after
    `seconds`, the last state seen: AWS finishes an accepted modification on its own, and bills the
    new type from its start, so there is nothing left to redo."""
    state = str(modification.get("ModificationState"))
    if state in USABLE or state == "failed" or seconds <= 0:
        return state

    async def read() -> str:
        answer = await ec2.describe_volumes_modifications(VolumeIds=[volume_id])
        states = [m.get("ModificationState") for m in answer.get("VolumesModifications", [])]
        return str(states[0]) if states else state

    retrying = AsyncRetrying(
        retry=retry_if_result(lambda s: s not in USABLE and s != "failed"),
        wait=wait_fixed(min(_POLL_SECONDS, seconds)),
        stop=stop_after_delay(seconds),
        retry_error_callback=lambda last: last.outcome.result() if last.outcome else state,
    )
    return str(await retrying(read))
