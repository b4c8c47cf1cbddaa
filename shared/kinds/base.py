"""What a resource kind, a check and a remedy are: the plug-in surface of CloudThrift.

A *kind* is an AWS resource type: how to list it (paginated, narrowed server-side), describe one by id,
read a raw record into facts and tags, price it, which facts Gemini may see, how the local estate seeds
examples of it. A *check* says why one is waste (unattached, unused over a window...); a *remedy* says
what to do about it, how to rehearse it in a dry run, and whether it can be undone. Checks and remedies
register on their kind's own registries, as Cloud Custodian registers filters and actions on a
resource (docs/ARCHITECTURE.md, "Kinds, checks, remedies"). One module per kind holds all three.

Everything here except listing, describing, seeding and the remedies' AWS calls is a pure function of
what AWS returned, so each kind is tested without AWS for its rules and on moto for its calls.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from shared.aws import Clients
from shared.events import Approver, CostLine, FactValue, Finding
from shared.registry import Registry

if TYPE_CHECKING:
    from shared.kinds.advice import Advice, Signals
    from shared.kinds.estate import Estate
    from shared.kinds.pricing import Rates


@dataclass(frozen=True)
class Observation:
    """One resource as its kind reads it: identity, facts (what a human approves), tags, age."""

    resource_id: str
    facts: dict[str, FactValue]
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True)
class Metric:
    """A CloudWatch metric a usage check reads over its window, one value per resource.

    `dimension` names the dimension that selects the resource; its value is the resource id, or the
    fact named by `dimension_fact` (SNS's TopicName is the name, not the ARN). `missing_means_zero`
    records what AWS documents for the metric: True where CloudWatch publishes no datapoint when there is no
    traffic (so absence is zero), False where absence means the data is not there (then the resource
    is not reported: unknown usage is never waste).
    """

    namespace: str
    name: str
    stat: str
    dimension: str
    missing_means_zero: bool
    dimension_fact: str | None = None

    def dimension_value(self, observation: Observation) -> str:
        if self.dimension_fact is None:
            return observation.resource_id
        return str(observation.facts.get(self.dimension_fact))


@dataclass(frozen=True)
class Usage:
    """The numbers a usage check judges by: metric name -> value over the window (None: no data)."""

    window: timedelta
    values: Mapping[str, float | None]

    def known(self) -> bool:
        return all(value is not None for value in self.values.values())


@dataclass(frozen=True)
class Priced:
    """What a resource costs per month, one line per billed dimension, and a caveat if any."""

    lines: list[CostLine]
    note: str | None = None


def tags_of(raw: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in raw.get("Tags", []) or []}


async def expect_dry_run_ok(call: Awaitable[Any]) -> None:
    """Await a DryRun=True call: DryRunOperation means it would have succeeded (AWS answers
    UnauthorizedOperation without the permission); any other error propagates."""
    from shared.aws import is_error

    try:
        await call
    except Exception as exc:
        if not is_error(exc, "DryRunOperation"):
            raise


# --- remedies ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One approved clean-up, as a remedy needs it."""

    decision_id: str
    resource_id: str
    approver: Approver
    # The resource's facts and tags as re-read now (or as approved, when it is already gone).
    facts: Mapping[str, Any]
    tags: Mapping[str, str]
    snapshot_wait_seconds: int
    # Called right before every destructive call: raises when the executor lost its claim.
    guard: Callable[[], Awaitable[None]]
    # This attempt took over an earlier one (an expired claim, a FAILED retry): only then can an
    # earlier attempt's artefact (a safety snapshot, an image) exist and need finding.
    resumed: bool = False
    # The resource as the executor's re-check just read it (None when it was not re-read): a remedy
    # that needs more of it than facts and tags reads it here instead of describing it again.
    raw: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Done:
    """What was really done (or, in a dry run, would have been): becomes the EXECUTED record."""

    action: str
    # What the remedy's `residual` prices stays billed (a kept snapshot, an archived one, the volume a
    # modify keeps): the executor subtracts it from the saving.
    keeps_snapshot: bool = False
    snapshot_id: str | None = None
    already_gone: bool = False
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Refused:
    """AWS refused because the resource is in use after all: the decision is SKIPPED, not FAILED."""

    reason: str
    snapshot_id: str | None = None


@dataclass(frozen=True)
class UndoJob:
    """One approved undo of an executed clean-up, as a remedy's `restore` needs it (issue 14)."""

    decision_id: str
    resource_id: str  # the original resource (it may be gone: a deleted volume, a released address)
    approver: Approver
    # The EXECUTED decision as recorded: the approved facts and tags, `Done.record`, the snapshot id.
    facts: Mapping[str, Any]
    tags: Mapping[str, str]
    record: Mapping[str, Any]
    snapshot_id: str | None
    guard: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Restored:
    """What an undo brought back: becomes the RESTORED record. `resource_id` is what exists now (a
    volume restored from its snapshot has a new id; a re-allocated address keeps its own)."""

    action: str
    resource_id: str
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NotYet:
    """The undo is under way and must be resumed later (an archived snapshot is being restored to
    the standard tier: up to 72 hours). The decision stays RESTORING; nothing is lost on a crash."""

    reason: str
    retry_after: timedelta


class Remedy(ABC):
    """What to do about a waste finding. Deliberately dumb about safety: the executor decides whether
    to act (claim, re-check, fingerprint); a remedy knows how, and calls `job.guard()` before every
    destructive call so that an executor which lost its claim stops before touching anything."""

    name: ClassVar[str]
    kind: ClassVar[type[Kind]]
    action: ClassVar[str]  # what the ledger's `action` field records
    summary: ClassVar[str]
    permissions: ClassVar[tuple[str, ...]]
    # How it is undone, shown before approval; None: it cannot be (the card says so).
    undo: ClassVar[str | None] = None
    # `permissions` include what `restore` calls: the executor's role and a member account's clean-up
    # role grant the undo with the clean-up.
    keeps_snapshot: ClassVar[bool] = False
    # Keeps its safety snapshot in the archive tier (preferred when CLOUDTHRIFT_SAFETY_SNAPSHOT_TIER
    # is `archive`).
    archives: ClassVar[bool] = False

    def residual(self, observation: Observation, rates: Rates) -> CostLine | None:
        """What stays billed after the remedy (the snapshot it keeps), subtracted from the saving."""
        return None

    def note(self, observation: Observation, rates: Rates) -> str | None:
        """What a human must know before choosing this remedy beyond its price (a minimum charge)."""
        return None

    @abstractmethod
    async def apply(self, clients: Clients, job: Job) -> Done | Refused:
        """Clean up for real; "already gone" counts as done (only called holding a claim)."""

    @abstractmethod
    async def rehearse(self, clients: Clients, job: Job) -> Done | Refused:
        """Dry run: prove the permissions (DryRun=True where AWS has it) and say what would be done;
        Refused when the real run would refuse too (deletion protection): the decision is SKIPPED."""

    async def restore(self, clients: Clients, job: UndoJob) -> Restored | NotYet | Refused:
        """Undo the clean-up (only called for a remedy whose `undo` is not None, holding a claim).
        Refused when AWS no longer allows it (the address went to someone else): RESTORE_FAILED with
        the reason, said plainly."""
        raise NotImplementedError(f"{type(self).__name__} declares no undo")

    async def finished(self, clients: Clients, job: Job) -> Done | Refused | None:
        """Resuming after a crash, the resource still exists: what an earlier attempt of this decision
        already did to it (a volume already being modified to gp3), or None to re-check and act as
        usual. A remedy that changes rather than removes needs it: the changed resource is no longer
        waste by its check, and would be SKIPPED although the approved change was made."""
        return None

    async def leftovers(self, clients: Clients, job: Job) -> Done:
        """The resource is gone and we were executing it: record what an earlier attempt did."""
        return Done(self.action, keeps_snapshot=self.keeps_snapshot, already_gone=True)


# --- checks ------------------------------------------------------------------------------------


class Check(ABC):
    """Why a resource of a kind is waste. `verdict` is pure: the reason, or None when it is in use."""

    name: ClassVar[str]
    kind: ClassVar[type[Kind]]
    summary: ClassVar[str]
    # Server-side narrowing of the kind's listing (DescribeVolumes Filters...): what cannot be waste
    # by this check never crosses the wire. Checks with equal filters share one listing.
    filters: ClassVar[tuple[Mapping[str, Any], ...]] = ()
    # Usage checks: metrics read in bulk per region over `window` (shared/kinds/usage.py).
    metrics: ClassVar[tuple[Metric, ...]] = ()
    window: ClassVar[timedelta] = timedelta(days=14)
    permissions: ClassVar[tuple[str, ...]] = ()  # reads beyond the kind's own (GetMetricData...)
    # Names of this kind's remedies that fix it, preferred first: the first allowed one is proposed.
    remedies: ClassVar[tuple[str, ...]]
    # A check whose remedy changes the resource rather than removing it (gp2 to gp3) is reported only
    # when, once priced, it saves something: its net monthly saving is above zero.
    saves_only: ClassVar[bool] = False
    # How old a resource must be before this check reports it, when more than the global minimum age
    # (old snapshots: 90 days). Operators set their own per check: CLOUDTHRIFT_CHECK_MIN_AGE_DAYS.
    min_age: ClassVar[timedelta] = timedelta(0)

    def remedy_order(self, observation: Observation) -> tuple[str, ...]:
        """This resource's remedies, preferred first: `remedies` unless its facts say otherwise (an old
        snapshot whose volume lives on is better deleted than archived). A pure function of facts, so the
        scanner prices and the executor runs the same remedy for what the human approved."""
        return self.remedies

    def withheld(self, observation: Observation) -> str | None:
        """Why this resource, waste as it is, is offered no remedy, and what its owner can do; None: its
        remedies are offered. A load balancer under deletion protection: its owner asked that it not be
        deleted, and AWS would refuse. The finding carries the reason (`CostEstimate.withheld`): its
        card has no Approve, Approve all leaves it out, the ledger refuses its approval. A pure function
        of facts, like `remedy_order`."""
        return None

    @abstractmethod
    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        """Why the resource is waste, or None when it is in use (usage is None for non-usage checks)."""

    @abstractmethod
    def busy_reason(self, observation: Observation) -> str:
        """Why a resource that is no longer waste must be left alone, for the SKIPPED record."""

    def advise(self, finding: Finding, signals: Signals, now: datetime) -> Advice | None:
        """The rule-based analysis of a finding (services/analyzer/rules.py); None: the generic one."""
        return None

    @property
    def all_permissions(self) -> tuple[str, ...]:
        return (*self.kind.permissions, *self.permissions)


# --- kinds -------------------------------------------------------------------------------------


class Kind(ABC):
    """An AWS resource type. Subclasses get their own `checks` and `remedies` registries."""

    name: ClassVar[str]
    service: ClassVar[str] = "ec2"
    summary: ClassVar[str]
    permissions: ClassVar[tuple[str, ...]]  # to list and describe it
    # Error codes meaning the resource no longer exists: "done" when we were executing it (Custodian).
    gone_codes: ClassVar[frozenset[str]]
    # Facts Gemini may see. An allow-list: a new fact stays with us until someone decides it may go.
    gemini_facts: ClassVar[frozenset[str]]
    # Price rows (shared/kinds/prices.json) the kind and its remedies read: every region must have them.
    dimensions: ClassVar[tuple[str, ...]]
    checks: ClassVar[Registry[Check]]
    remedies: ClassVar[Registry[Remedy]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.checks = Registry(f"{cls.__name__} check")
        cls.remedies = Registry(f"{cls.__name__} remedy")

    @classmethod
    def check(cls, name: str) -> Callable[[type[Check]], type[Check]]:
        """Register a check on this kind: `@EbsVolume.check("unattached")`."""
        return cls._on(cls.checks, name)

    @classmethod
    def remedy(cls, name: str) -> Callable[[type[Remedy]], type[Remedy]]:
        """Register a remedy on this kind: `@EbsVolume.remedy("snapshot-then-delete")`."""
        return cls._on(cls.remedies, name)

    @classmethod
    def _on(cls, registry: Registry[Any], name: str) -> Callable[[type[Any]], type[Any]]:
        def decorate(entry: type[Any]) -> type[Any]:
            entry.name, entry.kind = name, cls
            return registry.register(name)(entry)

        return decorate

    @abstractmethod
    def list(
        self, clients: Clients, filters: tuple[Mapping[str, Any], ...]
    ) -> AsyncIterator[Mapping[str, Any]]:
        """Every resource of this kind in the region, narrowed by `filters` where the API can."""

    @abstractmethod
    async def describe(self, clients: Clients, resource_id: str) -> Mapping[str, Any] | None:
        """The resource as AWS sees it now, or None when it no longer exists."""

    def is_going(self, raw: Mapping[str, Any]) -> bool:
        """True when the resource is already on its way out (e.g. a volume in state `deleting`)."""
        return False

    @abstractmethod
    def observe(self, raw: Mapping[str, Any]) -> Observation:
        """Read one API record: identity, facts, tags, age."""

    @abstractmethod
    def price(self, observation: Observation, rates: Rates) -> Priced:
        """What the resource costs per month, one line per billed dimension."""

    @abstractmethod
    def details(self, facts: Mapping[str, FactValue]) -> str:
        """A few words for the details column of tables (`cloudthrift local`, `pending`)."""

    @abstractmethod
    async def seed(self, estate: Estate) -> None:
        """Create examples of this kind in the local demo estate (idle, busy, opted out, too young)."""

    def is_gone(self, exc: BaseException) -> bool:
        from shared.aws import is_error

        return is_error(exc, *self.gone_codes)
