"""What a resource kind must tell the executor: how to re-read it, how to clean it up, what "gone" means.

One small class per kind, registered in `actions` under the scanner's kind name, Cloud Custodian style.
Reading a raw record into facts is the scanner detector's job (`observe`): the executor reuses it, so
the facts it re-checks right before acting are computed exactly as the facts the human approved.

Actions are deliberately dumb about safety: the handler decides *whether* to act (claim, re-check,
fingerprint); an action only knows *how*, and calls `job.guard()` right before every destructive call
so that an executor which lost its claim stops before touching anything.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from services.scanner.resources import Detector, Observation, detectors
from shared.aws import is_error
from shared.events import Approver
from shared.registry import Registry

# DryRun=True answers this when the call would have succeeded (and UnauthorizedOperation when not).
DRY_RUN_OK = "DryRunOperation"
# What was done, as recorded in the ledger's `action` field.
SNAPSHOT_THEN_DELETE = "snapshot_then_delete"
DELETE = "delete"
RELEASE = "release"


@dataclass(frozen=True)
class Job:
    """One approved clean-up, as an action needs it."""

    decision_id: str
    resource_id: str
    approver: Approver
    # The resource's facts and tags as re-read now (or as approved, when it is already gone).
    facts: Mapping[str, Any]
    tags: Mapping[str, str]
    snapshot: bool
    snapshot_wait_seconds: int
    guard: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Done:
    """What was really done (or, in a dry run, would have been): becomes the EXECUTED record."""

    action: str
    snapshot_id: str | None = None
    already_gone: bool = False
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def keeps_snapshot(self) -> bool:
        """A snapshot is (or would be) kept, so its storage is subtracted from the saving."""
        return self.action == SNAPSHOT_THEN_DELETE


@dataclass(frozen=True)
class Refused:
    """AWS refused because the resource is in use after all: the decision is SKIPPED, not FAILED."""

    reason: str
    snapshot_id: str | None = None


class Action(ABC):
    kind: ClassVar[str]
    service: ClassVar[str] = "ec2"
    permissions: ClassVar[tuple[str, ...]]
    # Error codes meaning the resource no longer exists: "done" when we were executing it (Custodian).
    gone_codes: ClassVar[frozenset[str]]

    @property
    def detector(self) -> Detector:
        return detectors.get(self.kind)()

    def is_gone(self, exc: BaseException) -> bool:
        return is_error(exc, *self.gone_codes)

    @abstractmethod
    async def describe(self, client: Any, resource_id: str) -> Mapping[str, Any] | None:
        """The resource as AWS sees it now, or None when it no longer exists."""

    def is_going(self, raw: Mapping[str, Any]) -> bool:
        """True when the resource is already on its way out (e.g. a volume in state `deleting`)."""
        return False

    @abstractmethod
    def busy_reason(self, observation: Observation) -> str:
        """Why a resource that is no longer idle must be left alone, for the SKIPPED record."""

    @abstractmethod
    async def apply(self, client: Any, job: Job) -> Done | Refused:
        """Clean up for real; "already gone" counts as done (the handler only calls this holding a claim)."""

    @abstractmethod
    async def rehearse(self, client: Any, job: Job) -> Done:
        """Dry run: prove the permissions with DryRun=True calls and say what would be done."""

    async def leftovers(self, client: Any, job: Job) -> Done:
        """The resource is gone and we were executing it: record what an earlier attempt did."""
        return Done(action=DELETE, already_gone=True)


actions: Registry[Action] = Registry("executor action")


async def expect_dry_run_ok(call: Awaitable[Any]) -> None:
    """Await a DryRun=True call: DryRunOperation means allowed; any other error propagates."""
    try:
        await call
    except Exception as exc:
        if not is_error(exc, DRY_RUN_OK):
            raise
