"""Executor fixtures: AWS clients sharing one botocore session, the ledger table, and handler deps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiobotocore.session import AioSession, get_session

from services.executor.handler import ExecutionPolicy, ExecutorDeps
from shared.aws import AwsClients
from shared.bootstrap import BootstrapReport, _ensure_table
from shared.config import Settings
from shared.ledger import Ledger
from shared.telemetry.metrics import MemoryMetrics
from tests.executor.helpers import REGION, Clients, Clock, Reporter


@pytest.fixture(scope="session")
def botocore_session() -> AioSession:
    """One botocore session for the run: it caches the parsed service models (EC2's takes seconds)."""
    return get_session()


@pytest.fixture
async def aws(settings: Settings, botocore_session: AioSession) -> AsyncIterator[AwsClients]:
    async with AwsClients(settings, session=botocore_session) as clients:
        yield clients


@pytest.fixture
async def ledger(aws: AwsClients, settings: Settings) -> Ledger:
    """Only the ledger table (the executor reads no queue): a full bootstrap costs seconds per test."""
    dynamodb = await aws.client("dynamodb")
    await _ensure_table(dynamodb, settings.table_name, BootstrapReport())
    return Ledger(dynamodb, settings.table_name)


@pytest.fixture
async def ec2(aws: AwsClients) -> Any:
    return await aws.client("ec2", REGION)


@pytest.fixture
def reporter() -> Reporter:
    return Reporter()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def metrics() -> MemoryMetrics:
    return MemoryMetrics()


@pytest.fixture
def make_deps(
    aws: AwsClients, ledger: Ledger, reporter: Reporter, clock: Clock, metrics: MemoryMetrics
) -> Callable[..., ExecutorDeps]:
    """Deps for the handler; real runs by default (the shipped default is dry-run, tested apart)."""

    def build(
        *,
        wrap: Callable[[Any], Any] | None = None,
        reporter: Any = reporter,
        aws: Any = aws,
        **policy: Any,
    ) -> ExecutorDeps:
        base = ExecutionPolicy(dry_run=False, claim_ttl=timedelta(seconds=30), snapshot_wait_seconds=5)
        return ExecutorDeps(
            aws=aws if isinstance(aws, Clients) else Clients(aws, wrap),
            ledger=ledger,
            reporter=reporter,
            policy=replace(base, **policy),
            clock=clock,
            metrics=metrics,
        )

    return build
