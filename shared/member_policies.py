"""The two roles of a member account, generated from what the registered kinds, checks and remedies
declare (`permissions` in shared/kinds/base.py), so a new kind cannot drift from IAM.

- scan: every read a check needs to list, describe and measure its kind (and DescribeRegions, which an
  organization scan probes each account with). Read-only by construction: nothing else is declared.
- cleanup: every action the remedies (and their undos) declare, plus the reads they re-check with.
  Reads go on "*" (Describe calls take no resource-level permissions); writes are split per service so
  the terraform module binds each to that account's own resource ARNs.

Its output: terraform/modules/member-roles/policies.tf (the two policy documents, actions listed
literally so the IAM checks of tests/deploy can read them) and permissions.json beside it (the same
lists, for tools and tests). tests/kinds/test_member_policies.py fails when either is not what the
registries generate now:

    python -m shared.member_policies          # rewrite the file
    python -m shared.member_policies --check  # exit 1 when it is out of date
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from shared.kinds import Kind, discover
from shared.registry import Registry

MODULE = Path(__file__).resolve().parent.parent / "terraform/modules/member-roles"
PERMISSIONS_FILE = MODULE / "permissions.json"
POLICIES_FILE = MODULE / "policies.tf"
# Reads that take resource-level permissions (checkov CKV_AWS_356): bound to the account's ARNs.
_RESTRICTABLE_READS = ("rds",)
# Resources of a service whose ARN names no account (EBS snapshots), besides `<service>:<region>:<account>:*`.
_ACCOUNTLESS = {"ec2": ("arn:${local.partition}:ec2:${r}::snapshot/*",)}
_READS = ("Describe", "List", "Get")
_PROBES = ("ec2:DescribeRegions",)  # the organization scan's probe, and a scan naming no region


def is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(_READS)


def scan_actions(registry: Registry[Kind]) -> list[str]:
    """What the scan role may do: the reads every kind and check declares."""
    return sorted(
        {
            p
            for _, kind in registry
            for _, check in kind.checks
            for p in (*kind.permissions, *check.permissions)
        }
        | set(_PROBES)
    )


def cleanup_actions(registry: Registry[Kind]) -> list[str]:
    """What the clean-up role may do: the remedies' and undos' actions, and the usage the executor
    re-reads before acting (a check's own reads)."""
    actions: set[str] = set()
    for _, kind in registry:
        actions |= set(kind.permissions)
        for _, remedy in kind.remedies:
            actions |= set(remedy.permissions)
        for _, check in kind.checks:
            actions |= set(check.permissions)
    return sorted(actions)


def _by_service(actions: Iterable[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for action in sorted(actions):
        grouped.setdefault(action.split(":", 1)[0], []).append(action)
    return grouped


def member_permissions(registry: Registry[Kind]) -> dict[str, Any]:
    cleanup = cleanup_actions(registry)
    return {
        "_generated_by": "python -m shared.member_policies (from the registered kinds; do not edit)",
        "scan": {"read": scan_actions(registry)},
        "cleanup": {
            "read": [a for a in cleanup if is_read(a)],
            "write": _by_service(a for a in cleanup if not is_read(a)),
        },
    }


def render(registry: Registry[Kind]) -> str:
    return json.dumps(member_permissions(registry), indent=2, sort_keys=True) + "\n"


def _hcl_list(values: Iterable[str], indent: str) -> str:
    return "[\n" + "".join(f'{indent}  "{v}",\n' for v in values) + f"{indent}]"


def _statement(sid: str, actions: Sequence[str], resources: str, *, regional: bool) -> str:
    region_bound = (
        "\n\n    condition {\n"
        '      test     = "StringEquals"\n'
        '      variable = "aws:RequestedRegion"\n'
        "      values   = var.regions\n"
        "    }"
        if regional
        else ""
    )
    return (
        "  statement {\n"
        f'    sid = "{sid}"\n'
        f"    actions = {_hcl_list(actions, '    ')}\n"
        f"    resources = {resources}{region_bound}\n"
        "  }\n"
    )


def _account_arns(service: str) -> str:
    arns = [
        f"arn:${{local.partition}}:{service}:${{r}}:${{local.account_id}}:*",
        *_ACCOUNTLESS.get(service, ()),
    ]
    quoted = ", ".join(f'"{arn}"' for arn in arns)
    return f"flatten([for r in var.regions : [{quoted}]])"


def _reads(prefix: str, actions: Sequence[str]) -> list[str]:
    plain = [a for a in actions if a.split(":")[0] not in _RESTRICTABLE_READS]
    blocks = [_statement(f"{prefix}Reads", plain, '["*"]', regional=False)] if plain else []
    for service in _RESTRICTABLE_READS:
        own = [a for a in actions if a.split(":")[0] == service]
        if own:
            blocks.append(
                _statement(f"{prefix}Reads{service.title()}", own, _account_arns(service), regional=True)
            )
    return blocks


def render_terraform(registry: Registry[Kind]) -> str:
    """The two policy documents as HCL: reads on "*" (Describe takes no resource), writes bound to the
    account's ARNs in the configured regions, as the main module binds the executor's."""
    document = member_permissions(registry)
    scan = _reads("Scan", document["scan"]["read"])
    cleanup = _reads("CleanupRecheck", document["cleanup"]["read"])
    for service, actions in document["cleanup"]["write"].items():
        sid = "Cleanup" + "".join(part.title() for part in service.replace("-", " ").split())
        cleanup.append(_statement(sid, actions, _account_arns(service), regional=True))
    return (
        "# Generated by `python -m shared.member_policies` from the registered kinds, checks and remedies:\n"
        "# do not edit (tests/kinds/test_member_policies.py fails when this is out of date).\n\n"
        'data "aws_iam_policy_document" "scan" {\n' + "\n".join(scan) + "}\n\n"
        'data "aws_iam_policy_document" "cleanup" {\n' + "\n".join(cleanup) + "}\n"
    )


def outputs(registry: Registry[Kind]) -> dict[Path, str]:
    return {PERMISSIONS_FILE: render(registry), POLICIES_FILE: render_terraform(registry)}


def main(argv: list[str]) -> int:
    stale = [
        path for path, text in outputs(discover()).items() if not path.exists() or path.read_text() != text
    ]
    if "--check" in argv:
        for path in stale:
            print(f"{path} is out of date: python -m shared.member_policies", file=sys.stderr)
        return 1 if stale else 0
    for path, text in outputs(discover()).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
