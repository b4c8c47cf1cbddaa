"""A proxy in front of the embedded AWS (moto over HTTP) that behaves more like AWS where moto cannot:

- latency: each request waits its region's delay before it is forwarded (the region is the one the
  request was signed for, read from the SigV4 credential scope), so concurrency shows what it buys;
- trust policies: moto lets anyone assume any role; the proxy answers AssumeRole of the roles named in
  `denied_roles` with AccessDenied, as STS does when a role is missing or does not trust the caller;
- counting: every request by service and operation, so tests and benches can count AWS calls.

Nothing of CloudThrift is patched: clients reach it through AWS_ENDPOINT_URL like any endpoint.
Run standalone for benches: `python -m tests.fakes.aws_proxy UPSTREAM PORT DELAYS_JSON`.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import urllib.parse
from collections import Counter
from collections.abc import Mapping

import aiohttp
from aiohttp import web

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"}
_DENIED = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<Error><Type>Sender</Type><Code>AccessDenied</Code>
<Message>User is not authorized to perform: sts:AssumeRole on resource: {role}</Message></Error>
<RequestId>c2f0b6a4-0000-4000-8000-000000000000</RequestId></ErrorResponse>"""


class AwsProxy:
    """Start with `await proxy.start()`; `proxy.endpoint` is the AWS_ENDPOINT_URL to give clients."""

    def __init__(
        self,
        upstream: str,
        *,
        delays: Mapping[str, float] | None = None,
        default_delay: float = 0.0,
        denied_roles: set[str] | None = None,
        port: int = 0,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.delays = dict(delays or {})
        self.default_delay = default_delay
        self.denied_roles = denied_roles if denied_roles is not None else set()
        self.calls: Counter[str] = Counter()  # "service:Operation" -> count
        self._port = port
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.endpoint = ""

    async def start(self) -> str:
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.endpoint = f"http://127.0.0.1:{port}"
        return self.endpoint

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def count(self, service: str | None = None) -> int:
        """Requests seen, in all or of one service (the SigV4 scope's name: ec2, dynamodb, sqs ...)."""
        return sum(n for key, n in self.calls.items() if service is None or key.split(":")[0] == service)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        scope = _SCOPE.search(request.headers.get("Authorization", ""))
        region, service = scope.groups() if scope else ("", "")
        self.calls[f"{service}:{_operation(request, body)}"] += 1
        delay = self.delays.get(region, self.default_delay)
        if delay:
            await asyncio.sleep(delay)
        if service == "sts" and body:
            form = urllib.parse.parse_qs(body.decode())
            role = (form.get("RoleArn") or [""])[0]
            if form.get("Action") == ["AssumeRole"] and role in self.denied_roles:
                return web.Response(status=403, text=_DENIED.format(role=role), content_type="text/xml")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=body
        ) as answer:
            payload = await answer.read()
            out = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}
            return web.Response(status=answer.status, body=payload, headers=out)


def _operation(request: web.Request, body: bytes) -> str:
    target = request.headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    if body[:7] == b"Action=":
        return body[7:].split(b"&", 1)[0].decode()
    return request.method


async def _serve(upstream: str, port: int, delays: dict[str, float]) -> None:
    proxy = AwsProxy(upstream, delays=delays, port=port)
    await proxy.start()
    print(proxy.endpoint, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])))
