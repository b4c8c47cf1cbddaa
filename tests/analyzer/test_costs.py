"""Token costs come from the dated price table; the default model is priced."""

from __future__ import annotations

from decimal import Decimal

from services.analyzer.costs import load_model_prices
from shared.config import Settings


def test_default_model_is_in_the_price_table_with_source_and_date():
    prices = load_model_prices()
    default = Settings.model_fields["gemini_model"].default
    assert default in prices.models
    assert prices.source.startswith("https://ai.google.dev/") and prices.as_of == "2026-10-07"


def test_cost_of_a_call():
    prices = load_model_prices()
    # 1,000 in at $0.30/M + 200 out at $2.50/M
    assert prices.cost("gemini-3.5-flash-lite", 1000, 200) == Decimal("0.000800")
    assert prices.cost("models/gemini-2.5-flash-lite", 1_000_000, 0) == Decimal("0.100000")
    assert prices.cost("some-future-model", 10, 10) is None
