"""Meta-tests over the action registry (Cloud Custodian's test_resource_permissions, typed)."""

from __future__ import annotations

from pathlib import Path

import hcl2

from services.executor.actions import actions
from services.scanner.resources import detectors

IAM = Path(__file__).resolve().parents[2] / "terraform" / "modules" / "cloudthrift" / "iam_executor.tf"


def _unquote(value: str) -> str:
    return value.strip('"')


def granted_actions() -> set[str]:
    """Every IAM action the Terraform module grants the executor role."""
    with IAM.open() as handle:
        parsed = hcl2.load(handle)
    granted: set[str] = set()
    for block in parsed.get("data", []):
        for kind, documents in block.items():
            if _unquote(kind) != "aws_iam_policy_document":
                continue
            for name, document in documents.items():
                if _unquote(name) != "executor":
                    continue
                for statement in document.get("statement", []):
                    granted.update(_unquote(action) for action in statement.get("actions", []))
    return granted


def test_every_scanned_kind_has_an_action_and_back() -> None:
    assert actions.names() == detectors.names()


def test_every_action_declares_permissions_and_gone_codes() -> None:
    for name, action in actions:
        assert action.kind == name
        assert action.permissions, name
        assert action.gone_codes, name
        assert action().detector.kind == name  # re-checks reuse the scanner's parsing


def test_the_terraform_role_grants_every_permission_an_action_needs() -> None:
    granted = granted_actions()
    assert granted, f"no executor policy found in {IAM}"
    needed = {permission for _, action in actions for permission in action.permissions}
    assert needed - granted == set()
