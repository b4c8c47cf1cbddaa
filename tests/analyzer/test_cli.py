"""`cloudthrift analysis ...` against moto and the fake (the CLI runs in a thread: it owns its loop)."""

from __future__ import annotations

import asyncio

import structlog
from typer.testing import CliRunner

from services.analyzer.costs import load_model_prices
from services.analyzer.handler import AnalyzerDeps, handle_found
from services.cli import app
from shared.events import Envelope, ResourceFound
from shared.ledger import Ledger
from tests.analyzer.builders import NOW, volume
from tests.fakes.gemini import VALID_ANSWER, FakeGemini


async def _invoke(*args: str, env: dict[str, str] | None = None):
    try:
        return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    finally:
        # The CLI pointed structlog at the runner's captured stderr, closed by now: undo that.
        structlog.reset_defaults()


async def test_try_asks_the_configured_gemini(fake_gemini: FakeGemini):
    result = await _invoke(
        "analysis",
        "try",
        env={"GEMINI_API_KEY": fake_gemini.api_key, "GEMINI_BASE_URL": fake_gemini.base_url},
    )
    assert result.exit_code == 0, result.output
    assert VALID_ANSWER["summary"] in result.output and "tokens in/out" in result.output
    assert len(fake_gemini.requests) == 1


async def test_try_reports_a_failing_gemini(fake_gemini: FakeGemini):
    fake_gemini.default = "invalid_json"
    result = await _invoke(
        "analysis",
        "try",
        env={"GEMINI_API_KEY": fake_gemini.api_key, "GEMINI_BASE_URL": fake_gemini.base_url},
    )
    assert result.exit_code == 1 and "invalid" in result.output


async def test_show_and_spend_read_the_ledger(ledger: Ledger):
    finding = volume(name="scratch-1")
    await ledger.create(finding)
    deps = AnalyzerDeps(ledger=ledger, prices=load_model_prices(), clock=lambda: NOW)
    await handle_found(Envelope.wrap(ResourceFound(finding=finding)), deps)

    shown = await _invoke("analysis", "show", finding.key.resource_id)
    assert shown.exit_code == 0, shown.output
    assert '"source": "rules"' in shown.output and "state=ANALYZED" in shown.output

    spent = await _invoke("analysis", "spend")
    assert "rules: 1 analyses (0 cached, 0 after a Gemini failure)" in spent.output

    missing = await _invoke("analysis", "show", "vol-nope")
    assert missing.exit_code == 1
