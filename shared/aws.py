"""The one AWS client factory: aiobotocore clients, created once per process and reused.

Retries are botocore's own (standard or adaptive mode with a bounded number of attempts), so throttling
is handled the same way everywhere and nobody writes a retry loop by hand. The endpoint comes from the
standard `AWS_ENDPOINT_URL`, which is how the embedded moto server is reached locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import structlog
from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioDeferredRefreshableCredentials
from aiobotocore.session import AioSession, get_session
from botocore.loaders import JSONFileLoader
from botocore.utils import parse_timestamp

from shared.config import Settings

log = structlog.get_logger("cloudthrift.aws")
SESSION_NAME = "cloudthrift"  # what the other account's CloudTrail shows as the actor

# Long polls wait up to 20 s: the read timeout must be longer or every empty poll is an error.
_READ_TIMEOUT = 35


def parse_aws_timestamp(value: Any) -> datetime:
    """botocore's timestamp parser, minus dateutil for the ISO 8601 strings AWS actually sends.

    botocore sends every response timestamp through `dateutil.parser.parse`, which costs about as much
    as the rest of parsing a volume (a third of the scanner's listing CPU on 1,500 volumes). ISO 8601
    (EC2, STS) is read by `datetime.fromisoformat`; anything else (epoch numbers, RFC 822) still goes
    to botocore's own parser, so the result is the same instant either way.
    """
    if isinstance(value, str) and "T" in value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return parse_timestamp(value)


def _compact_object(pairs: list[tuple[str, Any]], _intern: Any = sys.intern) -> dict[str, Any]:
    return {_intern(key): _intern(value) if type(value) is str else value for key, value in pairs}


class CompactJSONFileLoader(JSONFileLoader):
    """botocore's data files as plain dicts sharing their repeated strings, instead of OrderedDicts.

    botocore parses every file it loads with `object_pairs_hook=OrderedDict`. endpoints.json (1.2 MB),
    which the first client of any service loads and the session keeps for the life of the process, is
    then 6.7 MiB of objects; as dicts whose repeated strings are interned, 3.1 MiB (about 3 MiB of RSS
    per worker). Dicts keep insertion order, so what reads the data sees the same keys, values and
    order. botocore's Loader takes its file loader as a documented constructor argument; this replaces
    it on the session's loader before the first client is made.
    """

    _OPENERS = ((".json", open), (".json.gz", gzip.open))

    def load_file(self, file_path: str) -> Any:
        for extension, opener in self._OPENERS:
            if os.path.isfile(file_path + extension):
                with opener(file_path + extension, "rb") as file:
                    return json.loads(file.read().decode("utf-8"), object_pairs_hook=_compact_object)
        return None


def aio_config(settings: Settings, *, max_pool_connections: int = 50) -> AioConfig:
    return AioConfig(
        retries={
            "mode": settings.cloudthrift_aws_retry_mode,
            "max_attempts": settings.cloudthrift_aws_max_attempts,
        },
        read_timeout=_READ_TIMEOUT,
        connect_timeout=settings.cloudthrift_aws_connect_timeout,
        max_pool_connections=max_pool_connections,
    )


class ClientFactory(Protocol):
    """What handlers need of AWS: a client per service, region and (other account's) role."""

    async def client(
        self, service: str, region: str | None = None, *, role_arn: str | None = None
    ) -> Any: ...

    async def account_id(self, role_arn: str | None = None) -> str: ...


class Clients(Protocol):
    """AWS clients of one region and one set of credentials: `await clients("cloudwatch")`."""

    async def __call__(self, service: str) -> Any: ...


class RegionClients:
    """The clients of one region and one role, as kinds and remedies use them: `await clients("ec2")`."""

    def __init__(self, factory: ClientFactory, region: str, role_arn: str | None = None) -> None:
        self._factory, self.region, self.role_arn = factory, region, role_arn

    async def __call__(self, service: str) -> Any:
        return await self._factory.client(service, self.region, role_arn=self.role_arn)


class AwsClients:
    """Caches one client per (service, region, role) for the life of the process.

    Another account is reached through its role with refreshable credentials (botocore's own
    assume-role fetcher): credentials renew themselves shortly before they expire, so the cache holds
    one client per service, region and role however many scans or clean-ups go through it, and a
    role is assumed once per credential lifetime, not once per use. Use as an async context manager;
    every client it made is closed on exit.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session: AioSession | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._settings = settings
        self._session = session or get_session()
        loader = self._session.get_component("data_loader")
        if not isinstance(loader.file_loader, CompactJSONFileLoader):
            loader.file_loader = CompactJSONFileLoader()
        self._session.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=parse_aws_timestamp
        )
        self._config = aio_config(settings)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stack = contextlib.AsyncExitStack()
        self._clients: dict[tuple[str, str, str, int], Any] = {}
        self._role_sessions: dict[str, AioSession] = {}
        self._lock = asyncio.Lock()
        self.assumed: Counter[str] = Counter()  # AssumeRole calls per role, for tests and logs

    @property
    def home_region(self) -> str:
        return self._settings.aws_region

    @property
    def open_clients(self) -> int:
        return len(self._clients)

    async def __aenter__(self) -> AwsClients:
        await self._stack.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._clients.clear()
        self._role_sessions.clear()
        await self._stack.__aexit__(*exc_info)

    async def client(
        self,
        service: str,
        region: str | None = None,
        *,
        role_arn: str | None = None,
        max_attempts: int | None = None,
    ) -> Any:
        """A client for `service` in `region` (the home region by default), created on first use.

        Args:
            role_arn: act in another account through this role (assumed and renewed as needed).
            max_attempts: a client with its own retry budget, for probes whose failure has a fallback
                (retrying an unimplemented call on an emulator only delays the fallback).
        """
        region = region or self._settings.aws_region
        cache_key = (service, region, role_arn or "", max_attempts or 0)
        existing = self._clients.get(cache_key)
        if existing is not None:
            return existing
        async with self._lock:  # one client per key, even when many tasks ask at once
            existing = self._clients.get(cache_key)
            if existing is not None:
                return existing
            config = self._config
            if max_attempts is not None:
                config = config.merge(AioConfig(retries={"mode": "standard", "max_attempts": max_attempts}))
            session = self._session if role_arn is None else self._role_session(role_arn)
            created = await self._stack.enter_async_context(
                session.create_client(service, **self._client_kwargs(region, config))
            )
            self._clients[cache_key] = created
            return created

    def _client_kwargs(self, region: str, config: AioConfig) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"region_name": region, "config": config}
        if self._settings.aws_endpoint_url:
            kwargs["endpoint_url"] = self._settings.aws_endpoint_url
            if urlsplit(self._settings.aws_endpoint_url).scheme == "http":
                # No TLS on the wire, nothing to verify; left at True, botocore still loads the whole CA
                # bundle into a TLS context for each client's first request (about 0.1 s of CPU per
                # client, a sixth of `cloudthrift approve` on the embedded AWS).
                kwargs["verify"] = False
        return kwargs

    def _role_session(self, role_arn: str) -> AioSession:
        """A session whose credentials are the role's, refreshed by STS AssumeRole before they expire."""
        held = self._role_sessions.get(role_arn)
        if held is not None:
            return held
        session = AioSession()
        # The parsed service models are the base session's: a role costs credentials, not memory.
        for component in ("data_loader", "response_parser_factory"):
            session.register_component(component, self._session.get_component(component))

        async def refresh() -> dict[str, Any]:
            """botocore calls this when the credentials are about to expire (15 minutes before)."""
            sts = await self.client("sts")
            # The member roles trust CloudThrift's task roles only with this ExternalId (docs/DEPLOY.md).
            external_id = self._settings.cloudthrift_external_id
            extra = {"ExternalId": external_id.get_secret_value()} if external_id else {}
            answer = await sts.assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME, **extra)
            self.assumed[role_arn] += 1
            log.info("aws.role_assumed", role_arn=role_arn)
            credentials = answer["Credentials"]
            return {
                "access_key": credentials["AccessKeyId"],
                "secret_key": credentials["SecretAccessKey"],
                "token": credentials["SessionToken"],
                "expiry_time": _aware(credentials["Expiration"]).isoformat(),
            }

        # botocore has no public setter for refreshable credentials on a session.
        session._credentials = AioDeferredRefreshableCredentials(  # type: ignore[attr-defined]
            refresh_using=refresh, method="assume-role", time_fetcher=self._clock
        )
        self._role_sessions[role_arn] = session
        return session

    async def account_id(self, role_arn: str | None = None) -> str:
        sts = await self.client("sts", role_arn=role_arn)
        return str((await sts.get_caller_identity())["Account"])


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_error(exc: BaseException, *codes: str) -> bool:
    """True when `exc` is a botocore ClientError with one of `codes`."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    return response.get("Error", {}).get("Code") in codes
