"""In-use gp2 volumes to gp3: the performance rules without AWS, the listing, remedy, re-check and
revert on moto, through the executor's real handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from services.executor.handler import ExecutorDeps, handle_approval
from services.executor.restore import handle_restore
from services.scanner.rules import listings
from shared.errors import TransientError
from shared.events import Approver
from shared.kinds import check_named, kind_named
from shared.kinds.base import Done, Job, Observation
from shared.kinds.ebs_volume.gp2 import ModifyToGp3, gp2_iops, gp3_cost, gp3_target
from shared.kinds.pricing import load_prices
from shared.ledger import Ledger, State
from tests.executor.helpers import (
    REGION,
    Wrapped,
    approve,
    client_error,
    instance,
    observe,
    restore_request,
    state_of,
)

RATES = load_prices().rates("us-east-1")
CHECK = "in-use-gp2"


@pytest.mark.parametrize(
    ("size", "iops", "throughput"),
    [(8, 3000, 128), (170, 3000, 128), (171, 3000, 250), (999, 3000, 250), (1000, 3000, 250),
     (2000, 6000, 250), (6000, 16000, 250)],
)  # fmt: skip
def test_gp3_gets_at_least_what_gp2_delivers(size: int, iops: int, throughput: int) -> None:
    target = gp3_target(size)
    assert (target.iops, target.throughput_mibps) == (iops, throughput)
    assert target.iops >= gp2_iops(size)


@pytest.mark.parametrize(
    ("size", "gp3_monthly"),
    [(8, "0.76"), (50, "4.12"), (200, "21.00"), (500, "45.00"), (2000, "180.00")],
)
def test_the_gp3_bill_includes_what_it_buys_above_the_allowances(size: int, gp3_monthly: str) -> None:
    observation = Observation("vol-1", {"volume_type": "gp2", "size_gib": size, "state": "in-use"})
    assert gp3_cost(observation, RATES) == Decimal(gp3_monthly)
    line = ModifyToGp3().residual(observation, RATES)
    assert line.monthly_usd == Decimal(gp3_monthly) and "gp3 after the change" in line.item


def test_only_in_use_gp2_volumes_are_waste_by_this_check() -> None:
    check = check_named("ebs-volume", CHECK)
    facts = {"size_gib": 500}
    assert check.verdict(Observation("v", facts | {"volume_type": "gp2", "state": "in-use"}), None)
    assert not check.verdict(Observation("v", facts | {"volume_type": "gp2", "state": "available"}), None)
    assert not check.verdict(Observation("v", facts | {"volume_type": "gp3", "state": "in-use"}), None)
    assert check.saves_only  # a 200 GiB gp2, dearer as gp3, is never reported (tests/scanner)


async def attached_gp2(ec2: Any, size: int) -> str:
    server = await instance(ec2)
    volume = await ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=size, VolumeType="gp2")
    await ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=server, Device="/dev/sdf")
    return str(volume["VolumeId"])


async def test_both_volume_checks_share_one_listing_of_attached_and_unattached_volumes(
    ec2: Any, aws: Any
) -> None:
    """One DescribeVolumes listing serves the unattached and gp2 checks, attached volumes included, so the
    scan summary can count an attached volume as busy, once."""
    wanted = await attached_gp2(ec2, 500)
    loose = (await ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=500, VolumeType="gp2"))["VolumeId"]
    kind = kind_named("ebs-volume")
    [(filters, checks)] = listings(kind)
    assert {check.name for check in checks} == {"unattached", CHECK}

    async def clients(service: str) -> Any:
        return await aws.client(service, REGION)

    listed = [raw["VolumeId"] async for raw in kind.list(clients, filters)]
    # The instance's own root volume is an in-use gp2 too (moto makes it so).
    assert {wanted, loose} <= set(listed) and len(listed) == 3


async def test_approved_gp2_volume_becomes_gp3_and_saves_the_difference(
    ec2: Any, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    volume_id = await attached_gp2(ec2, 500)
    finding = await observe(ec2, "ebs-volume", volume_id, CHECK)
    assert finding.cost.monthly_usd == Decimal("50.0000")
    assert finding.cost.net_monthly_saving_usd == Decimal("5.0000")
    event = await approve(ledger, finding)

    await handle_approval(event, make_deps())

    done = await state_of(ledger, finding.key)
    assert done.state is State.EXECUTED and done.get("action") == "modify_to_gp3"
    assert Decimal(str(done.get("realised_monthly_saving_usd"))) == Decimal("5.0000")
    assert done.get("modification_state") == "completed" and done.get("gp3_iops") == 3000
    [volume] = (await ec2.describe_volumes(VolumeIds=[volume_id]))["Volumes"]
    assert (volume["VolumeType"], volume["Iops"], volume["Throughput"]) == ("gp3", 3000, 250)
    assert volume["State"] == "in-use"  # online: still attached


async def test_dry_run_rehearses_with_dry_run_and_changes_nothing(
    ec2: Any, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    volume_id = await attached_gp2(ec2, 2000)
    finding = await observe(ec2, "ebs-volume", volume_id, CHECK)
    event = await approve(ledger, finding)
    spy = Spy()

    await handle_approval(event, make_deps(dry_run=True, wrap=spy.wrap))

    done = await state_of(ledger, finding.key)
    assert done.state is State.EXECUTED and done.get("dry_run") is True
    assert Decimal(str(done.get("would_save_monthly_usd"))) == Decimal("20.0000")
    assert spy.modify_calls == [{"VolumeId": volume_id, "DryRun": True, "VolumeType": "gp3", "Iops": 6000,
                                 "Throughput": 250}]  # fmt: skip
    [volume] = (await ec2.describe_volumes(VolumeIds=[volume_id]))["Volumes"]
    assert volume["VolumeType"] == "gp2"


async def test_a_volume_changed_to_gp3_after_approval_is_skipped_untouched(
    ec2: Any, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    volume_id = await attached_gp2(ec2, 500)
    finding = await observe(ec2, "ebs-volume", volume_id, CHECK)
    event = await approve(ledger, finding)
    await ec2.modify_volume(VolumeId=volume_id, VolumeType="gp3")  # someone else got there first

    await handle_approval(event, make_deps())

    skipped = await state_of(ledger, finding.key)
    assert skipped.state is State.SKIPPED
    assert "no longer an in-use gp2" in str(skipped.get("skip_reason"))


async def test_a_volume_already_being_modified_is_skipped_with_the_reason(
    ec2: Any, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    volume_id = await attached_gp2(ec2, 500)
    await ec2.modify_volume(VolumeId=volume_id, Size=600)  # moto completes it at once; AWS does not
    finding = await observe(ec2, "ebs-volume", volume_id, CHECK)
    event = await approve(ledger, finding)
    spy = Spy(modification_state="optimizing")

    await handle_approval(event, make_deps(wrap=spy.wrap))

    skipped = await state_of(ledger, finding.key)
    assert skipped.state is State.SKIPPED
    assert "already being modified (state 'optimizing'" in str(skipped.get("skip_reason"))
    assert spy.modify_calls == []


async def test_aws_refusing_within_six_hours_is_a_skip_not_a_failure(
    ec2: Any, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    volume_id = await attached_gp2(ec2, 500)
    finding = await observe(ec2, "ebs-volume", volume_id, CHECK)
    event = await approve(ledger, finding)
    refuse = client_error("VolumeModificationRateExceeded", "ModifyVolume")

    await handle_approval(event, make_deps(wrap=lambda c: Wrapped(c, "modify_volume", raise_=refuse)))

    skipped = await state_of(ledger, finding.key)
    assert skipped.state is State.SKIPPED and "6 hours" in str(skipped.get("skip_reason"))


async def test_a_modification_still_modifying_is_waited_for_until_usable(ec2: Any, aws: Any) -> None:
    volume_id = await attached_gp2(ec2, 500)
    spy = Spy(answer_state="modifying", modification_state="optimizing")
    job = job_for(volume_id, await spy_clients(aws, spy))
    done = await ModifyToGp3().apply(job.clients, job.job)
    assert isinstance(done, Done) and done.record["modification_state"] == "optimizing"
    assert spy.describe_calls >= 2  # once before acting, then until usable


async def test_the_undo_modifies_back_to_gp2_or_waits_for_the_six_hour_window(
    ec2: Any, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    volume_id = await attached_gp2(ec2, 500)
    finding = await observe(ec2, "ebs-volume", volume_id, CHECK)
    event = await approve(ledger, finding)
    await handle_approval(event, make_deps())
    request = restore_request(finding.key, event.payload.decision_id)
    # Within 6 hours of the change AWS refuses (moto does not enforce the window): a wait, not a failure.
    refuse = client_error("VolumeModificationRateExceeded", "ModifyVolume")
    with pytest.raises(TransientError, match="6 hours"):
        await handle_restore(request, make_deps(wrap=lambda c: Wrapped(c, "modify_volume", raise_=refuse)))
    waiting = await state_of(ledger, finding.key)
    assert waiting.state is State.RESTORING and "6 hours" in waiting.get("restore_waiting")

    await handle_restore(request, make_deps())  # the request comes back once the window allows it

    restored = await state_of(ledger, finding.key)
    assert restored.state is State.RESTORED and restored.get("restored_resource_id") == volume_id
    [volume] = (await ec2.describe_volumes(VolumeIds=[volume_id]))["Volumes"]
    assert (volume["VolumeType"], volume["State"]) == ("gp2", "in-use")


# --- a spy around the real EC2 client: records ModifyVolume calls, can report AWS's slower states ---


@dataclass
class Spy:
    answer_state: str | None = None  # what ModifyVolume's answer says (moto always says completed)
    modification_state: str | None = None  # what DescribeVolumesModifications says
    modify_calls: list[dict[str, Any]] = field(default_factory=list)
    describe_calls: int = 0

    def wrap(self, client: Any) -> Any:
        spy = self

        class Proxy:
            def __getattr__(self, name: str) -> Any:
                return getattr(client, name)

            async def modify_volume(self, **kwargs: Any) -> Any:
                spy.modify_calls.append(kwargs)
                answer = await client.modify_volume(**kwargs)
                if spy.answer_state:
                    answer["VolumeModification"]["ModificationState"] = spy.answer_state
                return answer

            async def describe_volumes_modifications(self, **kwargs: Any) -> Any:
                spy.describe_calls += 1
                answer = await client.describe_volumes_modifications(**kwargs)
                for modification in answer.get("VolumesModifications", []):
                    if spy.modification_state:
                        modification["ModificationState"] = spy.modification_state
                return answer

        return Proxy()


@dataclass
class JobFor:
    clients: Any
    job: Any


async def spy_clients(aws: Any, spy: Spy) -> Any:
    async def clients(service: str) -> Any:
        real = await aws.client(service, REGION)
        return spy.wrap(real) if service == "ec2" else real

    return clients


def job_for(volume_id: str, clients: Any) -> JobFor:
    async def guard() -> None:
        return None

    job = Job(
        decision_id="d-1",
        resource_id=volume_id,
        approver=Approver(id="1", name="alice", via="cli"),
        facts={"volume_type": "gp2", "size_gib": 500, "state": "in-use"},
        tags={},
        snapshot_wait_seconds=5,
        guard=guard,
    )
    return JobFor(clients, job)


async def test_a_modification_made_before_a_crash_is_finished_on_resume_not_skipped(
    ec2: Any, ledger: Ledger, make_deps: Callable[..., ExecutorDeps], clock: Any
) -> None:
    from tests.executor.helpers import Crash

    volume_id = await attached_gp2(ec2, 500)
    finding = await observe(ec2, "ebs-volume", volume_id, CHECK)
    event = await approve(ledger, finding)
    with pytest.raises(Crash):  # ModifyVolume reached AWS, then the executor died
        await handle_approval(event, make_deps(wrap=lambda c: Wrapped(c, "modify_volume", when="after")))
    assert (await state_of(ledger, finding.key)).state is State.EXECUTING
    clock.advance(31)  # the dead attempt's claim expires; the redelivery takes over

    spy = Spy()
    await handle_approval(event, make_deps(wrap=spy.wrap))

    done = await state_of(ledger, finding.key)
    assert done.state is State.EXECUTED, done.get("skip_reason")
    assert done.get("action") == "modify_to_gp3" and done.get("modification_state") == "completed"
    assert Decimal(str(done.get("realised_monthly_saving_usd"))) == Decimal("5.0000")
    assert spy.modify_calls == []  # finished, not modified twice
