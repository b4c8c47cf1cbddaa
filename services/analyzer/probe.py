"""Ask the configured Gemini about one sample finding: does the key work, does the model answer?

Shared by `cloudthrift analysis try` (prints the answer) and `cloudthrift doctor` (one pass/fail line),
so both test exactly what the analyzer will call: same client, options, prompt and validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from services.analyzer.gemini import GeminiAnalyst, GeminiAnswer, GeminiFailure, GeminiOptions, make_client
from shared.config import Settings
from shared.events import CostEstimate, DecisionKey, Finding


def sample_finding(region: str, now: datetime) -> Finding:
    """An unattached 100 GiB gp3 volume: an ordinary finding, nothing real in it."""
    return Finding(
        key=DecisionKey(
            account_id="000000000000",
            region=region,
            kind="ebs-volume",
            check="unattached",
            resource_id="vol-sample",
        ),
        facts={"volume_type": "gp3", "size_gib": 100, "state": "available", "name": "scratch-sample"},
        tags={"Name": "scratch-sample"},
        created_at=now - timedelta(days=60),
        idle_since=now - timedelta(days=30),
        idle_reason="volume is unattached (state 'available')",
        cost=CostEstimate(
            monthly_usd=Decimal("8"),
            snapshot_monthly_usd=Decimal("5"),
            net_monthly_saving_usd=Decimal("3"),
            price_source="sample",
            price_date=now.date().isoformat(),
        ),
        scan_id="analysis-try",
    )


@dataclass(frozen=True)
class Probe:
    model: str
    answer: GeminiAnswer | None = None
    failure: str | None = None  # why Gemini did not answer usefully


async def ask(settings: Settings, sample: Finding, now: datetime) -> Probe:
    """One real call through the analyzer's own client; the settings must hold a key."""
    assert settings.gemini_api_key is not None, "ask() needs GEMINI_API_KEY"
    options = GeminiOptions.from_settings(settings)
    analyst = GeminiAnalyst(
        make_client(settings.gemini_api_key.get_secret_value(), options, settings.gemini_base_url), options
    )
    try:
        return Probe(options.model, answer=await analyst.analyse(sample, now))
    except GeminiFailure as failure:
        return Probe(options.model, failure=str(failure))
    finally:
        await analyst.aclose()
