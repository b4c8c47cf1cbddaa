"""One table of signed requests that every interactions transport must answer alike.

The aiohttp endpoint (tests/notifier/test_signed_cases.py) and the Lambda function URL
(tests/serverless/test_interactions_lambda.py) run these same cases against a fresh decision awaiting
approval each: what is answered (status, interaction type) and whether the decision was approved.
"""

from __future__ import annotations

import io
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nacl.signing import SigningKey
from rich.console import Console

from services.notifier.handler import GroupPolicy, NotifierDeps, handle_analyzed
from shared.discord import ConsoleDiscord
from shared.ledger import State
from shared.worker import Runtime
from tests.notifier.helpers import analyzed, finding, state_of

APPROVER, ROLE = "111111111111111111", "999999999999999999"
MAX_BODY = 8192
Signer = Callable[..., tuple[bytes, dict[str, str]]]
# A transport: (raw body, headers) -> (status, JSON answer).
Post = Callable[[bytes, dict[str, str]], Awaitable[tuple[int, dict[str, Any]]]]


def click_body(custom_id: str, *, user: str = APPROVER, roles: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": 3,
        "id": "1200000000000000001",
        "application_id": "1200000000000000002",
        "token": "tok",
        "version": 1,
        "channel_id": "c",
        "data": {"custom_id": custom_id, "component_type": 2},
        "member": {"user": {"id": user, "username": "alice", "global_name": "Alice"}, "roles": list(roles)},
    }


def _valid(sign: Signer, cid: str) -> tuple[bytes, dict[str, str]]:
    return sign(click_body(cid))


def _missing(sign: Signer, cid: str) -> tuple[bytes, dict[str, str]]:
    raw, _ = sign(click_body(cid))
    return raw, {"Content-Type": "application/json"}


def _forged(sign: Signer, cid: str) -> tuple[bytes, dict[str, str]]:
    raw, headers = sign(click_body(cid))
    forged = SigningKey(b"\x07" * 32).sign(headers["X-Signature-Timestamp"].encode() + raw).signature.hex()
    return raw, dict(headers, **{"X-Signature-Ed25519": forged})


def _stale(sign: Signer, cid: str) -> tuple[bytes, dict[str, str]]:
    return sign(click_body(cid), timestamp=int(time.time()) - 3600)


def _tampered(sign: Signer, cid: str) -> tuple[bytes, dict[str, str]]:
    raw, headers = sign(click_body(cid))
    return raw.replace(b"ct:approve", b"ct:reject!"), headers


def _not_hex(sign: Signer, cid: str) -> tuple[bytes, dict[str, str]]:
    raw, headers = sign(click_body(cid))
    return raw, dict(headers, **{"X-Signature-Ed25519": "zz" * 64})


def _superscript_stamp(sign: Signer, cid: str) -> tuple[bytes, dict[str, str]]:
    raw, headers = sign(click_body(cid))
    return raw, dict(headers, **{"X-Signature-Timestamp": "²" + headers["X-Signature-Timestamp"][1:]})


def _lowercase_names(sign: Signer, cid: str) -> tuple[bytes, dict[str, str]]:
    raw, headers = sign(click_body(cid))
    return raw, {name.lower(): value for name, value in headers.items()}


@dataclass(frozen=True)
class Case:
    name: str
    request: Callable[[Signer, str], tuple[bytes, dict[str, str]]]
    status: int
    answer_type: int | None = None  # the interaction response type, when 200
    approves: bool = False


CASES = (
    Case("ping", lambda sign, _cid: sign({"type": 1}), 200, 1),
    Case("valid click", _valid, 200, 7, approves=True),
    Case("header names in lower case", _lowercase_names, 200, 7, approves=True),
    Case("no signature", _missing, 401),
    Case("forged signature", _forged, 401),
    Case("stale timestamp", _stale, 401),
    Case("tampered body", _tampered, 401),
    Case("signature not hex", _not_hex, 401),
    Case("timestamp with a non-ASCII digit", _superscript_stamp, 401),
    Case("signed, not JSON", lambda sign, _cid: sign(b"{not json"), 400),
    Case("signed JSON array", lambda sign, _cid: sign(b"[1, 2]"), 400),
    Case("a slash command", lambda sign, _cid: sign({"type": 2, "data": {}}), 400),
    Case("unknown button", lambda sign, _cid: sign(click_body("something-else")), 200, 4),
    Case("a stranger", lambda sign, cid: sign(click_body(cid, user="5")), 200, 4),
    Case(
        "an approver by role", lambda sign, cid: sign(click_body(cid, user="6", roles=(ROLE,))), 200, 7, True
    ),
    Case("oversized", lambda sign, _cid: sign(b'{"type": 1, "pad": "' + b"x" * MAX_BODY + b'"}'), 413),
)


async def awaiting(runtime: Runtime, resource_id: str) -> str:
    """A decision awaiting approval, carded as the notifier does; the custom_id of its Approve button."""
    f = finding(resource_id)
    sink = ConsoleDiscord(Console(file=io.StringIO()))
    deps = NotifierDeps(ledger=runtime.ledger, sink=sink, channel_id="c", policy=GroupPolicy(threshold=0))
    await handle_analyzed(await analyzed(runtime.ledger, f), deps)
    _, payload = sink.posted[-1]
    return next(
        b["custom_id"] for row in payload["components"] for b in row["components"] if b["label"] == "Approve"
    )


async def run_cases(runtime: Runtime, sign: Signer, post: Post) -> None:
    """Every case against its own decision; a failure names the case."""
    for index, case in enumerate(CASES):
        f = finding(f"vol-{index:017x}")
        custom_id = await awaiting(runtime, f.key.resource_id)
        raw, headers = case.request(sign, custom_id)
        status, answer = await post(raw, headers)
        assert status == case.status, f"{case.name}: {status} {answer}"
        if case.answer_type is not None:
            assert answer.get("type") == case.answer_type, f"{case.name}: {answer}"
        state = (await state_of(runtime.ledger, f)).state
        expected = State.APPROVED if case.approves else State.AWAITING_APPROVAL
        assert state is expected, f"{case.name}: {state}"
