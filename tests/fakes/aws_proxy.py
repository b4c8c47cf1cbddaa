"""A proxy in front of the embedded AWS (moto over HTTP) that behaves more like AWS where moto cannot:

- latency: each request waits its region's delay before it is forwarded (the region is the one the
  request was signed for, read from the SigV4 credential scope), so concurrency shows what it buys;
- trust policies: moto lets anyone assume any role; the proxy answers AssumeRole of the roles named in
  `denied_roles` with AccessDenied, as STS does when a role is missing or does not trust the caller;
- role policies: moto lets an assumed role do anything; for a role whose name is in `role_policies`,
  the proxy refuses any action outside its list (what IAM would do with that role's policy);
- counting: every request by service and operation, so tests and benches can count AWS calls, and
  the filters of query-protocol requests (EC2's `Filter.N.Name`), so they can tell a lookup by id
  from a costly search by tag;
- overlap: the most requests in flight at once per service:operation and per region/service, and when
  each request started and ended (`timeline`), so tests can tell calls made at once from calls made
  one after another;
- Recycle Bin (moto has none): with `recycle_bin` set (region -> rules as GetRule returns them), the
  proxy answers rbin's ListRules (paginated by NextToken) and GetRule itself; without it, rbin
  requests go on to moto like any other, which does not serve them.

Nothing of CloudThrift is patched: clients reach it through AWS_ENDPOINT_URL like any endpoint.
Run standalone for benches: `python -m tests.fakes.aws_proxy UPSTREAM PORT DELAYS_JSON`.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Mapping

import aiohttp
from aiohttp import web

_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
_FILTER_NAME = re.compile(r"Filters?\.\d+\.Name")
_ACCESS_KEY = re.compile(r"<AccessKeyId>([^<]+)</AccessKeyId>")
_REST_OPERATIONS = {("POST", "/list-rules"): "ListRules", ("GET", "/rules/"): "GetRule"}  # rbin's
_IAM_PREFIX = {"monitoring": "cloudwatch"}  # SigV4 signing names that are not the IAM prefix
_ALWAYS = {"sts:GetCallerIdentity"}
_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"}
_DENIED = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<Error><Type>Sender</Type><Code>AccessDenied</Code>
<Message>User is not authorized to perform: sts:AssumeRole on resource: {role}</Message></Error>
<RequestId>c2f0b6a4-0000-4000-8000-000000000000</RequestId></ErrorResponse>"""
_UNAUTHORIZED_EC2 = """<Response><Errors><Error><Code>UnauthorizedOperation</Code>
<Message>You are not authorized to perform this operation. ({action})</Message></Error></Errors>
<RequestID>c2f0b6a4-0000-4000-8000-000000000001</RequestID></Response>"""


class AwsProxy:
    """Start with `await proxy.start()`; `proxy.endpoint` is the AWS_ENDPOINT_URL to give clients."""

    def __init__(
        self,
        upstream: str,
        *,
        delays: Mapping[str, float] | None = None,
        default_delay: float = 0.0,
        denied_roles: set[str] | None = None,
        role_policies: Mapping[str, set[str]] | None = None,
        port: int = 0,
        recycle_bin: Mapping[str, list[dict[str, object]]] | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.delays = dict(delays or {})
        self.default_delay = default_delay
        self.denied_roles = denied_roles if denied_roles is not None else set()
        self.role_policies = dict(role_policies or {})  # role name -> the IAM actions it may call
        self.refused: list[tuple[str, str]] = []  # (role ARN, action) refused by a role policy
        self._roles_by_key: dict[str, str] = {}  # access key id -> the role ARN it was issued for
        self.calls: Counter[str] = Counter()  # "service:Operation" -> count
        self.by_region: Counter[str] = Counter()  # "region service:Operation" -> count
        self.filters: Counter[str] = Counter()  # "service:Operation filter-name" -> count
        self.in_flight: Counter[str] = Counter()  # "service:Operation" and "region/service" -> now
        self.peak: Counter[str] = Counter()  # the same keys -> the most at once so far
        self.timeline: list[tuple[float, float, str, str]] = []  # (start, end, region, service:Operation)
        self._port = port
        self.recycle_bin = recycle_bin  # region -> rules {Identifier, ResourceType, RetentionPeriod, ...}
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
        body = await request.read()
        scope = _SCOPE.search(request.headers.get("Authorization", ""))
        access_key, region, service = scope.groups() if scope else ("", "", "")
        operation = _operation(request, body)
        keys = (f"{service}:{operation}", f"{region}/{service}")
        started = time.monotonic()
        for key in keys:
            self.in_flight[key] += 1
            self.peak[key] = max(self.peak[key], self.in_flight[key])
        try:
            return await self._answer(request, body, access_key, region, service, operation)
        finally:
            for key in keys:
                self.in_flight[key] -= 1
            self.timeline.append((started, time.monotonic(), region, keys[0]))

    async def _answer(
        self, request: web.Request, body: bytes, access_key: str, region: str, service: str, operation: str
    ) -> web.StreamResponse:
        assert self._session is not None
        self.calls[f"{service}:{operation}"] += 1
        self.by_region[f"{region} {service}:{operation}"] += 1
        for name in _filter_names(body):
            self.filters[f"{service}:{operation} {name}"] += 1
        delay = self.delays.get(region, self.default_delay)
        if delay:
            await asyncio.sleep(delay)
        role_arn = self._roles_by_key.get(access_key)
        action = f"{_IAM_PREFIX.get(service, service)}:{operation}"
        allowed = self.role_policies.get(role_arn.rsplit("/", 1)[-1]) if role_arn else None
        if allowed is not None and action not in allowed | _ALWAYS:
            self.refused.append((role_arn or "", action))
            return web.Response(
                status=403, text=_UNAUTHORIZED_EC2.format(action=action), content_type="text/xml"
            )
        if service == "rbin" and self.recycle_bin is not None:
            return self._recycle_bin(request, body, region)
        assumed = ""
        if service == "sts" and body:
            form = urllib.parse.parse_qs(body.decode())
            if form.get("Action") == ["AssumeRole"]:
                assumed = (form.get("RoleArn") or [""])[0]
                if assumed in self.denied_roles:
                    return web.Response(
                        status=403, text=_DENIED.format(role=assumed), content_type="text/xml"
                    )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=body
        ) as answer:
            payload = await answer.read()
            if assumed and (key := _ACCESS_KEY.search(payload.decode(errors="replace"))):
                self._roles_by_key[key.group(1)] = assumed
            out = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}
            return web.Response(status=answer.status, body=payload, headers=out)

    def _recycle_bin(self, request: web.Request, body: bytes, region: str) -> web.Response:
        """rbin is rest-json: POST /list-rules (one rule a page, so pagination is exercised) and
        GET /rules/{identifier}; the summaries carry no ResourceTags, as AWS's do not."""
        rules = (self.recycle_bin or {}).get(region, [])
        if request.method == "GET" and request.path.startswith("/rules/"):
            wanted = urllib.parse.unquote(request.path.removeprefix("/rules/"))
            found = next((rule for rule in rules if rule["Identifier"] == wanted), None)
            if found is None:
                error = {"Message": f"rule {wanted} not found", "Reason": "RULE_NOT_FOUND"}
                return web.json_response(
                    error, status=404, headers={"x-amzn-ErrorType": "ResourceNotFoundException"}
                )
            return web.json_response({**found, "Status": "available"})
        asked = json.loads(body or b"{}")
        matching = [rule for rule in rules if rule.get("ResourceType") == asked.get("ResourceType")]
        start = int(asked.get("NextToken") or 0)
        page = [
            {key: rule[key] for key in ("Identifier", "Description", "RetentionPeriod") if key in rule}
            for rule in matching[start : start + 1]
        ]
        more = {"NextToken": str(start + 1)} if start + 1 < len(matching) else {}
        return web.json_response({"Rules": page, **more})


def _operation(request: web.Request, body: bytes) -> str:
    target = request.headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    if body[:7] == b"Action=":
        return body[7:].split(b"&", 1)[0].decode()
    for (method, prefix), operation in _REST_OPERATIONS.items():  # rest-json: the operation is the path
        if request.method == method and request.path.startswith(prefix):
            return operation
    return request.method


def _filter_names(body: bytes) -> list[str]:
    """The filter names of a query-protocol (form-encoded) request: `Filter.1.Name=tag:...`."""
    if not body.startswith(b"Action="):
        return []
    form = urllib.parse.parse_qs(body.decode(errors="replace"))
    return [values[0] for key, values in form.items() if _FILTER_NAME.fullmatch(key)]


async def _serve(upstream: str, port: int, delays: dict[str, float]) -> None:
    proxy = AwsProxy(upstream, delays=delays, port=port)
    await proxy.start()
    print(proxy.endpoint, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])))
