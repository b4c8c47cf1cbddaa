"""The wire contract between stages: one versioned envelope around five event payloads.

`{"schema": "cloudthrift.event/1", "type": "...", "id": "<uuid>", "occurred_at": "...", "payload": {...}}`

Parsing is strict on purpose: an unknown schema version or a payload that does not validate raises
`InvalidEvent`, which the queue runtime dead-letters with the reason instead of retrying forever.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from shared.errors import InvalidEvent

SCHEMA = "cloudthrift.event/1"
EVENT_NAMESPACE = uuid.UUID("6f4f1a2e-9d0c-4c55-9a8e-2c1b7f0e5a11")

FactValue = str | int | float | bool | None


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_NAME = r"^[a-z0-9][a-z0-9-]{0,63}$"


# The one check each kind had before decision keys named a check (cloudthrift.event/1 before issue 12):
# a finding or an item written then is read as a finding of that check.
LEGACY_CHECKS = {"ebs-volume": "unattached", "elastic-ip": "unassociated"}


class DecisionKey(_Model):
    """What identifies a finding across scans: one ledger item per account + region + kind + check +
    resource, so one resource can be waste for two reasons without the decisions colliding."""

    account_id: str = Field(pattern=r"^\d{12}$")
    region: str = Field(min_length=1, max_length=32)
    kind: str = Field(pattern=_NAME)
    check: str = Field(pattern=_NAME)
    resource_id: str = Field(min_length=1, max_length=256)

    @property
    def pk(self) -> str:
        return f"{self.account_id}#{self.region}#{self.kind}#{self.check}#{self.resource_id}"

    @classmethod
    def from_pk(cls, pk: str) -> DecisionKey:
        account_id, region, kind, check, resource_id = pk.split("#", 4)
        return cls(account_id=account_id, region=region, kind=kind, check=check, resource_id=resource_id)

    @staticmethod
    def is_legacy_pk(pk: str) -> bool:
        """`account#region#resource`: how a decision was keyed before keys named kind and check."""
        parts = pk.split("#")
        return len(parts) == 3 and parts[0].isdigit() and len(parts[0]) == 12

    @classmethod
    def from_legacy_pk(cls, pk: str) -> DecisionKey:
        """The key a legacy one stands for. Only two kinds existed then, told apart by the id itself."""
        account_id, region, resource_id = pk.split("#", 2)
        kind = "ebs-volume" if resource_id.startswith("vol-") else "elastic-ip"
        return cls(
            account_id=account_id,
            region=region,
            kind=kind,
            check=LEGACY_CHECKS[kind],
            resource_id=resource_id,
        )


class CostLine(_Model):
    """One billed dimension, so a card can show where the money goes."""

    item: str
    quantity: Decimal
    unit: str
    unit_price_usd: Decimal
    monthly_usd: Decimal


class RemedyChoice(_Model):
    """One way to clean a finding up, priced: what stays billed, the net saving, and its undo.

    The card offers these when the default remedy would lose money (a safety snapshot of a large cold
    volume costs more than the volume): the human picks one, and the executor runs that one."""

    remedy: str = Field(min_length=1, max_length=64)
    summary: str = Field(max_length=300)
    residual_monthly_usd: Decimal = Field(ge=0)
    net_monthly_saving_usd: Decimal
    undo: str | None = Field(default=None, max_length=300)
    note: str | None = Field(default=None, max_length=300)


class CostEstimate(_Model):
    """What a resource costs per month, and what deleting it saves net of the snapshot we keep."""

    monthly_usd: Decimal = Field(ge=0)
    lines: tuple[CostLine, ...] = ()
    snapshot_monthly_usd: Decimal = Field(default=Decimal(0), ge=0)
    net_monthly_saving_usd: Decimal
    price_source: str
    price_date: str
    note: str | None = None
    # Every remedy of the check, priced (empty for a finding scanned before choices existed).
    choices: tuple[RemedyChoice, ...] = ()
    # Why this finding is reported but offered no clean-up (a load balancer under deletion protection:
    # `Check.withheld`), and what its owner can do. Its card has no Approve, Approve all leaves it out
    # and the ledger refuses its approval; nothing is saved, so the net saving is zero.
    withheld: str | None = Field(default=None, min_length=1, max_length=300)

    @model_serializer(mode="wrap")
    def _without_absent_choices(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """No choices (no withheld reason) serialise as before they existed: a previous reader
        (extra="forbid") still parses."""
        data: dict[str, Any] = handler(self)
        if not data.get("choices"):
            data.pop("choices", None)
        if data.get("withheld") is None:
            data.pop("withheld", None)
        return data

    def choice(self, remedy: str) -> RemedyChoice | None:
        return next((c for c in self.choices if c.remedy == remedy), None)

    @property
    def offers_remedy(self) -> bool:
        return self.withheld is None

    @property
    def loses_money(self) -> bool:
        """The proposed remedy (the default) costs more than it saves: a human must pick another."""
        return self.net_monthly_saving_usd < 0


ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$"


class Finding(_Model):
    """A wasteful resource as the scanner saw it: every later stage works from these facts."""

    key: DecisionKey
    facts: dict[str, FactValue] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    created_at: AwareDatetime | None = None
    idle_since: AwareDatetime
    idle_reason: str = Field(min_length=1, max_length=500)
    cost: CostEstimate
    scan_id: str = Field(min_length=1, max_length=128)
    # The role the scan assumed to see it (another account): the executor acts through the same role.
    # Not part of the fingerprint: it says how we reach the resource, not what the human approved.
    role_arn: str | None = Field(default=None, pattern=ROLE_ARN_PATTERN)

    @model_validator(mode="before")
    @classmethod
    def _legacy_shape(cls, data: Any) -> Any:
        """Read a finding written before keys named kind and check (its kind stood beside the key), so
        messages in flight and ledger items of the previous version still parse during an upgrade."""
        if isinstance(data, dict) and "kind" in data and isinstance(data.get("key"), dict):
            data = dict(data)
            kind = data.pop("kind")
            key = dict(data["key"])
            key.setdefault("kind", kind)
            key.setdefault("check", LEGACY_CHECKS.get(kind, "unknown"))
            data["key"] = key
        return data

    @model_serializer(mode="wrap")
    def _without_absent_role(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A home-account finding serialises exactly as before `role_arn` existed, so a reader of the
        previous version (extra="forbid") still parses events and ledger items during a rolling deploy."""
        data: dict[str, Any] = handler(self)
        if data.get("role_arn") is None:
            data.pop("role_arn", None)
        return data

    @property
    def kind(self) -> str:
        return self.key.kind

    @property
    def check(self) -> str:
        """Why it is waste: the name of the kind's check that reported it."""
        return self.key.check

    @property
    def fingerprint(self) -> str:
        """Hash of what a human approves: a resource whose facts or tags changed is not acted on."""
        canonical = json.dumps(
            {"kind": self.kind, "id": self.key.resource_id, "facts": self.facts, "tags": self.tags},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


Risk = Literal["low", "medium", "high"]
Recommendation = Literal["delete", "snapshot_then_delete", "keep", "investigate"]


class Analysis(_Model):
    """The explanation a human reads on the card. Limits keep every card inside Discord's."""

    # Discord trims before counting and rejects an empty field value: a blank text must not validate.
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    summary: str = Field(min_length=1, max_length=700)
    likely_cause: str = Field(min_length=1, max_length=300)
    risk: Risk
    risk_reason: str = Field(min_length=1, max_length=300)
    recommendation: Recommendation
    confidence: float = Field(ge=0, le=1)
    source: str = Field(min_length=1, max_length=64, description="Model name, or 'rules'.")


class Approver(_Model):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=128)
    via: Literal["discord", "cli"]


# --- payloads --------------------------------------------------------------------------------


class Payload(_Model):
    """Base of the payloads; `event_type` is the envelope's `type`."""

    event_type: ClassVar[str]

    def event_id(self) -> uuid.UUID:
        """Deterministic where a payload has a natural identity, so redelivered duplicates collapse."""
        return uuid.uuid4()


_ACCOUNT = r"^\d{12}$"
_OU = r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$"


class OrganizationScope(_Model):
    """Which accounts of the organization a scan covers: every ACTIVE one, narrowed by the include lists
    (accounts, or everything under an OU or the root) when any is given, then minus the excludes."""

    include_accounts: tuple[Annotated[str, Field(pattern=_ACCOUNT)], ...] = ()
    exclude_accounts: tuple[Annotated[str, Field(pattern=_ACCOUNT)], ...] = ()
    include_ous: tuple[Annotated[str, Field(pattern=_OU)], ...] = ()
    exclude_ous: tuple[Annotated[str, Field(pattern=_OU)], ...] = ()


class ScanRequested(Payload):
    event_type: ClassVar[str] = "ScanRequested"

    scan_id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=128)
    regions: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    account_id: str | None = Field(default=None, pattern=_ACCOUNT)
    role_arn: str | None = Field(default=None, pattern=ROLE_ARN_PATTERN)
    requested_by: str = Field(default="unknown", min_length=1, max_length=128)
    # Set: this request is for the whole organization; the scanner fans it out, one request per
    # account and region, onto the scan queue (services/scanner/organization.py) and scans nothing itself.
    organization: OrganizationScope | None = None
    # On a fanned-out request: the organization scan it is part of (logs and metrics join on it).
    parent_scan_id: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _one_target(self) -> ScanRequested:
        if self.organization is not None and (self.role_arn or self.account_id):
            raise ValueError("an organization scan names no account or role: it finds them")
        return self

    def event_id(self) -> uuid.UUID:
        return uuid.uuid5(EVENT_NAMESPACE, f"scan#{self.scan_id}")


class ResourceFound(Payload):
    event_type: ClassVar[str] = "ResourceFound"

    finding: Finding

    def event_id(self) -> uuid.UUID:
        return uuid.uuid5(EVENT_NAMESPACE, f"found#{self.finding.scan_id}#{self.finding.key.pk}")


class ResourceAnalyzed(Payload):
    event_type: ClassVar[str] = "ResourceAnalyzed"

    finding: Finding
    analysis: Analysis

    def event_id(self) -> uuid.UUID:
        return uuid.uuid5(EVENT_NAMESPACE, f"analyzed#{self.finding.scan_id}#{self.finding.key.pk}")


class ApprovalGranted(Payload):
    event_type: ClassVar[str] = "ApprovalGranted"

    decision_id: str = Field(min_length=1, max_length=64)
    key: DecisionKey
    approver: Approver
    approved_at: AwareDatetime
    finding: Finding
    fingerprint: str = Field(min_length=1, max_length=64)
    # The remedy the human chose on the card, as the ledger recorded it (None: the check's default).
    # The executor reads the ledger's copy; this one tells logs and traces what was approved.
    remedy: str | None = Field(default=None, min_length=1, max_length=64)

    def event_id(self) -> uuid.UUID:
        return uuid.uuid5(EVENT_NAMESPACE, f"approved#{self.decision_id}")

    @model_serializer(mode="wrap")
    def _without_absent_remedy(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An approval of the default remedy serialises as before: previous executors still parse it."""
        data: dict[str, Any] = handler(self)
        if data.get("remedy") is None:
            data.pop("remedy", None)
        return data


class ClickReceived(Payload):
    """A Discord click a cold interactions function verified and answered with a deferred update, to be
    decided from its queue (services/serverless/interactions.py). `interaction` is the signed body: it
    carries the application id and the interaction's token that edit the card afterwards without a bot
    (services/notifier/followup.py). The token is a credential for 15 minutes: the body is never logged
    (parse errors name the field, not the input); a dead-lettered copy outlives the token."""

    event_type: ClassVar[str] = "ClickReceived"

    interaction: str = Field(min_length=1, max_length=65_536)
    received_at: AwareDatetime

    def event_id(self) -> uuid.UUID:
        return uuid.uuid5(EVENT_NAMESPACE, f"click#{self.interaction}")


class RestoreRequested(Payload):
    """An approver asked to undo an executed clean-up (CLI `restore` or the card's Undo button).

    The executor alone decides whether it may act (the ledger's state, the remedy's undo); the
    message only names the decision and who asked. Re-sent with a delay while the undo waits (an
    archived snapshot restoring): the same event, so its id is the same.
    """

    event_type: ClassVar[str] = "RestoreRequested"

    decision_id: str = Field(min_length=1, max_length=64)
    key: DecisionKey
    requested_by: Approver
    requested_at: AwareDatetime

    def event_id(self) -> uuid.UUID:
        return uuid.uuid5(EVENT_NAMESPACE, f"restore#{self.decision_id}#{self.requested_at.isoformat()}")


PAYLOADS: dict[str, type[Payload]] = {
    cls.event_type: cls
    for cls in (
        ScanRequested,
        ResourceFound,
        ResourceAnalyzed,
        ApprovalGranted,
        ClickReceived,
        RestoreRequested,
    )
}

P = TypeVar("P", bound=Payload)


class Envelope(_Model, Generic[P]):
    """The one message shape on every queue. Trace context travels in SQS attributes, not here."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_: Literal["cloudthrift.event/1"] = Field(default=SCHEMA, alias="schema")
    type: str
    id: uuid.UUID
    occurred_at: AwareDatetime
    payload: P

    @classmethod
    def wrap(cls, payload: P, *, occurred_at: datetime | None = None) -> Envelope[P]:
        return Envelope[type(payload)](  # type: ignore[misc]
            type=payload.event_type,
            id=payload.event_id(),
            occurred_at=occurred_at or utcnow(),
            payload=payload,
        )

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


def parse_event(body: str | bytes | Mapping[str, Any]) -> Envelope[Payload]:
    """Parse a message body into a typed envelope, or raise `InvalidEvent` saying exactly why."""
    try:
        data = json.loads(body) if isinstance(body, str | bytes) else dict(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidEvent(f"body is a JSON {type(data).__name__}, not an object")
    schema = data.get("schema")
    if schema != SCHEMA:
        raise InvalidEvent(f"unsupported schema {schema!r} (this version reads {SCHEMA!r})")
    event_type = data.get("type")
    payload_cls = PAYLOADS.get(event_type) if isinstance(event_type, str) else None
    if payload_cls is None:
        raise InvalidEvent(f"unknown event type {event_type!r}")
    try:
        return Envelope[payload_cls].model_validate(data)  # type: ignore[valid-type,return-value]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidEvent(
            f"invalid {event_type}: {where}: {first['msg']} ({exc.error_count()} error(s))"
        ) from None
