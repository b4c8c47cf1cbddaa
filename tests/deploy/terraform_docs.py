"""Inputs and outputs tables of a Terraform module's README, in terraform-docs' layout, from the source.

terraform-docs cannot be installed here (a Go binary outside PyPI), so this renders the same tables
from the python-hcl2 parse, between terraform-docs' own markers, so that either tool can refresh them:

    .venv/bin/python -m tests.deploy.terraform_docs          # rewrite the READMEs
    .venv/bin/python -m tests.deploy.terraform_docs --check  # exit 1 if one is stale (tests do this)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tests.deploy.terraform_model import MODULE, TERRAFORM, parse

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
DOCUMENTED = (MODULE, TERRAFORM / "datadog", TERRAFORM / "modules" / "member-roles")


def blocks(directory: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Every `variable` or `output` block of a module directory, by name, in file then source order."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for block in parse(path).get(kind, []):
            found.update(block)
    return found


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _code(value: str) -> str:
    return f"`{_cell(value)}`"


def _type(expression: str) -> str:
    return expression[2:-1] if expression.startswith("${") and expression.endswith("}") else expression


def _anchor(kind: str, name: str) -> str:
    """terraform-docs' linkable name cell: `<a name="input_x"></a> [x](#input\\_x)`."""
    escaped = name.replace("_", "\\_")
    return f'<a name="{kind}_{name}"></a> [{escaped}](#{kind}\\_{escaped})'


def _default(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "))


def render(directory: Path) -> str:
    """The `## Inputs` and `## Outputs` sections; required inputs first, then by name (terraform-docs)."""
    variables = blocks(directory, "variable")
    outputs = blocks(directory, "output")
    ordered = sorted(variables.items(), key=lambda item: ("default" in item[1], item[0]))
    lines = [
        "## Inputs",
        "",
        "| Name | Description | Type | Default | Required |",
        "|------|-------------|------|---------|:--------:|",
    ]
    for name, body in ordered:
        required = "default" not in body
        default = "n/a" if required else _code(_default(body["default"]))
        lines.append(
            f"| {_anchor('input', name)} "
            f"| {_cell(body.get('description', ''))} | {_code(_type(str(body.get('type', 'any'))))} "
            f"| {default} | {'yes' if required else 'no'} |"
        )
    lines += ["", "## Outputs", "", "| Name | Description |", "|------|-------------|"]
    for name, body in sorted(outputs.items()):
        lines.append(f"| {_anchor('output', name)} | {_cell(body.get('description', ''))} |")
    return "\n".join(lines)


def section(readme: Path) -> str:
    """The generated part of a README, between the markers (empty if they are missing)."""
    text = readme.read_text() if readme.exists() else ""
    if BEGIN not in text or END not in text:
        return ""
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def refresh(readme: Path, directory: Path) -> bool:
    """Rewrite the generated part; True if it changed. A README without markers gets them at the end."""
    text = readme.read_text() if readme.exists() else ""
    fresh = f"{BEGIN}\n{render(directory)}\n{END}"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        updated = before + fresh + rest.split(END, 1)[1]
    else:
        updated = text.rstrip("\n") + ("\n\n" if text else "") + fresh + "\n"
    if updated == text:
        return False
    readme.write_text(updated)
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="terraform-docs tables for the modules' READMEs")
    parser.add_argument("--check", action="store_true", help="only report stale READMEs")
    args = parser.parse_args(argv)
    stale = []
    for directory in DOCUMENTED:
        readme = directory / "README.md"
        if args.check:
            if section(readme) != render(directory):
                stale.append(readme)
        elif refresh(readme, directory):
            print(f"updated {readme.relative_to(TERRAFORM.parent)}")
    for readme in stale:
        print(f"stale: {readme.relative_to(TERRAFORM.parent)} (run python -m tests.deploy.terraform_docs)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
