"""terraform/examples/complete takes what docs/DEPLOY.md tells a user to set, and passes it all on."""

from __future__ import annotations

import re
from typing import Any

import hcl2
import pytest

from tests.deploy.terraform_model import MODULE, ROOT, TERRAFORM, parse

EXAMPLE = TERRAFORM / "examples" / "complete"
GUIDE = ROOT / "docs" / "DEPLOY.md"


def _variables(directory) -> dict[str, dict[str, Any]]:
    return {
        name: body for block in parse(directory / "variables.tf")["variable"] for name, body in block.items()
    }


@pytest.fixture(scope="module")
def call() -> dict[str, Any]:
    (module,) = parse(EXAMPLE / "main.tf")["module"]
    return module["cloudthrift"]


def guide_tfvars() -> dict[str, Any]:
    """The terraform.tfvars that step 2 of docs/DEPLOY.md writes, parsed as Terraform would."""
    block = re.search(r"cat > terraform\.tfvars <<'EOF'\n(.*?)\nEOF\n", GUIDE.read_text(), re.S)
    assert block, "docs/DEPLOY.md step 2 writes terraform.tfvars"
    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)
    return hcl2.loads(block.group(1) + "\n", serialization_options=options)


def test_the_guides_tfvars_are_all_inputs_of_the_example() -> None:
    written = guide_tfvars()
    assert {"scan_role_arns", "scan_schedule", "scan_schedule_timezone"} <= set(written)
    unknown = set(written) - set(_variables(EXAMPLE))
    assert not unknown, f"docs/DEPLOY.md sets variables the example does not have: {sorted(unknown)}"


def test_the_example_passes_the_scan_roles_and_the_schedule_to_the_module(call: dict[str, Any]) -> None:
    for name in ("scan_role_arns", "scan_schedule", "scan_schedule_timezone"):
        assert call[name] == f"${{var.{name}}}", name


def test_every_example_variable_reaches_the_module_with_the_modules_default(call: dict[str, Any]) -> None:
    example, module = _variables(EXAMPLE), _variables(MODULE)
    used = " ".join(str(v) for v in call.values()) + (EXAMPLE / "main.tf").read_text()
    versions = (EXAMPLE / "versions.tf").read_text()
    for name, body in example.items():
        assert f"var.{name}" in used or f"var.{name}" in versions, f"{name} is declared but not used"
        if name in module and "default" in module[name] and "default" in body:
            assert body["default"] == module[name]["default"] or name == "regions", name
