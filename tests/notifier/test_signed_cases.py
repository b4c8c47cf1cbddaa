"""The aiohttp interactions endpoint answers the shared table of signed requests (signed_cases.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from services.notifier.http import init_app
from shared.config import Settings
from shared.worker import Runtime
from tests.notifier.signed_cases import APPROVER, MAX_BODY, ROLE, Signer, run_cases


async def test_the_aiohttp_endpoint_answers_every_shared_signed_case(
    runtime: Runtime, make_settings: Callable[..., Settings], discord_public_key: str, sign: Signer
) -> None:
    settings = make_settings(
        discord_public_key=discord_public_key,
        discord_approver_ids=APPROVER,
        discord_approver_role_ids=ROLE,
        cloudthrift_http_max_body=MAX_BODY,
    )
    client = TestClient(TestServer(init_app(settings, runtime=runtime)))
    await client.start_server()

    async def post(raw: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        response = await client.post("/interactions", data=raw, headers=headers)
        return response.status, await response.json()

    try:
        await run_cases(runtime, sign, post)
    finally:
        await client.close()
