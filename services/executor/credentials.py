"""Whose credentials the executor acts with: its own, or the role the scan saw the resource through.

A finding scanned in another account carries the role the scanner assumed (`Finding.role_arn`). The
executor takes that role from the ledger's copy of the finding (what was approved, never what a message
says), refuses a role of another account than the decision's, and otherwise assumes it for the re-check
and the clean-up alike, so that both happen in the account the human approved. This module is the one
place that choice is made; actions only ever see the client it returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.executor.rules import role_refusal
from shared.errors import PermanentError
from shared.ledger import Decision

SESSION_NAME = "cloudthrift-executor"  # what the other account's CloudTrail shows as the actor


class ClientFactory(Protocol):
    async def client(self, service: str, region: str | None = None, *, credentials: Any = None) -> Any: ...

    async def assume_role(self, role_arn: str, session_name: str = ...) -> dict[str, Any]: ...


class RoleRefused(PermanentError):
    """The finding's role is in another account than the approved decision: nothing is done with it."""


@dataclass
class AssumedRoles:
    """Credentials per role, reused until shortly before they expire.

    The client factory caches one client per set of credentials for the life of the process, so
    assuming the role afresh for every clean-up would add a client per execution; reusing the
    credentials adds one per role (and region) per expiry period instead.
    """

    refresh_before: timedelta = timedelta(minutes=5)
    _held: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def credentials(self, aws: ClientFactory, role_arn: str, now: datetime) -> Mapping[str, Any]:
        async with self._lock:  # one AssumeRole per role when approvals arrive together
            held = self._held.get(role_arn)
            expires = held.get("Expiration") if held else None
            if held is None or not isinstance(expires, datetime) or expires - self.refresh_before <= now:
                held = self._held[role_arn] = await aws.assume_role(role_arn, SESSION_NAME)
            return held


async def client_for(
    service: str, decision: Decision, aws: ClientFactory, roles: AssumedRoles, now: datetime
) -> Any:
    """The client to re-check and act with: in the decision's account, through its finding's role if any.

    Raises:
        RoleRefused: the role recorded with the finding belongs to another account than the decision.
    """
    key = decision.key
    role_arn = decision.finding.role_arn
    if role_arn is None:
        return await aws.client(service, key.region)
    refusal = role_refusal(role_arn, key)
    if refusal is not None:
        raise RoleRefused(refusal)
    credentials = await roles.credentials(aws, role_arn, now)
    return await aws.client(service, key.region, credentials=credentials)
