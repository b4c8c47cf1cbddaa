"""The member roles' policies are generated from the registries, and they are enough: a scan of an estate
holding every kind, through the scan role held to its generated policy, is refused nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiobotocore.session import AioSession

from services.estate import moto_backdater, seed_estate
from services.scanner.handler import ScannerDeps, ScanPolicy, handle_scan
from shared.config import Settings
from shared.events import Envelope, ScanRequested
from shared.kinds import discover
from shared.kinds.pricing import load_prices
from shared.member_policies import PERMISSIONS_FILE, is_read, member_permissions, outputs, render
from shared.worker import Runtime
from tests.conftest import runtime_behind_proxy
from tests.executor.test_role_separation import generated_policies
from tests.fakes.aws_proxy import AwsProxy

HOME_SCAN_ROLE = "arn:aws:iam::123456789012:role/cloudthrift-scan"


def test_the_checked_in_policies_are_what_the_registries_generate() -> None:
    """Both outputs: the terraform the member module applies, and the JSON lists beside it."""
    for path, text in outputs(discover()).items():
        assert path.read_text() == text, f"{path} is stale: run python -m shared.member_policies"
    assert PERMISSIONS_FILE.read_text() == render(discover())


def test_the_scan_role_only_reads_and_every_remedy_action_is_in_the_cleanup_role() -> None:
    document = member_permissions(discover())
    assert all(is_read(action) for action in document["scan"]["read"])
    assert not any(
        action.split(":")[1].startswith(("Delete", "Release", "Modify"))
        for action in document["scan"]["read"]
    )
    cleanup = set(document["cleanup"]["read"]) | {
        a for group in document["cleanup"]["write"].values() for a in group
    }
    for _, kind in discover():
        for _, remedy in kind.remedies:
            assert set(remedy.permissions) <= cleanup, remedy


@pytest.fixture
async def enforcing(
    moto_endpoint: str, make_settings: Callable[..., Settings], aws_session: AioSession
) -> AsyncIterator[tuple[Runtime, AwsProxy]]:
    async with runtime_behind_proxy(
        moto_endpoint, make_settings, aws_session, role_policies=generated_policies()
    ) as both:
        yield both


async def test_a_scan_of_every_kind_through_the_scan_role_is_refused_nothing(
    enforcing: tuple[Runtime, AwsProxy],
) -> None:
    runtime, proxy = enforcing
    now = datetime.now(UTC)
    estate = await seed_estate(runtime.aws, ("us-east-1",), backdate=moto_backdater(), now=now)
    deps = ScannerDeps(
        aws=runtime.aws,
        ledger=runtime.ledger,
        prices=load_prices(),
        policy=ScanPolicy(regions=("us-east-1",), min_age=timedelta(days=7)),
        clock=lambda: now,
    )
    found = await handle_scan(Envelope.wrap(ScanRequested(role_arn=HOME_SCAN_ROLE)), deps)

    assert proxy.refused == []
    assert {f.finding.kind for f in found} == set(discover().names())
    assert len(found) == sum(1 for seeded in estate if seeded.expectation == "idle")
