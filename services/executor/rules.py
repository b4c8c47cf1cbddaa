"""The executor's decisions, as pure functions of what the ledger and AWS said: no I/O here.

`admit` says whether a message may lead to any action at all (only an APPROVED decision, or one an
earlier attempt was executing, of the same decision cycle); `role_refusal` says whether the role a
finding was scanned through may act on it; `recheck` says whether the resource is still what the
human approved; `classify_error` says whether an AWS error is worth retrying.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from botocore.exceptions import BotoCoreError, WaiterError

from shared.events import ApprovalGranted, CostEstimate, DecisionKey, FactValue, Finding
from shared.kinds.base import Observation
from shared.ledger import Attr, Decision, State

Verdict = Literal["claim", "resume", "held", "done", "ignore"]
ErrorClass = Literal["permission", "throttled", "transient", "failed"]

PERMISSION_CODES = frozenset(
    {
        "UnauthorizedOperation",
        "AccessDenied",
        "AccessDeniedException",
        "AuthFailure",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "OptInRequired",
        "Blocked",
    }
)
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SnapshotCreationPerVolumeRateExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "EC2ThrottledException",
    }
)
_TERMINAL = {State.EXECUTED, State.SKIPPED}


@dataclass(frozen=True)
class Admission:
    verdict: Verdict
    reason: str


def admit(decision: Decision | None, approval: ApprovalGranted, now: datetime) -> Admission:
    """May this approval message lead to action? Only the ledger's state decides, never the message."""
    if approval.finding.key != approval.key:
        return Admission("ignore", "the approval's finding is for another resource than its key")
    if decision is None:
        return Admission("ignore", "no decision in the ledger for this resource")
    if decision.decision_id != approval.decision_id:
        return Admission(
            "ignore",
            f"message is for decision {approval.decision_id}, the ledger is at {decision.decision_id}",
        )
    state = decision.state
    if state is State.APPROVED:
        return Admission("claim", "approved")
    if state is State.FAILED:
        return Admission("resume", "replay of a failed execution")
    if state is State.EXECUTING:
        expires = decision.time(Attr.CLAIM_EXPIRES_AT)
        if expires is None or expires < now:
            return Admission("resume", "an earlier attempt's claim expired: taking over")
        return Admission("held", f"another attempt holds the claim until {expires.isoformat()}")
    if state in _TERMINAL:
        return Admission("done", f"already {state.value}")
    return Admission("ignore", f"decision is {state.value}, not APPROVED: nothing is done")


def role_refusal(role_arn: str, key: DecisionKey) -> str | None:
    """Why a role must not be used for this decision, or None when it is a role of the approved account.

    A role reaches whatever account it lives in: one of another account than the decision's would aim a
    clean-up at a resource nobody approved there (`arn:<partition>:iam::<account>:role/<name>`).
    """
    parts = role_arn.split(":")
    account = parts[4] if len(parts) > 5 and parts[2] == "iam" else None
    if account != key.account_id:
        return f"role {role_arn} is not in account {key.account_id}, the account of the approved decision"
    return None


def cleanup_role(scanned_by: str, key: DecisionKey, name: str) -> str:
    """The clean-up role of the decision's account, in the partition of the role the scan used."""
    partition = scanned_by.split(":")[1]
    return f"arn:{partition}:iam::{key.account_id}:role/{name}"


def changed_facts(approved: Finding, observation: Observation) -> list[str]:
    """Names of the facts and tags that differ between what was approved and what AWS says now."""
    names: list[str] = []
    facts: Mapping[str, FactValue] = observation.facts
    for name in sorted(set(approved.facts) | set(facts)):
        if approved.facts.get(name) != facts.get(name):
            names.append(name)
    for name in sorted(set(approved.tags) | set(observation.tags)):
        if approved.tags.get(name) != observation.tags.get(name):
            names.append(f"tag:{name}")
    return names


def recheck(
    approval: ApprovalGranted,
    decision: Decision,
    observation: Observation,
    *,
    still_waste: bool,
    optout_tag: str,
    busy_reason: str,
) -> str | None:
    """Why the resource must be left alone now, or None when it is still exactly what was approved."""
    approved = decision.finding
    if approval.fingerprint != decision.get(Attr.FINGERPRINT) or approval.fingerprint != approved.fingerprint:
        return "the approval does not match the finding recorded in the ledger"
    if optout_tag in observation.tags:
        return f"opt-out tag {optout_tag!r} was added after approval"
    if not still_waste:
        return busy_reason
    now = approved.model_copy(update={"facts": observation.facts, "tags": observation.tags})
    if now.fingerprint != approval.fingerprint:
        changed = changed_facts(approved, observation)
        return f"resource changed since approval ({', '.join(changed) or 'fingerprint'})"
    return None


def saving(cost: CostEstimate, keeps_snapshot: bool, kept_usd: Decimal | None = None) -> Decimal:
    """Monthly saving of what was really done: what stays billed (the kept snapshot, `kept_usd` when
    priced on what was really kept) is subtracted only if kept."""
    if not keeps_snapshot:
        return cost.monthly_usd
    return cost.monthly_usd - (cost.snapshot_monthly_usd if kept_usd is None else kept_usd)


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def classify_error(exc: BaseException) -> ErrorClass:
    """Permission errors fail at once; throttling and outages are retried; other refusals fail."""
    code = error_code(exc)
    if code is not None:
        if code in PERMISSION_CODES:
            return "permission"
        if code in THROTTLING_CODES:
            return "throttled"
        status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return "transient" if int(status or 0) >= 500 else "failed"
    if isinstance(exc, WaiterError | BotoCoreError | OSError | TimeoutError):
        return "transient"
    # Anything else is unexpected: fail clearly and let an operator replay it, never retry blindly.
    return "failed"
