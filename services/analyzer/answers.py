"""What a Gemini call can end in, without importing the SDK (the rules-only path never loads it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.events import Analysis

FailureKind = Literal[
    "timeout", "quota", "server_error", "client_error", "connection", "blocked", "truncated", "invalid"
]
# Failures that say Gemini itself is unwell: they count towards opening the circuit breaker. The
# others (an answer that did not validate, a safety stop) say something about one finding only.
SERVICE_FAILURES: frozenset[FailureKind] = frozenset(
    {"timeout", "quota", "server_error", "client_error", "connection"}
)


class GeminiFailure(Exception):
    """Gemini gave no usable analysis; tokens are what was billed anyway (0 when nothing came back)."""

    def __init__(self, kind: FailureKind, detail: str, *, tokens_in: int = 0, tokens_out: int = 0) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.tokens_in = tokens_in
        self.tokens_out = tokens_out

    @property
    def counts_against_service(self) -> bool:
        return self.kind in SERVICE_FAILURES


@dataclass(frozen=True)
class GeminiAnswer:
    analysis: Analysis
    tokens_in: int
    tokens_out: int
