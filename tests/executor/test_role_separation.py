"""Least privilege across accounts: the scan role reads, the clean-up role cleans up, each held to the
policy generated from the registries (terraform/modules/member-roles/permissions.json).

moto lets an assumed role do anything, so these run through a proxy that enforces each role's generated
action list as IAM would (tests/fakes/aws_proxy.py): a call outside it is refused with AccessDenied.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from services.executor.handler import ExecutorDeps, handle_approval
from shared.aws import AwsClients
from shared.config import Settings
from shared.errors import PermanentError
from shared.ledger import Ledger, State
from shared.member_policies import PERMISSIONS_FILE
from tests.executor.helpers import REGION, approve, idle_volume, state_of, volume_exists
from tests.executor.test_cross_account import CLEANUP, OTHER, ROLE, scan_other_account
from tests.fakes.aws_proxy import AwsProxy

ADMIN = f"arn:aws:iam::{OTHER}:role/admin"  # the test's own hands in the member account: unrestricted


def generated_policies() -> dict[str, set[str]]:
    document = json.loads(PERMISSIONS_FILE.read_text())
    writes = {action for actions in document["cleanup"]["write"].values() for action in actions}
    return {
        "cloudthrift-scan": set(document["scan"]["read"]),
        "cloudthrift-cleanup": set(document["cleanup"]["read"]) | writes,
    }


@pytest.fixture
async def proxy(moto_endpoint: str) -> AsyncIterator[AwsProxy]:
    proxy = AwsProxy(moto_endpoint, role_policies=generated_policies())
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], proxy: AwsProxy) -> Settings:
    return make_settings(aws_endpoint_url=proxy.endpoint)


@pytest.fixture
async def admin_ec2(aws: AwsClients) -> Any:
    return await aws.client("ec2", REGION, role_arn=ADMIN)


async def test_the_scan_role_cannot_delete(aws: AwsClients, admin_ec2: Any, proxy: AwsProxy) -> None:
    volume = await idle_volume(admin_ec2)
    scan_ec2 = await aws.client("ec2", REGION, role_arn=ROLE)
    assert await volume_exists(scan_ec2, volume)  # it reads
    with pytest.raises(ClientError, match="UnauthorizedOperation"):
        await scan_ec2.delete_volume(VolumeId=volume)
    assert await volume_exists(admin_ec2, volume)
    assert proxy.refused == [(ROLE, "ec2:DeleteVolume")]


async def test_a_scan_and_its_clean_up_stay_within_their_generated_policies(
    aws: AwsClients,
    ledger: Ledger,
    admin_ec2: Any,
    proxy: AwsProxy,
    make_deps: Callable[..., ExecutorDeps],
) -> None:
    volume = await idle_volume(admin_ec2)
    [finding] = await scan_other_account(aws, ledger)
    await handle_approval(await approve(ledger, finding, create=False), make_deps())

    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED, decision.attrs
    assert not await volume_exists(admin_ec2, volume)
    assert proxy.refused == []  # every call of the scan and the snapshot-then-delete was granted
    assert set(aws.assumed) >= {ROLE, CLEANUP}


async def test_an_executor_pointed_at_the_scan_role_cannot_clean_up(
    aws: AwsClients,
    ledger: Ledger,
    admin_ec2: Any,
    proxy: AwsProxy,
    make_deps: Callable[..., ExecutorDeps],
) -> None:
    volume = await idle_volume(admin_ec2)
    [finding] = await scan_other_account(aws, ledger)
    event = await approve(ledger, finding, create=False)

    with pytest.raises(PermanentError):
        await handle_approval(event, make_deps(cleanup_role_name="cloudthrift-scan"))

    assert (await state_of(ledger, finding.key)).state is State.FAILED
    assert await volume_exists(admin_ec2, volume)
    assert {action for role, action in proxy.refused if role == ROLE} & {
        "ec2:CreateSnapshot",
        "ec2:DeleteVolume",
    }
