"""Shared fixtures: one moto server over HTTP for the whole session, reset before every test.

Our code talks to it exactly as it talks to AWS (aiobotocore over HTTP via AWS_ENDPOINT_URL); nothing
of ours is patched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from aiobotocore.session import AioSession, get_session

from services.embedded_aws import EmbeddedAws
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.worker import Runtime, open_runtime
from tests.fakes.aws_proxy import AwsProxy
from tests.registrations import foreign_registrations, take_out, throwaway_kind

# The fakes of Discord and Gemini live in their own modules; their fixtures are shared from here.
pytest_plugins = ("tests.fakes.gemini", "tests.fakes.discord")

# Dummy credentials so botocore never looks for real ones; set before any client is created.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
)
os.environ.pop("AWS_PROFILE", None)
# moto's embedded werkzeug server logs every request; failures should show our logs, not those.
logging.getLogger("werkzeug").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = EmbeddedAws()
    yield server.start()
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from an empty account, and any code reading the environment finds moto."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=60).read()  # a busy shared machine can take seconds
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    for name in list(os.environ):
        if name.startswith(("CLOUDTHRIFT_", "DISCORD_", "GEMINI_", "GOOGLE_")):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _datadog_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """No spans and no DogStatsD unless a test asks (tests/telemetry turns them back on)."""
    for name in list(os.environ):
        if name.startswith("DD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DD_TRACE_ENABLED", "false")
    monkeypatch.setenv("DD_DOGSTATSD_DISABLE", "true")


@pytest.fixture(autouse=True)
def _no_leaked_registrations() -> Iterator[None]:
    """The kinds' registries are global: a test leaving its own kind, check or remedy registered fails
    here, by name, and the entry is taken out so the tests after it are not affected."""
    yield
    leaked = foreign_registrations()
    if leaked:
        take_out(leaked)
        pytest.fail(f"left registered by this test: {leaked} (register through the throwaway_kind fixture)")


@pytest.fixture
def throwaway() -> Iterator[ModuleType]:
    """tests/kinds/throwaway_topic.py, registered as the kind `throwaway-topic` for this test only."""
    with throwaway_kind() as module:
        yield module


@pytest.fixture
def make_settings(moto_endpoint: str) -> Callable[..., Settings]:
    """Settings for tests: moto endpoint, short polls, no .env file."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "aws_endpoint_url": moto_endpoint,
            "aws_region": "us-east-1",
            "cloudthrift_wait_time_seconds": 1,
            "cloudthrift_visibility_timeout": 30,
            "cloudthrift_drain_seconds": 5,
            "cloudthrift_aws_max_attempts": 3,
            "cloudthrift_log_format": "json",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
def aws_session() -> AioSession:
    """One botocore session for the whole run: loading the service models costs seconds per session."""
    return get_session()


@pytest.fixture
async def runtime(settings: Settings, aws_session: AioSession) -> AsyncIterator[Runtime]:
    """Queues, DLQs and table bootstrapped on moto, and the runtime every worker uses."""
    async with AwsClients(settings, session=aws_session) as aws:
        await bootstrap(settings, aws)
    async with open_runtime(settings, session=aws_session) as opened:
        yield opened


@contextlib.asynccontextmanager
async def runtime_behind_proxy(
    moto_endpoint: str,
    make_settings: Callable[..., Settings],
    aws_session: AioSession,
    **proxy_options: Any,
) -> AsyncIterator[tuple[Runtime, AwsProxy]]:
    """A bootstrapped runtime whose every AWS request goes through tests/fakes/aws_proxy.py: counted,
    delayed per region, or held to IAM policies, as `proxy_options` say."""
    proxy = AwsProxy(moto_endpoint, **proxy_options)
    await proxy.start()
    try:
        settings = make_settings(aws_endpoint_url=proxy.endpoint)
        async with AwsClients(settings, session=aws_session) as aws:
            await bootstrap(settings, aws)
        async with open_runtime(settings, session=aws_session) as runtime:
            yield runtime, proxy
    finally:
        await proxy.stop()


@pytest.fixture
async def counted(
    moto_endpoint: str, make_settings: Callable[..., Settings], aws_session: AioSession
) -> AsyncIterator[tuple[Runtime, AwsProxy]]:
    """The runtime with every AWS request counted at the proxy (request budgets)."""
    async with runtime_behind_proxy(moto_endpoint, make_settings, aws_session) as both:
        yield both
