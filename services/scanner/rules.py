"""The scanner's pure rules: what a check's verdict means once opt-out, age and usage are weighed,
and what a finding costs. No I/O here, so every rule is tested without AWS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from shared.config import default
from shared.events import CostEstimate, DecisionKey, Finding, RemedyChoice
from shared.kinds import Check, Kind, Remedy, remedies_of
from shared.kinds.base import Observation, Usage
from shared.kinds.pricing import ESTIMATED, PriceTable, Rates, money
from shared.kinds.usage import usage_window

Verdict = Literal["idle", "busy", "opted-out", "too-young", "usage-unknown"]


@dataclass(frozen=True)
class ScanPolicy:
    min_age: timedelta = timedelta(days=default("cloudthrift_min_age_days"))
    min_idle: timedelta = timedelta(days=default("cloudthrift_min_idle_days"))
    optout_tag: str = default("cloudthrift_optout_tag")
    regions: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    region_concurrency: int = default("cloudthrift_region_concurrency")
    # "kind/check" -> days: a check's own minimum age, instead of the one it declares (`Check.min_age`).
    check_min_age_days: Mapping[str, float] = field(default_factory=dict)
    # "kind/check" -> days: a usage check's window, instead of its own (`Check.window`).
    usage_window_days: Mapping[str, float] = field(default_factory=dict)
    # Which tier the proposed remedy keeps its safety snapshot in (CLOUDTHRIFT_SAFETY_SNAPSHOT_TIER).
    safety_snapshot_tier: str = default("cloudthrift_safety_snapshot_tier")

    def min_age_for(self, check: Check) -> timedelta:
        own = self.check_min_age_days.get(f"{check.kind.name}/{check.name}")
        return max(self.min_age, check.min_age if own is None else timedelta(days=own))

    def window_for(self, check: Check) -> timedelta:
        return usage_window(check, self.usage_window_days)


def classify(
    check: Check, observation: Observation, usage: Usage | None, policy: ScanPolicy, now: datetime
) -> tuple[Verdict, str | None]:
    """The verdict on one resource for one check, and the check's reason when it is idle."""
    age = now - observation.created_at if observation.created_at is not None else None
    if check.metrics:
        if age is not None and age < policy.window_for(check):
            return "too-young", None  # younger than the usage window: never idle by usage
        if policy.optout_tag in observation.tags:
            return "opted-out", None  # its usage is not even read (services/scanner/handler.py)
        if usage is None or not usage.known():
            return "usage-unknown", None  # metrics that cannot be read never make waste
    reason = check.verdict(observation, usage)
    if reason is None:
        return "busy", None
    if policy.optout_tag in observation.tags:
        return "opted-out", None
    if age is not None and age < policy.min_age_for(check):
        return "too-young", None
    return "idle", reason


def build_finding(
    check: Check,
    observation: Observation,
    reason: str,
    key: DecisionKey,
    prices: PriceTable,
    *,
    now: datetime,
    scan_id: str,
    role_arn: str | None = None,
    tier: str = "standard",
) -> Finding:
    """Price the resource, and what the proposed remedy keeps billing (the snapshot it keeps)."""
    rates = prices.rates(key.region)
    priced = check.kind().price(observation, rates)
    monthly = money(sum((item.monthly_usd for item in priced.lines), Decimal(0)))
    # A resource offered no remedy (`Check.withheld`) saves nothing: no choice, no snapshot, net zero.
    withheld = check.withheld(observation)
    remedies = [] if withheld else remedies_of(check, tier=tier, observation=observation)
    choices = tuple(_choice(remedy, observation, rates, monthly) for remedy in remedies)
    kept = choices[0].residual_monthly_usd if choices else Decimal(0)
    notes = [priced.note] if priced.note else []
    estimated = [item.item.removesuffix(ESTIMATED) for item in priced.lines if item.item.endswith(ESTIMATED)]
    if estimated:  # said in the card's footer, beside the table's source
        notes.append(f"Estimated rates, no checked source: {', '.join(estimated)}.")
    if kept and remedies[0].keeps_snapshot:
        notes.append(prices.notes["snapshot"])
    return Finding(
        key=key,
        facts=observation.facts,
        tags=observation.tags,
        created_at=observation.created_at,
        idle_since=now,
        idle_reason=reason,
        cost=CostEstimate(
            monthly_usd=monthly,
            lines=tuple(priced.lines),
            snapshot_monthly_usd=kept,
            net_monthly_saving_usd=money(Decimal(0) if withheld else monthly - kept),
            price_source=rates.source,
            price_date=prices.as_of,
            note=" ".join(notes) or None,
            choices=choices if len(choices) > 1 else (),
            withheld=withheld[:300] if withheld else None,
        ),
        scan_id=scan_id,
        role_arn=role_arn,
    )


def _choice(remedy: Remedy, observation: Observation, rates: Rates, monthly: Decimal) -> RemedyChoice:
    """One remedy priced: what it keeps billing, the net saving, its undo (None: it has none)."""
    residual = remedy.residual(observation, rates)
    kept = money(residual.monthly_usd) if residual is not None else Decimal(0)
    return RemedyChoice(
        remedy=remedy.name,
        summary=remedy.summary[:300],
        residual_monthly_usd=kept,
        net_monthly_saving_usd=money(monthly - kept),
        undo=remedy.undo[:300] if remedy.undo else None,
        note=remedy.note(observation, rates),
    )


def listings(kind: Kind) -> list[tuple[tuple[Mapping[str, Any], ...], list[Check]]]:
    """The kind's checks grouped by their server-side filters: one listing per distinct filter."""
    groups: dict[str, tuple[tuple[Mapping[str, Any], ...], list[Check]]] = {}
    for _, check_class in kind.checks:
        check = check_class()
        filters = check.filters
        groups.setdefault(json.dumps(filters, sort_keys=True), (filters, []))[1].append(check)
    return list(groups.values())
