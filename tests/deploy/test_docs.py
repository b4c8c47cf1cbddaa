"""docs/DEPLOY.md stays true to the code: its settings table names every setting, and only real ones."""

from __future__ import annotations

import re

from shared.config import Settings
from tests.deploy.terraform_model import ROOT

GUIDE = ROOT / "docs" / "DEPLOY.md"


def documented_settings() -> set[str]:
    table = GUIDE.read_text().split("## Settings", 1)[1]
    return {name for row in table.splitlines() for name in re.findall(r"^\| `([A-Z0-9_]+)`", row)}


def test_every_setting_is_in_the_deployment_guide() -> None:
    documented = documented_settings() | {"AWS_DEFAULT_REGION"}
    missing = {name.upper() for name in Settings.model_fields} - documented
    assert not missing, f"add to the settings table of docs/DEPLOY.md: {sorted(missing)}"


def test_the_guide_documents_no_setting_that_does_not_exist() -> None:
    standard = {"DD_AGENT_HOST", "DD_SERVICE"}  # read by ddtrace / datadog themselves
    unknown = documented_settings() - {name.upper() for name in Settings.model_fields} - standard
    assert not unknown, f"not settings of shared/config.py: {sorted(unknown)}"


def test_the_guide_covers_the_discord_set_up_and_the_aws_steps() -> None:
    text = GUIDE.read_text()
    for needed in (
        "Public Key",
        "Interactions Endpoint URL",
        "Bot",
        "DISCORD_APPROVER_IDS",
        "terraform apply",
    ):
        assert needed in text, needed


def test_the_readme_lists_every_check_by_its_real_name() -> None:
    """The README's table of what CloudThrift finds once named a check that does not exist
    (`load-balancer` / `no-traffic`): its rows must be exactly the registered kinds and checks."""
    from shared.kinds import discover

    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` / `([a-z0-9-]+)` \|", readme, flags=re.MULTILINE))
    registered = {(name, check) for name, kind in discover() for check in kind.checks.names()}
    assert listed == registered


def _iam_row(role: str) -> set[str]:
    """The actions the guide's IAM table grants `role`, with `svc:Describe{A,B}` spelled out."""
    row = next(line for line in GUIDE.read_text().splitlines() if line.startswith(f"| {role} |"))
    actions = set()
    for service, operations in re.findall(r"`([a-z0-9-]+):([A-Za-z{},]+)`", row):
        prefix, _, inner = operations.partition("{")
        names = inner.rstrip("}").split(",") if inner else [""]
        actions |= {f"{service}:{prefix}{name}" for name in names}
    return actions


def test_the_iam_table_names_every_action_the_kinds_checks_and_remedies_declare() -> None:
    """A new kind's reads (the scanner) and its remedy's and undo's calls (the executor) are in the
    guide by their real names, as the registries declare them (shared/member_policies.py)."""
    from shared.kinds import discover
    from shared.member_policies import cleanup_actions, scan_actions

    assert set(scan_actions(discover())) - _iam_row("scanner") == set()
    assert set(cleanup_actions(discover())) - _iam_row("executor") == set()
