"""Recycle Bin retention rules: whether a deleted snapshot or deregistered AMI could be brought back.

Deleting a snapshot or deregistering an AMI has no undo of CloudThrift's own; a Recycle Bin rule of
the region that covers the resource keeps it recoverable for the rule's retention period. The kinds
read the rules once per listing (`region_rules`) and record on each observation which rule covers it
(`RULE_FACT`, `covering`); the card says so (`undo_phrase`).

ListRules does not return a rule's resource tags, so each rule is read with GetRule: a region has a
handful of rules, and this happens once per region per listing, not per resource. A caller the rules
cannot be read for (AccessDenied, an endpoint without Recycle Bin) gets None: not known, which is not
the same as "no rule", and the card says which of the two it is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import Clients
from shared.events import FactValue

RULE_FACT = "recycle_bin_rule"  # "<Identifier> (retained N days)", or None
KNOWN_FACT = "recycle_bin_known"  # False when the rules could not be read: None then means unknown
SNAPSHOTS, IMAGES = "EBS_SNAPSHOT", "EC2_IMAGE"
PERMISSIONS = ("rbin:ListRules", "rbin:GetRule")
# Endpoints that do not serve Recycle Bin (the embedded AWS), with when to ask again: botocore retries
# such a failure (4 attempts, ~1.4 s) and every listing and re-check would pay it again.
_UNSERVED: dict[str, float] = {}
UNSERVED_FOR_SECONDS = 600.0
# A worker's retry budget (adaptive, up to 10 attempts with back-off) would spend tens of seconds on an
# endpoint that never serves it: the rules are a courtesy on the card, never worth holding a scan.
RULES_SECONDS = 3.0


@dataclass(frozen=True)
class Rule:
    identifier: str
    days: int
    tags: tuple[tuple[str, str | None], ...]  # empty: a region-level rule, it covers every resource

    def covers(self, tags: Mapping[str, str]) -> bool:
        """A tag-level rule covers a resource carrying any of its tags (a value of None: any value)."""
        if not self.tags:
            return True
        return any(key in tags and (value is None or tags[key] == value) for key, value in self.tags)

    @property
    def label(self) -> str:
        return f"{self.identifier} (retained {self.days} days)"


async def region_rules(clients: Clients, resource_type: str) -> tuple[Rule, ...] | None:
    """The region's rules for `resource_type` (LockState ignored), or None when they cannot be read."""
    rbin = await clients("rbin")
    endpoint = str(getattr(getattr(rbin, "meta", None), "endpoint_url", ""))
    if _UNSERVED.get(endpoint, 0.0) > time.monotonic():
        return None
    try:
        async with asyncio.timeout(RULES_SECONDS):
            return await _read_rules(rbin, resource_type)
    except TimeoutError:
        _UNSERVED[endpoint] = time.monotonic() + UNSERVED_FOR_SECONDS
        return None
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("AccessDeniedException", "AccessDenied"):
            _UNSERVED[endpoint] = time.monotonic() + UNSERVED_FOR_SECONDS
        return None  # AccessDenied (this role), or an endpoint that does not serve it: not known
    except BotoCoreError:
        _UNSERVED[endpoint] = time.monotonic() + UNSERVED_FOR_SECONDS
        return None


async def _read_rules(rbin: Any, resource_type: str) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    async for page in rbin.get_paginator("list_rules").paginate(ResourceType=resource_type):
        for summary in page.get("Rules", []):
            rule = await rbin.get_rule(Identifier=summary["Identifier"])
            period = rule.get("RetentionPeriod") or summary.get("RetentionPeriod") or {}
            tags = tuple(
                (str(tag["ResourceTagKey"]), tag.get("ResourceTagValue"))
                for tag in rule.get("ResourceTags") or []
            )
            days = int(period.get("RetentionPeriodValue", 0))
            rules.append(Rule(str(summary["Identifier"]), days, tags))
    return tuple(rules)


def facts_for(rules: tuple[Rule, ...] | None, tags: Mapping[str, str]) -> dict[str, FactValue]:
    """The two facts an observation carries: the covering rule (region-level rules first), if known."""
    if rules is None:
        return {RULE_FACT: None, KNOWN_FACT: False}
    ordered = sorted(rules, key=lambda rule: bool(rule.tags))
    return {RULE_FACT: next((r.label for r in ordered if r.covers(tags)), None), KNOWN_FACT: True}


def undo_phrase(facts: Mapping[str, FactValue]) -> str:
    """What the card says of a remedy with no undo of its own."""
    rule = facts.get(RULE_FACT)
    if rule:
        identifier, _, retained = str(rule).partition(" (retained ")
        return f"is recoverable from the Recycle Bin for {retained.rstrip(')')} under rule {identifier}"
    if facts.get(KNOWN_FACT):
        return "cannot be undone (no Recycle Bin rule covers it)"
    return "cannot be undone unless a Recycle Bin rule covers it (whether one does is not known)"
