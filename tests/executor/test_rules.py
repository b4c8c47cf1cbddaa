"""The executor's pure rules: who may act, what counts as changed, what is retried, what is saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, WaiterError

from services.executor.rules import admit, changed_facts, classify_error, role_refusal, saving
from shared.events import ApprovalGranted, CostEstimate, Finding
from shared.kinds.base import Observation
from shared.ledger import Decision, State
from tests.executor.helpers import ALICE
from tests.executor.helpers import sample_finding as make_finding

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def approval_for(finding: Finding, decision_id: str = "d-1") -> ApprovalGranted:
    return ApprovalGranted(
        decision_id=decision_id,
        key=finding.key,
        approver=ALICE,
        approved_at=NOW,
        finding=finding,
        fingerprint=finding.fingerprint,
    )


def decision(state: State, **attrs: object) -> Decision:
    return Decision(
        {
            "pk": "123456789012#us-east-1#ebs-volume#unattached#vol-1",
            "state": state.value,
            "decision_id": "d-1",
        }
        | attrs
    )


@pytest.mark.parametrize(
    ("state", "verdict"),
    [
        (State.APPROVED, "claim"),
        (State.FAILED, "resume"),
        (State.EXECUTED, "done"),
        (State.SKIPPED, "done"),
        (State.FOUND, "ignore"),
        (State.ANALYZED, "ignore"),
        (State.AWAITING_APPROVAL, "ignore"),
        (State.REJECTED, "ignore"),
        (State.SNOOZED, "ignore"),
    ],
)
def test_only_the_ledger_state_admits_a_message(state: State, verdict: str) -> None:
    assert admit(decision(state), approval_for(make_finding()), NOW).verdict == verdict


def test_an_executing_claim_is_held_until_it_expires() -> None:
    approval = approval_for(make_finding())
    alive = decision(State.EXECUTING, claim_expires_at=(NOW + timedelta(seconds=5)).isoformat())
    expired = decision(State.EXECUTING, claim_expires_at=(NOW - timedelta(seconds=5)).isoformat())
    assert admit(alive, approval, NOW).verdict == "held"
    assert admit(expired, approval, NOW).verdict == "resume"


def test_other_cycles_and_unknown_decisions_are_ignored() -> None:
    approval = approval_for(make_finding(), decision_id="d-0")
    assert admit(decision(State.APPROVED), approval, NOW).verdict == "ignore"
    assert admit(None, approval, NOW).verdict == "ignore"


def test_changed_facts_name_facts_and_tags() -> None:
    approved = make_finding(tags={"team": "ci"})
    now = Observation(
        resource_id="vol-1",
        facts=dict(approved.facts) | {"size_gib": 200},
        tags={"team": "ml", "cloudthrift:keep": ""},
    )
    assert changed_facts(approved, now) == ["size_gib", "tag:cloudthrift:keep", "tag:team"]


def _error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "DeleteVolume"
    )


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_error("UnauthorizedOperation", 403), "permission"),
        (_error("AccessDenied", 403), "permission"),
        (_error("RequestLimitExceeded", 503), "throttled"),
        (_error("SnapshotCreationPerVolumeRateExceeded"), "throttled"),
        (_error("InternalError", 500), "transient"),
        (_error("IncorrectState"), "failed"),
        (EndpointConnectionError(endpoint_url="http://x"), "transient"),
        (WaiterError("SnapshotCompleted", "Max attempts exceeded", {}), "transient"),
        (KeyError("bug"), "failed"),
    ],
)
def test_errors_are_classified(exc: BaseException, expected: str) -> None:
    assert classify_error(exc) == expected


def test_the_saving_subtracts_the_snapshot_only_when_one_is_kept() -> None:
    cost = CostEstimate(
        monthly_usd=Decimal("10.00"),
        snapshot_monthly_usd=Decimal("2.50"),
        net_monthly_saving_usd=Decimal("7.50"),
        price_source="t",
        price_date="2026-11-01",
    )
    assert saving(cost, keeps_snapshot=True) == Decimal("7.50")
    assert saving(cost, keeps_snapshot=False) == Decimal("10.00")


def test_a_role_may_act_only_in_the_account_of_the_decision() -> None:
    key = make_finding().key  # account 123456789012
    assert role_refusal("arn:aws:iam::123456789012:role/cloudthrift-scan", key) is None
    assert role_refusal("arn:aws-cn:iam::123456789012:role/path/to/role", key) is None
    refused = role_refusal("arn:aws:iam::111111111111:role/cloudthrift-scan", key)
    assert refused is not None and "not in account 123456789012" in refused
    # Not an IAM role ARN of that account, whatever its digits.
    assert role_refusal("arn:aws:sts::123456789012:assumed-role/x/y", key) is not None
