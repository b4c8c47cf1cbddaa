"""The decision item: its states, its attribute names, and typed reads of it (Powertools' DataRecord).

One module owns what a ledger item is made of. Stages read a decision through `Decision`'s typed
properties and write through `Attr` names, so no attribute name is a bare string repeated across
stages: renaming one is a change here, and a typo is an AttributeError, not a silently missing field.

    FOUND → ANALYZED → AWAITING_APPROVAL → APPROVED → EXECUTING → EXECUTED
                                         ↘ REJECTED              ↘ SKIPPED
                                         ↘ SNOOZED               ↘ FAILED
    EXECUTED → RESTORING → RESTORED (an approved undo)
                         ↘ RESTORE_FAILED
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.events import EVENT_NAMESPACE, Analysis, Approver, DecisionKey, Finding


class Attr(StrEnum):
    """Every attribute of a decision item, grouped by the stage that writes it."""

    # identity and bookkeeping (the ledger)
    PK = "pk"
    STATE = "state"
    DECISION_ID = "decision_id"
    CYCLE = "cycle"
    VERSION = "version"
    KIND = "kind"
    CHECK = "check"
    ACCOUNT_ID = "account_id"
    REGION = "region"
    RESOURCE_ID = "resource_id"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    HISTORY = "history"
    # the scanner
    IDLE_SINCE = "idle_since"
    FINDING = "finding"
    FINGERPRINT = "fingerprint"
    MONTHLY_COST_USD = "monthly_cost_usd"
    NET_MONTHLY_SAVING_USD = "net_monthly_saving_usd"
    # Why no clean-up is offered (`CostEstimate.withheld`): present only then; an approval is refused.
    WITHHELD = "withheld"
    # the analyzer
    ANALYSIS = "analysis"
    ANALYSIS_SOURCE = "analysis_source"
    ANALYSIS_FINGERPRINT = "analysis_fingerprint"
    ANALYSIS_EVENT_AT = "analysis_event_at"
    ANALYSIS_CACHED = "analysis_cached"
    ANALYSIS_TOKENS_IN = "analysis_tokens_in"
    ANALYSIS_TOKENS_OUT = "analysis_tokens_out"
    ANALYSIS_COST_USD = "analysis_cost_usd"
    ANALYSIS_FALLBACK_REASON = "analysis_fallback_reason"
    ANALYZED_AT = "analyzed_at"
    GEMINI_ANALYSIS = "gemini_analysis"
    GEMINI_CACHE_KEY = "gemini_cache_key"
    GEMINI_CACHED_AT = "gemini_cached_at"
    # the notifier and the interactions endpoint
    CARD_ID = "card_id"
    CHANNEL_ID = "channel_id"
    MESSAGE_ID = "message_id"
    NOTIFY_GROUP = "notify_group"
    APPROVER = "approver"
    APPROVER_NAME = "approver_name"
    APPROVED_AT = "approved_at"
    DECIDED_AT = "decided_at"
    DECIDED_BY = "decided_by"
    SNOOZED_UNTIL = "snoozed_until"
    # the executor
    CLAIM_ID = "claim_id"
    CLAIM_EXPIRES_AT = "claim_expires_at"
    CLAIMED_AT = "claimed_at"
    ACTION = "action"
    DRY_RUN = "dry_run"
    ALREADY_GONE = "already_gone"
    EXECUTED_AT = "executed_at"
    REALISED_MONTHLY_SAVING_USD = "realised_monthly_saving_usd"
    WOULD_SAVE_MONTHLY_USD = "would_save_monthly_usd"
    SNAPSHOT_ID = "snapshot_id"
    # the remedy a human chose on the card (None: the check's first allowed one), and what the safety
    # snapshot really costs once AWS reports its size (issue 14)
    REMEDY = "remedy"
    SNAPSHOT_SIZE_GIB = "snapshot_size_gib"
    SNAPSHOT_SIZE_BASIS = "snapshot_size_basis"
    SNAPSHOT_MONTHLY_USD = "snapshot_monthly_usd"
    SNAPSHOT_TIER = "snapshot_tier"
    SNAPSHOT_MINIMUM_USD = "snapshot_minimum_usd"
    GROSS_MONTHLY_SAVING_USD = "gross_monthly_saving_usd"
    SKIP_REASON = "skip_reason"
    SKIPPED_AT = "skipped_at"
    ERROR = "error"
    ERROR_CODE = "error_code"
    FAILED_AT = "failed_at"
    # an undo (issue 14): who asked, when the saving stopped counting, what came back
    RESTORE_REQUESTED_BY = "restore_requested_by"
    RESTORE_REQUESTED_AT = "restore_requested_at"
    RESTORED_AT = "restored_at"
    RESTORED_RESOURCE_ID = "restored_resource_id"
    RESTORE_ERROR = "restore_error"
    RESTORE_ACTION = "restore_action"  # what the undo did (the remedy's `Restored.action`)
    RESTORE_RECORD = "restore_record"  # `Restored.record`, as JSON (kept apart from the clean-up's)
    RESTORE_WAITING = "restore_waiting"  # why a RESTORING undo waits (`NotYet.reason`)


class State(StrEnum):
    FOUND = "FOUND"
    ANALYZED = "ANALYZED"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    SNOOZED = "SNOOZED"
    EXECUTING = "EXECUTING"
    EXECUTED = "EXECUTED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"
    # An approved undo of an executed clean-up (issue 14): the realised saving stops counting at
    # RESTORING's `restore_requested_at`.
    RESTORING = "RESTORING"
    RESTORED = "RESTORED"
    RESTORE_FAILED = "RESTORE_FAILED"


S = State
# Which moves are legal. A move not listed is a programming error, raised before anything is written.
ALLOWED: dict[State, frozenset[State]] = {
    S.FOUND: frozenset({S.ANALYZED}),
    S.ANALYZED: frozenset({S.ANALYZED, S.AWAITING_APPROVAL}),
    S.AWAITING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.SNOOZED}),
    S.APPROVED: frozenset({S.EXECUTING}),
    # EXECUTING → EXECUTING is a takeover of an expired claim (a crashed executor).
    S.EXECUTING: frozenset({S.EXECUTING, S.EXECUTED, S.SKIPPED, S.FAILED}),
    S.FAILED: frozenset({S.EXECUTING}),
    # A new cycle: the resource is idle again after it was skipped, snoozed past its date, or dry-run.
    S.SKIPPED: frozenset({S.FOUND}),
    S.SNOOZED: frozenset({S.FOUND}),
    S.EXECUTED: frozenset({S.FOUND, S.RESTORING}),
    # RESTORING → RESTORING: a resumed undo (an archived snapshot still restoring, a crashed executor).
    S.RESTORING: frozenset({S.RESTORING, S.RESTORED, S.RESTORE_FAILED}),
    S.RESTORE_FAILED: frozenset({S.RESTORING}),
    # An undo is never undone: a restored resource that is idle again starts a new cycle.
    S.RESTORED: frozenset({S.FOUND}),
    S.REJECTED: frozenset(),
}

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer


@functools.cache
def _codec() -> tuple[TypeSerializer, TypeDeserializer]:
    """boto3's DynamoDB type codec, imported on first use: `import boto3` runs boto3's package (its
    session, s3transfer), ~0.4 s that a process never touching the ledger should not pay (a Lambda
    answering a cold click, bench/README.md)."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def decision_id_for(key: DecisionKey, cycle: int) -> str:
    """Stable id of one decision cycle: the same finding in the same cycle always gets the same id."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"decision#{key.pk}#{cycle}"))


@dataclass(frozen=True)
class Decision:
    """A ledger item as read back: typed accessors over DynamoDB attributes."""

    attrs: Mapping[str, Any]

    @property
    def pk(self) -> str:
        return str(self.attrs["pk"])

    @property
    def key(self) -> DecisionKey:
        return DecisionKey.from_pk(self.pk)

    @property
    def state(self) -> State:
        return State(self.attrs["state"])

    @property
    def decision_id(self) -> str:
        return str(self.attrs["decision_id"])

    @property
    def cycle(self) -> int:
        return int(self.attrs.get("cycle", 0))

    @property
    def version(self) -> int:
        return int(self.attrs.get("version", 0))

    @property
    def kind(self) -> str:
        return str(self.attrs.get(Attr.KIND) or self.key.kind)

    @property
    def fingerprint(self) -> str | None:
        value = self.attrs.get(Attr.FINGERPRINT)
        return str(value) if value else None

    @property
    def dry_run(self) -> bool:
        return bool(self.attrs.get(Attr.DRY_RUN, False))

    @property
    def approver(self) -> Approver | None:
        raw = self.attrs.get(Attr.APPROVER)
        return Approver.model_validate_json(raw) if isinstance(raw, str) else None

    @property
    def approver_name(self) -> str | None:
        value = self.attrs.get(Attr.APPROVER_NAME)
        return str(value) if value else None

    @property
    def card_id(self) -> str | None:
        value = self.attrs.get(Attr.CARD_ID)
        return str(value) if value else None

    @property
    def saving_usd(self) -> Decimal:
        """The monthly saving of an executed decision: realised, or what a dry run would have saved."""
        name = Attr.WOULD_SAVE_MONTHLY_USD if self.dry_run else Attr.REALISED_MONTHLY_SAVING_USD
        return Decimal(str(self.attrs.get(name) or 0))

    @property
    def finding(self) -> Finding:
        return Finding.model_validate_json(self.attrs["finding"])

    @property
    def analysis(self) -> Analysis | None:
        raw = self.attrs.get("analysis")
        return Analysis.model_validate_json(raw) if raw else None

    def get(self, name: Attr | str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def time(self, name: Attr | str) -> datetime | None:
        raw = self.attrs.get(name)
        return datetime.fromisoformat(raw) if raw else None


@dataclass(frozen=True)
class TransitionResult:
    """`applied` tells who won; `current` is the item after our write, or the one that beat us."""

    applied: bool
    current: Decision | None


def to_dynamo(value: Any) -> dict[str, Any]:
    return _codec()[0].serialize(plain(value))


def plain(value: Any) -> Any:
    """DynamoDB wants Decimal, not float, and strings for times, enums and models."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if hasattr(value, "model_dump_json"):
        return value.model_dump_json()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def from_dynamo(item: Mapping[str, Any]) -> Decision:
    deserializer = _codec()[1]
    return Decision({name: deserializer.deserialize(value) for name, value in item.items()})
