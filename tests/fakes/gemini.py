"""Fake of the Gemini REST API (generateContent), served by aiohttp on loopback.

It checks what google-genai sends (PROTOCOLS B4): `POST /v1beta/models/<model>:generateContent`, the
`x-goog-api-key` header, a JSON body with `systemInstruction`, `contents` ending on a user turn, and a
`generationConfig` asking for JSON with a `responseSchema` (no `additionalProperties`, which the Gemini
Developer API does not take) and a bounded `maxOutputTokens`. A request that breaks a rule gets the
400 INVALID_ARGUMENT the real API gives, and the reason is kept in `problems` for the test to assert.

Each request is answered by the next scripted behaviour (then `default`): a valid answer, invalid
JSON, a MAX_TOKENS cut, a SAFETY stop, a blocked prompt, 429 RESOURCE_EXHAUSTED, 500, 503, or a slow
answer. Token counts are estimates, len(text)/4 (Google's rule of thumb), for prompt and answer.

Run standalone (the benchmark does): `python -m tests.fakes.gemini --latency 0.3` prints `port N`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import resource
import signal
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

API_KEY = "fake-gemini-key"
Behaviour = str | Callable[["Captured"], str]
BEHAVIOURS = ("ok", "invalid_json", "max_tokens", "safety", "blocked", "429", "500", "503", "slow")
_ALLOWED_BODY = {
    "contents",
    "systemInstruction",
    "generationConfig",
    "safetySettings",
    "tools",
    "toolConfig",
    "cachedContent",
    "labels",
}
_STATUS = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 400: "INVALID_ARGUMENT"}

VALID_ANSWER: dict[str, Any] = {
    "summary": "An unattached volume nobody has used for weeks; it still bills every month.",
    "likely_cause": "Left behind when the instance it served was terminated.",
    "risk": "medium",
    "risk_reason": "It may hold the only copy of some data.",
    "recommendation": "snapshot_then_delete",
    "confidence": 0.8,
}


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


@dataclass(frozen=True)
class Captured:
    """One request as the fake received it."""

    version: str
    model: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def system_text(self) -> str:
        parts = (self.body.get("systemInstruction") or {}).get("parts") or []
        return "".join(part.get("text", "") for part in parts)

    @property
    def user_text(self) -> str:
        return "".join(
            part.get("text", "") for turn in self.body.get("contents", []) for part in turn.get("parts", [])
        )

    @property
    def generation_config(self) -> dict[str, Any]:
        return self.body.get("generationConfig") or {}


@dataclass
class FakeGemini:
    api_key: str = API_KEY
    latency: float = 0.0
    slow_seconds: float = 5.0
    answer: dict[str, Any] = field(default_factory=lambda: dict(VALID_ANSWER))
    default: Behaviour = "ok"
    models: frozenset[str] | None = None  # None: any model name is served
    requests: list[Captured] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    output_tokens: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0  # most generateContent requests open at once: what a concurrency bound allows

    def __post_init__(self) -> None:
        self._script: deque[Behaviour] = deque()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def script(self, *behaviours: Behaviour) -> None:
        """Answer the next requests with these behaviours, in order, then with `default`."""
        self._script.extend(behaviours)

    # --- server ----------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application()
        app.router.add_post("/{version}/models/{target}", self._generate)
        app.router.add_get("/_fake/stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://{host}:{bound}"
        return self.base_url

    async def close(self) -> None:
        self._closing.set()  # slow answers stop waiting
        if self._runner is not None:
            await self._runner.cleanup()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    async def _stats(self, request: web.Request) -> web.Response:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return web.json_response(
            {
                "requests": len(self.requests),
                "prompt_tokens": self.prompt_tokens,
                "output_tokens": self.output_tokens,
                "peak_in_flight": self.peak_in_flight,
                "problems": self.problems,
                "cpu_s": usage.ru_utime + usage.ru_stime,  # the whole fake process (standalone mode)
            }
        )

    # --- generateContent -------------------------------------------------------------------------

    async def _generate(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._generate_one(request)
        finally:
            self.in_flight -= 1

    async def _generate_one(self, request: web.Request) -> web.Response:
        version = request.match_info["version"]
        model, _, method = request.match_info["target"].partition(":")
        if version != "v1beta" or method != "generateContent":
            return self._refuse(404, f"unexpected {request.method} {request.path}")
        if request.headers.get("x-goog-api-key") != self.api_key:
            return self._refuse(400, "API key not valid. Please pass a valid API key.")
        if not request.content_type == "application/json":
            return self._refuse(400, f"content type {request.content_type!r}")
        try:
            body = await request.json()
        except ValueError:
            return self._refuse(400, "body is not JSON")
        captured = Captured(version, model, dict(request.headers), body)
        self.requests.append(captured)
        problem = self._check(captured)
        if problem:
            return self._refuse(400, problem)
        behaviour = self._script.popleft() if self._script else self.default
        if self.latency:
            await self._pause(self.latency)
        prompt_tokens = estimate_tokens(captured.system_text + captured.user_text)
        return await self._answer(behaviour, captured, prompt_tokens)

    def _check(self, req: Captured) -> str | None:
        if self.models is not None and req.model not in self.models:
            return f"model {req.model!r} is not served"
        unknown = set(req.body) - _ALLOWED_BODY
        if unknown:
            return f"unknown body field(s) {sorted(unknown)}"
        contents = req.body.get("contents") or []
        if not contents or contents[-1].get("role", "user") != "user":
            return "contents must end with a user turn"
        if not req.system_text:
            return "no systemInstruction"
        config = req.generation_config
        if config.get("responseMimeType") != "application/json":
            return "responseMimeType is not application/json"
        schema = config.get("responseSchema")
        if not isinstance(schema, dict) or schema.get("type") != "OBJECT" or not schema.get("required"):
            return "responseSchema is not an OBJECT schema with required properties"
        if "additionalProperties" in json.dumps(schema) or "additional_properties" in json.dumps(schema):
            return "additionalProperties is not supported by the Gemini Developer API"
        max_tokens = config.get("maxOutputTokens")
        if not isinstance(max_tokens, int) or not 1 <= max_tokens <= 65_536:
            return f"maxOutputTokens must be 1..65536 (got {max_tokens!r})"
        temperature = config.get("temperature", 1.0)
        if not 0 <= temperature <= 2:
            return f"temperature {temperature} out of range"
        return None

    def _refuse(self, status: int, message: str) -> web.Response:
        self.problems.append(message)
        return _error(status, message)

    async def _answer(self, behaviour: Behaviour, req: Captured, prompt_tokens: int) -> web.Response:
        if callable(behaviour):
            return self._candidate(behaviour(req), "STOP", prompt_tokens)
        good = json.dumps(self.answer)
        if behaviour == "ok":
            return self._candidate(good, "STOP", prompt_tokens)
        if behaviour == "slow":
            await self._pause(self.slow_seconds)
            return self._candidate(good, "STOP", prompt_tokens)
        if behaviour == "invalid_json":
            return self._candidate(good[: len(good) // 2] + "} oops", "STOP", prompt_tokens)
        if behaviour == "max_tokens":
            return self._candidate(good[: len(good) // 3], "MAX_TOKENS", prompt_tokens)
        if behaviour in ("safety", "blocked"):  # billed for the prompt, no usable candidate
            self.prompt_tokens += prompt_tokens
            usage = {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens}
            if behaviour == "blocked":
                return web.json_response(
                    {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage}
                )
            rating = {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}
            candidate = {"finishReason": "SAFETY", "index": 0, "safetyRatings": [rating]}
            return web.json_response({"candidates": [candidate], "usageMetadata": usage})
        if behaviour in ("429", "500", "503"):
            return _error(int(behaviour), f"fake {behaviour}")
        raise ValueError(f"unknown fake behaviour {behaviour!r} (known: {BEHAVIOURS})")

    def _candidate(self, text: str, finish: str, prompt_tokens: int) -> web.Response:
        output_tokens = estimate_tokens(text)
        self.prompt_tokens += prompt_tokens
        self.output_tokens += output_tokens
        return web.json_response(
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": text}]},
                        "finishReason": finish,
                        "index": 0,
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": prompt_tokens,
                    "candidatesTokenCount": output_tokens,
                    "totalTokenCount": prompt_tokens + output_tokens,
                },
                "modelVersion": "fake-gemini",
                "responseId": f"fake-{len(self.requests)}",
            }
        )


def _error(status: int, message: str) -> web.Response:
    code = _STATUS.get(status, "NOT_FOUND" if status == 404 else "UNKNOWN")
    return web.json_response({"error": {"code": status, "message": message, "status": code}}, status=status)


@pytest.fixture
async def fake_gemini() -> AsyncIterator[FakeGemini]:
    """A fresh fake on 127.0.0.1 (any free port); `fake_gemini.base_url` and `.api_key` to use it."""
    fake = FakeGemini()
    await fake.start()
    yield fake
    await fake.close()


async def _serve(latency: float, port: int) -> None:
    fake = FakeGemini(latency=latency)
    await fake.start(port=port)
    print(f"port {fake.base_url.rsplit(':', 1)[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve the fake Gemini API on 127.0.0.1.")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(_serve(args.latency, args.port))
