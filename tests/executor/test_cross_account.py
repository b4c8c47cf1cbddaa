"""Clean-ups in another account, through that account's clean-up role (never the scan role the
finding was seen with): moto keeps accounts apart.

Credentials from STS AssumeRole on a role of account 111111111111 act in that account on moto (its
volumes are not the home account's), so these tests show where the executor really acted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aiobotocore.session import AioSession

from services.executor.handler import ExecutorDeps, handle_approval
from services.scanner.handler import ScannerDeps, ScanPolicy, handle_scan
from shared.aws import AwsClients
from shared.config import Settings
from shared.errors import PermanentError
from shared.events import DecisionKey, Envelope, Finding, ScanRequested
from shared.kinds.pricing import load_prices
from shared.ledger import Ledger, State
from tests.executor.helpers import (
    ACCOUNT,
    REGION,
    Clients,
    Clock,
    approve,
    idle_volume,
    observe,
    snapshots_of,
    state_of,
    volume_exists,
)

OTHER = "111111111111"
ROLE = f"arn:aws:iam::{OTHER}:role/cloudthrift-scan"
CLEANUP = f"arn:aws:iam::{OTHER}:role/cloudthrift-cleanup"


@pytest.fixture
async def other_ec2(aws: AwsClients) -> Any:
    """EC2 in account 111111111111, as its role sees it."""
    return await aws.client("ec2", REGION, role_arn=ROLE)


async def scan_other_account(aws: AwsClients, ledger: Ledger, role: str = ROLE) -> list[Finding]:
    """A real scan of another account through its role (records the FOUND items)."""
    deps = ScannerDeps(
        aws=aws,
        ledger=ledger,
        prices=load_prices(),
        policy=ScanPolicy(min_age=timedelta(0), regions=(REGION,), kinds=("ebs-volume",)),
    )
    found = await handle_scan(Envelope.wrap(ScanRequested(role_arn=role)), deps)
    return [event.finding for event in found]


async def test_moto_keeps_the_role_account_apart_from_the_home_account(ec2: Any, other_ec2: Any) -> None:
    """The premise of every test below: a volume made through the role is not in the home account."""
    volume = await idle_volume(other_ec2)
    assert await volume_exists(other_ec2, volume)
    assert not await volume_exists(ec2, volume)


async def test_a_volume_scanned_through_a_role_is_deleted_in_that_account_only(
    aws: AwsClients, ledger: Ledger, ec2: Any, other_ec2: Any, make_deps: Callable[..., ExecutorDeps]
) -> None:
    theirs = await idle_volume(other_ec2)
    ours = await idle_volume(ec2)  # same shape, home account: never part of the scan or the approval
    [finding] = await scan_other_account(aws, ledger)
    assert finding.key == DecisionKey(
        account_id=OTHER, region=REGION, kind="ebs-volume", check="unattached", resource_id=theirs
    )
    assert finding.role_arn == ROLE
    event = await approve(ledger, finding, create=False)

    deps = make_deps()
    assert await handle_approval(event, deps) == []

    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED, decision.attrs
    assert decision.get("action") == "snapshot_then_delete"
    assert not await volume_exists(other_ec2, theirs)
    [snapshot] = await snapshots_of(other_ec2, theirs)
    assert snapshot["SnapshotId"] == decision.get("snapshot_id")
    assert snapshot["OwnerId"] == OTHER
    # The home account is untouched: its volume is there and nothing was snapshotted in it.
    assert await volume_exists(ec2, ours)
    assert await snapshots_of(ec2, ours) == []
    assert await snapshots_of(ec2, theirs) == []
    # The scan assumed the scan role, the executor the clean-up role of the same account, once each.
    assert aws.assumed == {ROLE: 1, CLEANUP: 1}


async def test_a_dry_run_rehearses_in_the_role_account(
    aws: AwsClients, ledger: Ledger, other_ec2: Any, make_deps: Callable[..., ExecutorDeps]
) -> None:
    theirs = await idle_volume(other_ec2)
    [finding] = await scan_other_account(aws, ledger)
    event = await approve(ledger, finding, create=False)

    await handle_approval(event, make_deps(dry_run=True))

    decision = await state_of(ledger, finding.key)
    # Acting in the home account, the re-check would find no such volume and skip.
    assert decision.state is State.EXECUTED and decision.get("dry_run") is True, decision.attrs
    assert await volume_exists(other_ec2, theirs)


async def test_the_role_comes_from_the_ledger_not_from_the_message(
    aws: AwsClients, ledger: Ledger, other_ec2: Any, make_deps: Callable[..., ExecutorDeps]
) -> None:
    theirs = await idle_volume(other_ec2)
    [finding] = await scan_other_account(aws, ledger)
    event = await approve(ledger, finding, create=False)
    # A message naming another account's role (same fingerprint: the role is not part of it).
    forged_finding = finding.model_copy(update={"role_arn": "arn:aws:iam::222222222222:role/elsewhere"})
    forged = Envelope.wrap(event.payload.model_copy(update={"finding": forged_finding}))
    assert forged.payload.fingerprint == forged_finding.fingerprint

    deps = make_deps()
    await handle_approval(forged, deps)

    assert (await state_of(ledger, finding.key)).state is State.EXECUTED
    assert not await volume_exists(other_ec2, theirs)
    assert set(aws.assumed) == {ROLE, CLEANUP}


async def test_a_role_of_another_account_than_the_decision_is_refused(
    aws: AwsClients, ledger: Ledger, other_ec2: Any, make_deps: Callable[..., ExecutorDeps]
) -> None:
    theirs = await idle_volume(other_ec2)
    # Approved as a home-account decision, but recorded with a role that reaches account 111111111111.
    finding = (await observe(other_ec2, "ebs-volume", theirs)).model_copy(update={"role_arn": ROLE})
    assert finding.key.account_id == ACCOUNT != OTHER
    event = await approve(ledger, finding)

    deps = make_deps()
    with pytest.raises(PermanentError, match="not in account 123456789012"):
        await handle_approval(event, deps)

    decision = await state_of(ledger, finding.key)
    assert decision.state is State.FAILED
    assert decision.get("error_code") == "RoleRefused"
    assert await volume_exists(other_ec2, theirs)
    assert await snapshots_of(other_ec2, theirs) == []
    assert aws.assumed == {ROLE: 1}  # the test's own client's: nothing more


async def test_credentials_are_reused_until_shortly_before_they_expire(
    settings: Settings, botocore_session: AioSession, ledger: Ledger, make_deps: Callable[..., ExecutorDeps]
) -> None:
    """botocore's refreshable credentials renew the role 15 minutes before expiry, on the factory's clock."""
    clock = Clock()
    async with AwsClients(settings, session=botocore_session, clock=clock) as aws:
        other_ec2 = await aws.client("ec2", REGION, role_arn=ROLE)
        volumes = [await idle_volume(other_ec2) for _ in range(3)]
        findings = {f.key.resource_id: f for f in await scan_other_account(aws, ledger)}
        deps = make_deps(aws=Clients(aws))
        for volume in volumes[:2]:
            await handle_approval(await approve(ledger, findings[volume], create=False), deps)
        assert aws.assumed == {ROLE: 1, CLEANUP: 1}
        clock.advance(3600)  # moto's credentials last an hour
        await handle_approval(await approve(ledger, findings[volumes[2]], create=False), deps)
        # Renewed. (moto dates new credentials by the real clock, which the test's clock is an hour
        # ahead of, so from here on every use finds them about to expire and renews them again.)
        assert aws.assumed[CLEANUP] >= 2
        for volume in volumes:
            assert (await state_of(ledger, findings[volume].key)).state is State.EXECUTED
            assert not await volume_exists(other_ec2, volume)


async def test_fifty_cross_account_scans_keep_a_bounded_number_of_clients(
    aws: AwsClients, ledger: Ledger
) -> None:
    """Clients are cached per service, region and role: scans through the same roles add none."""
    roles = [f"arn:aws:iam::{account}:role/cloudthrift-scan" for account in (OTHER, "222222222222")]
    for role in roles:
        await idle_volume(await aws.client("ec2", REGION, role_arn=role))
    before = aws.open_clients
    for index in range(50):
        await scan_other_account(aws, ledger, role=roles[index % 2])
    after_first_pass = aws.open_clients
    for index in range(50):
        await scan_other_account(aws, ledger, role=roles[index % 2])
    assert aws.open_clients == after_first_pass <= before + 2 * len(roles)  # + STS per role
    assert aws.assumed == dict.fromkeys(roles, 1)
