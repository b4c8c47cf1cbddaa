"""What a Gemini call costs: tokens in and out priced from a dated table shipped as data.

Prices change more often than code, so they live in `model_prices.json` with their source and date; a
model missing from the table is still called, its cost is just unknown (None) rather than guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

_PER = Decimal(1_000_000)


@dataclass(frozen=True)
class ModelPrice:
    input_per_million: Decimal
    output_per_million: Decimal


@dataclass(frozen=True)
class ModelPrices:
    models: dict[str, ModelPrice]
    source: str
    as_of: str

    def cost(self, model: str, tokens_in: int, tokens_out: int) -> Decimal | None:
        """USD for one call, or None when the model is not in the table."""
        price = self.models.get(model.removeprefix("models/"))
        if price is None:
            return None
        total = tokens_in * price.input_per_million + tokens_out * price.output_per_million
        return (total / _PER).quantize(Decimal("0.000001"))


def load_model_prices(raw: dict[str, Any] | None = None) -> ModelPrices:
    """The shipped table, or `raw` in the same shape (tests, a refreshed copy)."""
    if raw is None:
        text = resources.files("services.analyzer").joinpath("model_prices.json").read_text()
        raw = json.loads(text)
    return ModelPrices(
        models={
            name: ModelPrice(Decimal(entry["input"]), Decimal(entry["output"]))
            for name, entry in raw["models"].items()
        },
        source=raw["source"],
        as_of=raw["as_of"],
    )
