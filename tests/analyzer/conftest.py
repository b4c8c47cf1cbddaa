"""Analyzer fixtures: a real GeminiAnalyst (google-genai) pointed at the fake, with short timings."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiobotocore.session import get_session

from services.analyzer.gemini import GeminiAnalyst, GeminiOptions, make_client
from shared.aws import AwsClients
from shared.bootstrap import BootstrapReport, _ensure_table
from shared.config import Settings
from shared.ledger import Ledger
from tests.fakes.gemini import FakeGemini

MODEL = "gemini-3.5-flash-lite"
# One botocore session for the module: its loader keeps the parsed service models between tests.
_SESSION = get_session()
# Short enough for a quick suite, long enough for a loaded 2-core machine to answer a local fake.
FAST = GeminiOptions(
    model=MODEL,
    timeout_seconds=2.0,
    retry_attempts=3,
    retry_initial_delay=0.01,
    retry_max_delay=0.02,
    max_concurrency=4,
)


@pytest.fixture
async def analyst(fake_gemini: FakeGemini) -> AsyncIterator[GeminiAnalyst]:
    made = GeminiAnalyst(make_client(fake_gemini.api_key, FAST, fake_gemini.base_url), FAST)
    yield made
    await made.aclose()


def pytest_configure(config: pytest.Config) -> None:
    # google-genai 3.6.1 subclasses aiohttp.ClientSession, which aiohttp 3.14 discourages: not ours.
    config.addinivalue_line(
        "filterwarnings", "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
    )


@pytest.fixture
async def ledger(settings: Settings) -> AsyncIterator[Ledger]:
    """Only the ledger table on moto (the handler needs no queue): a third of `runtime`'s set-up time."""
    async with AwsClients(settings, session=_SESSION) as aws:
        dynamodb = await aws.client("dynamodb")
        await _ensure_table(dynamodb, settings.table_name, BootstrapReport())
        yield Ledger(dynamodb, settings.table_name)
