"""Fake of the Discord REST API v10, served by aiohttp on loopback, enforcing the documented limits.

It answers 400 (code 50035) past any message or component limit of PROTOCOLS A4/A5, 401 without the
bot token, sends the `X-RateLimit-*` headers of a per-channel bucket and answers 429 to a client that
ignores them (counted in `violations`), produces 429 storms on demand (`storm`), honours `nonce` +
`enforce_nonce` like Discord, records every message and edit, and every accepted payload as sent
(`payloads`: a test can check that everything carried `allowed_mentions`), and answers GET
/channels/{id} for the channels it is told the bot can see (`channels`).

It also serves Edit Original Interaction Response, `PATCH /webhooks/{application.id}/{interaction.token}/
messages/@original` (Discord's "Receiving and Responding"): no bot token needed, the interaction token
authenticates it. A token is one `interaction()` issued for a message (the card clicked); it is refused
401 code 50027 (Invalid Webhook Token) once `token_ttl` (15 minutes) has passed or if never issued, 404
code 10015 (Unknown Webhook) under another application's id, and the payload gets the message limits.
Also here: the Ed25519 test key of the application and a helper that signs interaction requests with it.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from nacl.signing import SigningKey

BOT_TOKEN = "fake-bot-token"
APPLICATION_ID = "1200000000000000002"
TOKEN_TTL = 15 * 60.0  # seconds an interaction token may be used for follow-ups and edits (D-rr)
_SEED = bytes(range(32))  # a fixed test key: signatures are reproducible across runs


@dataclass
class Storm:
    remaining: int
    retry_after: float
    is_global: bool


@dataclass
class FakeDiscord:
    """State of the fake: what was posted, and how the client behaved."""

    token: str = BOT_TOKEN
    bucket_limit: int = 5
    reset_after: float = 0.2
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    payloads: list[dict[str, Any]] = field(default_factory=list)  # every accepted create and edit body
    rejected: list[str] = field(default_factory=list)  # why each 400 was answered
    violations: int = 0  # requests sent into an exhausted bucket: the client ignored the headers
    rate_limited: int = 0  # 429s answered, storms included
    requests: int = 0
    base_url: str = ""
    _storm: Storm | None = None
    _failures: list[int] = field(default_factory=list)
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1_300_000_000_000_000_000))
    _nonces: dict[tuple[str, str], str] = field(default_factory=dict)
    # Channels the bot can see (GET /channels/{id}); any other id is Discord's "Unknown Channel".
    channels: dict[str, str] = field(default_factory=dict)  # id -> name
    application_id: str = APPLICATION_ID
    token_ttl: float = TOKEN_TTL
    # Interaction tokens issued: token -> (application id, message the component was on, issued at).
    _interactions: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    webhook_edits: list[str] = field(default_factory=list)  # message ids edited through a token
    webhook_refused: list[int] = field(default_factory=list)  # Discord's JSON code of each refusal

    def storm(self, count: int, *, retry_after: float = 0.05, is_global: bool = False) -> None:
        """Answer the next `count` requests with 429."""
        self._storm = Storm(count, retry_after, is_global)

    def fail(self, count: int, status: int = 502) -> None:
        """Answer the next `count` requests with a server error."""
        self._failures = [status] * count

    def interaction(self, message_id: str, *, age: float = 0.0) -> str:
        """A click on `message_id` (created if the fake has not seen it): the interaction's token.
        `age` seconds make it as old as that (past `token_ttl`, Discord has invalidated it)."""
        if message_id not in self.messages:
            message = {"id": message_id, "channel_id": "cards", "content": "card"}
            self.messages[message_id] = {"channel_id": "cards", "message": message, "edits": []}
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)  # shaped like Discord's, secret like it
        self._interactions[token] = (self.application_id, message_id, time.monotonic() - age)
        return token

    def in_channel(self, channel_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m["channel_id"] == channel_id]

    # --- HTTP ---------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v10/channels/{channel_id}/messages", self._create)
        app.router.add_patch("/api/v10/channels/{channel_id}/messages/{message_id}", self._edit)
        app.router.add_get("/api/v10/channels/{channel_id}", self._channel)
        app.router.add_patch("/api/v10/webhooks/{application_id}/{token}/messages/@original", self._original)
        return app

    async def _original(self, request: web.Request) -> web.Response:
        """Edit Original Interaction Response: the token is the credential, no Authorization."""
        application_id, token = request.match_info["application_id"], request.match_info["token"]
        refused = self._gate(request, f"webhook:{token}", auth=False)
        if refused is not None:
            return refused
        issued = self._interactions.get(token)
        if issued is None or time.monotonic() - issued[2] > self.token_ttl:
            self.webhook_refused.append(50027)
            return web.json_response({"message": "Invalid Webhook Token", "code": 50027}, status=401)
        if application_id != issued[0]:
            self.webhook_refused.append(10015)
            return web.json_response({"message": "Unknown Webhook", "code": 10015}, status=404)
        payload, problem = await _payload(request)
        problem = problem or _check_message(payload, creating=False)
        if problem:
            return self._bad_request(problem, token)
        stored = self.messages[issued[1]]
        self.payloads.append(payload)
        self.webhook_edits.append(issued[1])
        stored["edits"].append(payload)
        stored["message"].update({k: payload[k] for k in ("content", "embeds", "components") if k in payload})
        return web.json_response(stored["message"], headers=self._headers(f"webhook:{token}"))

    async def _channel(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        refused = self._gate(request, f"channel:{channel_id}")
        if refused is not None:
            return refused
        if channel_id not in self.channels:
            return web.json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        return web.json_response({"id": channel_id, "type": 0, "name": self.channels[channel_id]})

    async def _create(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        refused = self._gate(request, f"messages:{channel_id}")
        if refused is not None:
            return refused
        payload, problem = await _payload(request)
        problem = problem or _check_message(payload, creating=True)
        if problem:
            return self._bad_request(problem, channel_id)
        self.payloads.append(payload)
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce") and (channel_id, str(nonce)) in self._nonces:
            existing = self.messages[self._nonces[(channel_id, str(nonce))]]
            return self._ok(existing["message"], channel_id)
        message_id = str(next(self._ids))
        message = {"id": message_id, "channel_id": channel_id} | {
            k: payload[k] for k in ("content", "embeds", "components") if k in payload
        }
        self.messages[message_id] = {"channel_id": channel_id, "message": message, "edits": []}
        if nonce is not None:
            self._nonces[(channel_id, str(nonce))] = message_id
        return self._ok(message, channel_id)

    async def _edit(self, request: web.Request) -> web.Response:
        channel_id, message_id = request.match_info["channel_id"], request.match_info["message_id"]
        refused = self._gate(request, f"messages:{channel_id}")
        if refused is not None:
            return refused
        stored = self.messages.get(message_id)
        if stored is None or stored["channel_id"] != channel_id:
            return web.json_response({"message": "Unknown Message", "code": 10008}, status=404)
        payload, problem = await _payload(request)
        problem = problem or _check_message(payload, creating=False)
        if problem:
            return self._bad_request(problem, channel_id)
        self.payloads.append(payload)
        stored["edits"].append(payload)
        stored["message"].update({k: payload[k] for k in ("content", "embeds", "components") if k in payload})
        return self._ok(stored["message"], channel_id)

    def _gate(self, request: web.Request, bucket: str, *, auth: bool = True) -> web.Response | None:
        """Auth, headers, storms and the bucket: the checks that come before the body."""
        self.requests += 1
        if auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        if not request.headers.get("User-Agent", "").startswith("DiscordBot"):
            return self._bad_request("User-Agent must be DiscordBot (url, version)", bucket)
        if self._failures:
            return web.Response(status=self._failures.pop(), text="<html>upstream error</html>")
        if self._storm and self._storm.remaining > 0:
            self._storm.remaining -= 1
            return self._too_many(self._storm.retry_after, self._storm.is_global, bucket)
        started, used = self._windows.get(bucket, (0.0, 0))
        now = time.monotonic()
        if now - started >= self.reset_after:
            started, used = now, 0
        if used >= self.bucket_limit:
            self.violations += 1
            return self._too_many(self.reset_after - (now - started), False, bucket)
        self._windows[bucket] = (started, used + 1)
        return None

    def _headers(self, bucket: str) -> dict[str, str]:
        started, used = self._windows.get(bucket, (time.monotonic(), 0))
        reset_after = max(0.0, self.reset_after - (time.monotonic() - started))
        return {
            "X-RateLimit-Limit": str(self.bucket_limit),
            "X-RateLimit-Remaining": str(max(0, self.bucket_limit - used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": "abcd1234channelmessages",
        }

    def _ok(self, message: dict[str, Any], channel_id: str) -> web.Response:
        return web.json_response(message, headers=self._headers(f"messages:{channel_id}"))

    def _too_many(self, retry_after: float, is_global: bool, bucket: str) -> web.Response:
        self.rate_limited += 1
        headers = {
            "Retry-After": f"{retry_after:.3f}",
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers |= self._headers(bucket) | {"X-RateLimit-Remaining": "0"}
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        return web.json_response(body, status=429, headers=headers)

    def _bad_request(self, problem: str, where: str) -> web.Response:
        self.rejected.append(problem)
        return web.json_response(
            {"message": "Invalid Form Body", "code": 50035, "errors": problem}, status=400
        )


async def _payload(request: web.Request) -> tuple[dict[str, Any], str | None]:
    if request.content_type != "application/json":
        return {}, f"content type {request.content_type!r}"
    try:
        payload = json.loads(await request.read())
    except ValueError:
        return {}, "body is not JSON"
    return (payload, None) if isinstance(payload, dict) else ({}, "body is not an object")


def _length(value: Any) -> int:
    return len(str(value).strip())


def _check_message(payload: dict[str, Any], *, creating: bool) -> str | None:
    """The first limit the payload breaks, or None (PROTOCOLS A4/A5)."""
    if creating and not any(payload.get(k) for k in ("content", "embeds", "components")):
        return "message is empty"
    if _length(payload.get("content", "")) > 2000:
        return "content > 2000"
    if payload.get("nonce") is not None and len(str(payload["nonce"])) > 25:
        return "nonce > 25"
    mentions = payload.get("allowed_mentions")
    if mentions is not None and not _valid_mentions(mentions):
        return f"allowed_mentions {mentions!r} is malformed"
    embeds = payload.get("embeds") or []
    if len(embeds) > 10:
        return "more than 10 embeds"
    total = 0
    for embed in embeds:
        for name, limit in (("title", 256), ("description", 4096)):
            if _length(embed.get(name, "")) > limit:
                return f"embed {name} > {limit}"
            total += _length(embed.get(name, ""))
        for name, key, limit in (("footer", "text", 2048), ("author", "name", 256)):
            text = (embed.get(name) or {}).get(key, "")
            if _length(text) > limit:
                return f"embed {name}.{key} > {limit}"
            total += _length(text)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            return "more than 25 fields"
        for f in fields:
            if not 1 <= _length(f.get("name", "")) <= 256 or not 1 <= _length(f.get("value", "")) <= 1024:
                return "field name/value empty or > 256/1024"
            total += _length(f["name"]) + _length(f["value"])
    if total > 6000:
        return f"embeds total {total} > 6000"
    return _check_components(payload.get("components") or [])


def _valid_mentions(mentions: Any) -> bool:
    """Discord's allowed_mentions object: `parse` names types, or `users`/`roles` list ids (not both)."""
    if not isinstance(mentions, dict) or set(mentions) - {"parse", "users", "roles", "replied_user"}:
        return False
    parse = mentions.get("parse", [])
    if not isinstance(parse, list) or set(parse) - {"roles", "users", "everyone"}:
        return False
    return not any(kind in parse and kind in mentions for kind in ("users", "roles"))


def _check_components(rows: list[dict[str, Any]]) -> str | None:
    if len(rows) > 5:
        return "more than 5 action rows"
    seen: set[str] = set()
    for row in rows:
        if row.get("type") != 1:
            return "top-level component is not an action row"
        buttons = row.get("components") or []
        if not 1 <= len(buttons) <= 5:
            return "an action row holds 1 to 5 buttons"
        for button in buttons:
            if button.get("type") != 2:
                return "not a button"
            if len(button.get("label", "")) > 80:
                return "button label > 80"
            if button.get("style") in (1, 2, 3, 4):
                custom_id = button.get("custom_id", "")
                if not 1 <= len(custom_id) <= 100 or custom_id in seen:
                    return f"custom_id {custom_id!r} missing, > 100 or duplicated"
                seen.add(custom_id)
            elif button.get("style") == 5 and not button.get("url"):
                return "link button without url"
    return None


# --- signing interactions --------------------------------------------------------------------


def sign_interaction(
    key: SigningKey, body: bytes | dict[str, Any], *, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body bytes and the headers Discord would send: Ed25519 over timestamp + raw body, in hex."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = key.sign(stamp.encode() + raw).signature.hex()
    headers = {
        "X-Signature-Ed25519": signature,
        "X-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }
    return raw, headers


@pytest.fixture
def discord_signing_key() -> SigningKey:
    """The application's key pair for tests; the endpoint is configured with its public half."""
    return SigningKey(_SEED)


@pytest.fixture
def discord_public_key(discord_signing_key: SigningKey) -> str:
    return discord_signing_key.verify_key.encode().hex()


@pytest.fixture
def sign(discord_signing_key: SigningKey) -> Callable[..., tuple[bytes, dict[str, str]]]:
    def signer(body: bytes | dict[str, Any], *, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
        return sign_interaction(discord_signing_key, body, timestamp=timestamp)

    return signer


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """The fake on a free loopback port; point DISCORD_API_BASE_URL at `fake.base_url`."""
    fake = FakeDiscord()
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.base_url = f"http://{host}:{port}/api/v10"
    yield fake
    await runner.cleanup()
