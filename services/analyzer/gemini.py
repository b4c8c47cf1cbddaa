"""The one Gemini call: structured output, bounded in size, time and concurrency, every failure typed.

google-genai facts this relies on (PROTOCOLS B): 3.6.1 defaults to API `v1`, so `v1beta` is pinned;
the SDK retries nothing unless given `HttpRetryOptions` (it then retries 408/429/5xx with jittered
backoff); `HttpOptions.timeout` is in milliseconds and bounds one attempt; `response.parsed` is
silently None when the JSON does not validate, so the text is validated here, with the reason kept;
a candidate that stopped for any reason but STOP (MAX_TOKENS, SAFETY...) is not an answer.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import certifi
from google import genai
from google.genai import errors, types
from pydantic import ConfigDict, ValidationError

from services.analyzer.answers import GeminiAnswer, GeminiFailure
from services.analyzer.prompt import SYSTEM_INSTRUCTION, AnalysisDraft, user_content
from shared.config import Settings
from shared.events import Analysis, Finding

RETRY_STATUS_CODES = [408, 429, 500, 502, 503, 504]


class _StrictDraft(AnalysisDraft):
    """Validation is stricter than the schema sent: the Gemini API rejects `additionalProperties`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


@dataclass(frozen=True)
class GeminiOptions:
    model: str
    max_output_tokens: int = 1024
    temperature: float = 0.2
    timeout_seconds: float = 15
    retry_attempts: int = 3
    retry_initial_delay: float = 1.0
    retry_max_delay: float = 10.0
    max_concurrency: int = 16

    @classmethod
    def from_settings(cls, settings: Settings) -> GeminiOptions:
        return cls(
            model=settings.gemini_model,
            max_output_tokens=settings.gemini_max_output_tokens,
            temperature=settings.gemini_temperature,
            timeout_seconds=settings.gemini_timeout_seconds,
            retry_attempts=settings.gemini_retry_attempts,
            retry_initial_delay=settings.gemini_retry_initial_delay,
            retry_max_delay=settings.gemini_retry_max_delay,
            max_concurrency=settings.gemini_max_concurrency,
        )

    @property
    def deadline_seconds(self) -> float:
        """Every attempt plus every backoff: the outer bound on one analysis, whatever the SDK does."""
        return self.retry_attempts * self.timeout_seconds + (self.retry_attempts - 1) * (
            self.retry_max_delay + 1
        )


def tls_context() -> ssl.SSLContext:
    """The one verifying TLS context the client's transports share.

    Left to itself, `genai.Client` builds three, each with its own copy of the CA store: httpx2's (the
    SDK also builds sync and async httpx2 clients, which this module never uses), aiohttp's and the
    websocket's (1.3 MiB of RSS per analyzer between them). This is the SDK's own default for aiohttp,
    the transport every call here goes through: certifi's CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR.
    """
    return ssl.create_default_context(
        cafile=os.environ.get("SSL_CERT_FILE", certifi.where()), capath=os.environ.get("SSL_CERT_DIR")
    )


def make_client(api_key: str, options: GeminiOptions, base_url: str | None = None) -> genai.Client:
    tls = tls_context()
    http = types.HttpOptions(
        base_url=base_url,
        api_version="v1beta",  # pinned: the SDK's default moved to v1 in 3.x
        timeout=int(options.timeout_seconds * 1000),  # milliseconds
        retry_options=types.HttpRetryOptions(
            attempts=options.retry_attempts,
            initial_delay=options.retry_initial_delay,
            max_delay=options.retry_max_delay,
            http_status_codes=RETRY_STATUS_CODES,
        ),
        # httpx2 reads `verify`, aiohttp and the websocket `ssl`; the SDK drops the keys a transport
        # does not take. No `transport` key, so the async calls stay on aiohttp.
        client_args={"verify": tls},
        async_client_args={"verify": tls, "ssl": tls},
    )
    return genai.Client(api_key=api_key, http_options=http)


def generation_config(options: GeminiOptions) -> types.GenerateContentConfig:
    # 2.x models take a thinking budget (0 = off); 3.x models take a level, MINIMAL being the one
    # Google recommends for JSON extraction. Thinking tokens are billed as output, so keep it minimal.
    thinking = (
        types.ThinkingConfig(thinking_budget=0)
        if options.model.removeprefix("models/").startswith("gemini-2")
        else types.ThinkingConfig(thinking_level=types.ThinkingLevel.MINIMAL)
    )
    return types.GenerateContentConfig(
        system_instruction=SYSTEM_INSTRUCTION,
        response_mime_type="application/json",
        response_schema=AnalysisDraft,
        temperature=options.temperature,  # 3.5-flash-lite ignores custom values; 2.x honours them
        max_output_tokens=options.max_output_tokens,
        candidate_count=1,
        thinking_config=thinking,
    )


class GeminiAnalyst:
    """Asks Gemini for one finding's analysis; raises `GeminiFailure` for anything but a valid answer."""

    def __init__(self, client: genai.Client, options: GeminiOptions) -> None:
        self._client = client
        self._options = options
        self._config = generation_config(options)
        self._slots = asyncio.Semaphore(options.max_concurrency)

    @property
    def model(self) -> str:
        return self._options.model

    async def aclose(self) -> None:
        await self._client.aio.aclose()

    async def analyse(self, finding: Finding, now: datetime) -> GeminiAnswer:
        contents = user_content(finding, now)
        async with self._slots:
            try:
                async with asyncio.timeout(self._options.deadline_seconds):
                    response = await self._client.aio.models.generate_content(
                        model=self._options.model, contents=contents, config=self._config
                    )
            except errors.APIError as exc:
                raise _api_failure(exc) from None
            except TimeoutError:
                raise GeminiFailure(
                    "timeout", f"no answer within {self._options.timeout_seconds:g}s"
                ) from None
            except (aiohttp.ClientError, OSError) as exc:
                raise GeminiFailure("connection", f"{type(exc).__name__}: {exc}"[:300]) from None
        return self._read(response)

    def _read(self, response: types.GenerateContentResponse) -> GeminiAnswer:
        usage = response.usage_metadata
        tokens_in = (usage.prompt_token_count or 0) if usage else 0
        tokens_out = ((usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)) if usage else 0
        billed: dict[str, Any] = {"tokens_in": tokens_in, "tokens_out": tokens_out}
        if not response.candidates:
            feedback = response.prompt_feedback
            reason = feedback.block_reason if feedback and feedback.block_reason else "no candidate"
            raise GeminiFailure("blocked", f"prompt blocked: {reason}", **billed)
        candidate = response.candidates[0]
        finish = candidate.finish_reason
        if finish == types.FinishReason.MAX_TOKENS:
            raise GeminiFailure("truncated", "answer cut at max_output_tokens", **billed)
        if finish not in (types.FinishReason.STOP, None):
            raise GeminiFailure("blocked", f"stopped with finish_reason {finish}", **billed)
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        text = "".join(part.text for part in parts if part.text and not part.thought)
        try:
            draft = _StrictDraft.model_validate_json(text)
            analysis = Analysis(**draft.model_dump(), source=self._options.model)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "answer"
            raise GeminiFailure(
                "invalid", f"{where}: {first['msg']} ({exc.error_count()} error(s))", **billed
            ) from None
        return GeminiAnswer(analysis=analysis, tokens_in=tokens_in, tokens_out=tokens_out)


def _api_failure(exc: errors.APIError) -> GeminiFailure:
    code = exc.code or 0
    detail = f"HTTP {code} {exc.status or ''}: {exc.message or ''}".strip()[:300]
    if code == 429:
        return GeminiFailure("quota", detail)
    if code == 408:
        return GeminiFailure("timeout", detail)
    if code >= 500:
        return GeminiFailure("server_error", detail)
    return GeminiFailure("client_error", detail)
