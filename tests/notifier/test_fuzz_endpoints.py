"""Property-based fuzzing of the notifier's HTTP endpoints: no input may produce a 5xx or a traceback.

Headers and bodies of `POST /interactions` and `POST /scan`, unsigned and signed with the test key
(so generated bodies get past the signature check and reach the parser and the click handling),
sent as raw bytes so that header values need not be UTF-8. Every answer must be below 500 and the
server must log no error and no traceback. The examples are bounded so the suite stays well under a
minute in CI; `HYPOTHESIS_PROFILE=deep` runs many more locally. On the code before issue 13 it finds
the malformed timestamps, the wrong field types, the deep nesting and the non-UTF-8 token.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from tests.fakes.discord import sign_interaction
from tests.notifier.conftest import APPROVER, SCAN_TOKEN
from tests.notifier.rawhttp import request_bytes, send

settings.register_profile(
    "endpoint-fuzz",
    max_examples=150,
    deadline=None,
    database=None,  # nothing written into the checkout; a failure prints its reproduction
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("deep", parent=settings.get_profile("endpoint-fuzz"), max_examples=3000)
FUZZ = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "endpoint-fuzz"))

# --- strategies ----------------------------------------------------------------------------------

# JSON values of every type, a few levels deep (what a wrong field could hold).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
# Header bytes: anything but CR and LF (which would end the header, not fill it).
header_bytes = st.binary(max_size=200).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
unicode_digits = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=12)
stamps = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**4299).map(str),  # str() refuses > 4,300 digits
    unicode_digits,
    st.text(max_size=40),
    st.just("²"),
    st.just("9" * 4301),
)
signatures = st.one_of(
    st.binary(min_size=64, max_size=64).map(bytes.hex),
    st.text(max_size=140),
    st.text("0123456789abcdefABCDEFxyz", min_size=126, max_size=130),
)


def _click(custom_id: str = "ct:approve:00000000-0000-0000-0000-000000000000") -> dict[str, Any]:
    return {
        "type": 3,
        "id": "1200000000000000001",
        "token": "tok",
        "data": {"custom_id": custom_id, "component_type": 2},
        "member": {"user": {"id": APPROVER, "username": "alice"}, "roles": ["1"]},
        "message": {"id": "1200000000000000004", "components": [{"type": 1, "components": []}]},
    }


CLICK_PATHS = [
    ("type",),
    ("data",),
    ("data", "custom_id"),
    ("data", "component_type"),
    ("member",),
    ("member", "user"),
    ("member", "user", "id"),
    ("member", "user", "global_name"),
    ("member", "roles"),
    ("user",),
    ("message",),
    ("message", "components"),
    ("message", "id"),
]
custom_ids = st.one_of(
    st.text(max_size=120),
    st.builds(
        lambda a, rest: f"ct:{a}:{rest}", st.sampled_from(["approve", "reject", "snooze", "x"]), st.text()
    ),
)


@st.composite
def mutated_clicks(draw: st.DrawFn) -> dict[str, Any]:
    """A real click with some fields replaced by values of any type (or removed)."""
    body = _click(draw(custom_ids))
    for path in draw(st.lists(st.sampled_from(CLICK_PATHS), min_size=1, max_size=4, unique=True)):
        node = body
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                break
            node = node[key]
        else:
            if draw(st.booleans()):
                node[path[-1]] = draw(json_values)
            else:
                node.pop(path[-1], None)
    return body


@st.composite
def nested(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(min_value=1, max_value=4000))
    opening, closing = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    inner = opening * depth + b"1" + closing * depth if opening != b"[" else opening * depth + closing * depth
    return draw(st.sampled_from([inner, b'{"type": 1, "x": ' + inner + b"}"]))


interaction_bodies = st.one_of(
    st.builds(lambda v: json.dumps(v).encode(), mutated_clicks()),
    st.builds(lambda v: json.dumps(v).encode(), json_values),
    nested(),
    st.binary(max_size=300),
    st.just(b'{"type": 1}'),
)

# --- the properties ------------------------------------------------------------------------------


async def _answer(endpoint: TestClient, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    assert endpoint.server.host is not None and endpoint.server.port is not None
    answer = await send(endpoint.server.host, endpoint.server.port, request_bytes(path, headers, body))
    return answer.status


def _no_errors(caplog: pytest.LogCaptureFixture, since: int) -> None:
    bad = [r for r in caplog.records[since:] if r.exc_info or r.levelno >= logging.ERROR]
    assert bad == [], [r.getMessage()[:300] for r in bad]


@FUZZ
@given(
    signature=st.none() | signatures,
    stamp=st.none() | stamps,
    body=interaction_bodies,
    extra=st.lists(
        st.tuples(st.sampled_from([b"Content-Type", b"X-Signature-Ed25519"]), header_bytes), max_size=2
    ),
)
async def test_unsigned_interactions_never_get_a_5xx(
    endpoint: TestClient,
    caplog: pytest.LogCaptureFixture,
    signature: str | None,
    stamp: str | None,
    body: bytes,
    extra: list[tuple[bytes, bytes]],
) -> None:
    since = len(caplog.records)
    headers = list(extra)
    if signature is not None:
        headers.append((b"X-Signature-Ed25519", signature.encode("utf-8", "surrogatepass")))
    if stamp is not None:
        headers.append((b"X-Signature-Timestamp", stamp.encode("utf-8", "surrogatepass")))
    status = await _answer(endpoint, "/interactions", headers, body)
    assert 400 <= status < 500 or status == 0  # nothing unsigned is ever accepted
    _no_errors(caplog, since)


@FUZZ
@given(body=interaction_bodies, skew=st.integers(min_value=-400, max_value=400))
async def test_signed_interactions_never_get_a_5xx(
    endpoint: TestClient,
    caplog: pytest.LogCaptureFixture,
    discord_signing_key: SigningKey,
    body: bytes,
    skew: int,
) -> None:
    since = len(caplog.records)
    import time

    raw, headers = sign_interaction(discord_signing_key, body, timestamp=int(time.time()) + skew)
    fields = [(name.encode(), value.encode()) for name, value in headers.items()]
    status = await _answer(endpoint, "/interactions", fields, raw)
    assert 0 < status < 500
    _no_errors(caplog, since)


scan_bodies = st.one_of(
    st.builds(lambda v: json.dumps(v).encode(), json_values),
    st.builds(
        lambda v: json.dumps(v).encode(),
        st.fixed_dictionaries(
            {},
            optional={
                "regions": st.lists(
                    st.sampled_from(["eu-west-1", "us-east-1"]) | st.text(max_size=12), max_size=3
                )
                | json_values,
                "kinds": st.lists(
                    st.sampled_from(["ebs-volume", "elastic-ip"]) | st.text(max_size=12), max_size=3
                )
                | json_values,
                "account_id": st.from_regex(r"\A[0-9]{12}\Z") | json_values,
                "role_arn": st.text(max_size=60) | json_values,
                "requested_by": st.text(max_size=40) | json_values,
            },
        ),
    ),
    nested(),
    st.binary(max_size=300),
)


@FUZZ
@given(
    authorization=st.one_of(
        st.just(f"Bearer {SCAN_TOKEN}".encode()),
        header_bytes,
        header_bytes.map(lambda b: b"Bearer " + b),
    ),
    user_agent=st.none() | header_bytes,
    body=scan_bodies,
)
async def test_scan_requests_never_get_a_5xx(
    endpoint: TestClient,
    caplog: pytest.LogCaptureFixture,
    authorization: bytes,
    user_agent: bytes | None,
    body: bytes,
) -> None:
    since = len(caplog.records)
    headers = [(b"Authorization", authorization)] + (
        [(b"User-Agent", user_agent)] if user_agent is not None else []
    )
    status = await _answer(endpoint, "/scan", headers, body)
    assert 0 < status < 500
    if authorization != f"Bearer {SCAN_TOKEN}".encode():
        assert status in (400, 401)  # 400: aiohttp refused a header byte before we saw the request
    _no_errors(caplog, since)
