"""The two roles of a member account, generated from what the registered kinds, checks and remedies
declare (`permissions` in shared/kinds/base.py), so a new kind cannot drift from IAM.

- scan: every read a check needs to list, describe and measure its kind (and DescribeRegions, which an
  organization scan probes each account with). Read-only by construction: nothing else is declared.
- cleanup: every action the remedies (and their undos) declare, plus the reads they re-check with.
  Reads go on "*" (Describe calls take no resource-level permissions); writes are split per service so
  the terraform module binds each to that account's own resource ARNs.

terraform/modules/member-roles/permissions.json is this module's output; the module reads it, and
tests/kinds/test_member_policies.py fails when the file is not what the registries generate now:

    python -m shared.member_policies          # rewrite the file
    python -m shared.member_policies --check  # exit 1 when it is out of date
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shared.kinds import Kind, discover
from shared.registry import Registry

PERMISSIONS_FILE = Path(__file__).resolve().parent.parent / "terraform/modules/member-roles/permissions.json"
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
            actions |= {*remedy.permissions, *remedy.undo_permissions}
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


def main(argv: list[str]) -> int:
    wanted = render(discover())
    if "--check" in argv:
        current = PERMISSIONS_FILE.read_text() if PERMISSIONS_FILE.exists() else ""
        if current != wanted:
            print(f"{PERMISSIONS_FILE} is out of date: python -m shared.member_policies", file=sys.stderr)
            return 1
        return 0
    PERMISSIONS_FILE.parent.mkdir(parents=True, exist_ok=True)
    PERMISSIONS_FILE.write_text(wanted)
    print(f"wrote {PERMISSIONS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
