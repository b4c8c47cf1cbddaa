"""What a finding's name and tags suggest, read deterministically (for the checks' rules and the risk floor).

Words are matched as whole tokens of names and tag values (`scratch-build-7` has `scratch`, `testdb`
has no `test`), because a substring match would call every `contest` a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.events import Finding

_TOKEN = re.compile(r"[a-z0-9]+")
_ENV_KEYS = {"env", "environment", "stage", "tier", "envname", "environmentname"}
_PROD = {"prod", "production", "prd", "live"}
_DISPOSABLE = {
    "tmp",
    "temp",
    "scratch",
    "test",
    "testing",
    "dev",
    "sandbox",
    "ci",
    "demo",
    "poc",
    "experiment",
    "playground",
    "throwaway",
}
_DATA = {
    "db",
    "database",
    "mysql",
    "postgres",
    "postgresql",
    "pg",
    "oracle",
    "mongo",
    "mongodb",
    "backup",
    "backups",
    "archive",
    "data",
    "dr",
    "replica",
    "wal",
    "elasticsearch",
    "kafka",
}
_KEEP_KEYS = {"donotdelete", "dnd", "retain", "retention", "legalhold", "protected", "keep"}
_REFERENCED = {
    "allowlist",
    "whitelist",
    "partner",
    "vpn",
    "dns",
    "smtp",
    "mail",
    "egress",
    "nat",
    "static",
    "customer",
    "firewall",
    "gateway",
}
_INSTRUCTION_LIKE = re.compile(
    r"ignore\b.{0,40}\binstructions|disregard\b.{0,40}\b(instructions|rules)|system prompt"
    r"|you are (now )?an? (ai|assistant|language model)|\brecommend (keep|delete)\b",
    re.IGNORECASE,
)


def tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower()))


def _squash(text: str) -> str:
    return "".join(_TOKEN.findall(text.lower()))


@dataclass(frozen=True)
class Signals:
    """Each field holds a short human reason (e.g. "tag env=prod"), or None."""

    prod: str | None = None
    disposable: str | None = None
    data: str | None = None
    keep: str | None = None
    referenced: str | None = None
    instruction_like: bool = False


def read_signals(finding: Finding) -> Signals:
    name = str(finding.facts.get("name") or finding.tags.get("Name") or "")
    prod = disposable = data = keep = referenced = None
    for key, value in sorted(finding.tags.items()):
        squashed_key = _squash(key)
        if squashed_key in _ENV_KEYS and tokens(value) & _PROD:
            prod = prod or f"tag {key[:40]}={value[:40]}"
        if squashed_key in _KEEP_KEYS or _squash(value) in {"donotdelete", "retain", "legalhold"}:
            keep = keep or f"tag {key[:40]}"
        if squashed_key in _ENV_KEYS and tokens(value) & _DISPOSABLE:
            disposable = disposable or f"tag {key[:40]}={value[:40]}"
    words = tokens(name)
    if words & _PROD:
        prod = prod or f"name {name[:60]!r}"
    if words & _DISPOSABLE:
        disposable = disposable or f"name {name[:60]!r}"
    if words & _DATA:
        data = f"name {name[:60]!r}"
    if words & _REFERENCED:
        referenced = f"name {name[:60]!r}"
    instruction_like = any(_INSTRUCTION_LIKE.search(f"{k} {v}") for k, v in finding.tags.items())
    return Signals(prod, disposable, data, keep, referenced, instruction_like)
