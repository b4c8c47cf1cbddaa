"""The `no-requests` check: a load balancer that served no request (ALB) or flow (NLB) over the window."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.events import Finding, Recommendation, Risk
from shared.kinds.advice import Advice, clip, confidence, idle_text, usd
from shared.kinds.base import Check, Observation, Usage
from shared.kinds.load_balancer.kind import (
    ACTIVE_FLOWS,
    NEW_FLOWS,
    REQUESTS,
    LoadBalancer,
    named,
    protection_withheld,
)
from shared.kinds.load_balancer.no_targets import has_nothing_behind_it
from shared.kinds.signals import Signals


@LoadBalancer.check("no-requests")
class NoRequests(Check):
    summary = "no request (ALB) or flow (NLB) over the window, yet billed hourly"
    metrics = (REQUESTS, NEW_FLOWS, ACTIVE_FLOWS)
    # A monthly job (billing run, month-end report) behind a load balancer is use: a month and a bit.
    window = timedelta(days=32)
    permissions = ("cloudwatch:GetMetricData",)
    remedies = ("delete",)

    def withheld(self, observation: Observation) -> str | None:
        return protection_withheld(observation)

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        if has_nothing_behind_it(observation):
            return None  # the `no-targets` check's, with or without traffic: one card per resource
        if usage is None or not usage.known() or any(usage.values.values()):
            return None
        values, days = usage.values, usage.window.days
        if observation.facts.get("type") == "network":
            flows, active = values["NewFlowCount"], values["ActiveFlowCount"]
            numbers = f"{flows:,.0f} new flows, {active:,.0f} active flows (peak)"
        else:
            numbers = f"{values['RequestCount']:,.0f} requests"
        reason = f"no traffic: {numbers} over {days} days"
        if observation.facts.get("deletion_protection"):
            reason += "; deletion protection is on"
        return reason

    def busy_reason(self, observation: Observation) -> str:
        return "the load balancer served traffic within the window since it was reported"

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        facts = finding.facts
        protected = bool(facts.get("deletion_protection"))
        healthy = int(facts.get("healthy_targets") or 0)
        summary = (
            f"{named(facts)} in {finding.key.region}, {idle_text(finding, now)}: "
            f"{finding.idle_reason}. "
            f"It costs {usd(finding.cost.monthly_usd)}/month before capacity units. It has "
            f"{facts.get('target_group_count')} target group(s) and {healthy} healthy target(s). "
            + (
                "Deletion protection is on: no clean-up is offered until its owner turns it off."
                if protected
                else "Deleting it frees its DNS name: a recreated one gets a new name."
            )
        )
        cause = (
            "Its targets are healthy but nothing calls it: clients moved to another endpoint"
            if healthy
            else "The application behind it was retired and the load balancer left running"
        )
        risk: Risk
        recommendation: Recommendation
        if protected:
            risk, reason, recommendation = "high", "deletion protection is on: no clean-up is offered", "keep"
        elif s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif s.prod:
            risk, reason, recommendation = "high", f"production ({s.prod}): check DNS records", "investigate"
        elif healthy:
            risk, recommendation = "medium", "investigate"
            reason = f"{healthy} healthy target(s) still registered: check that no DNS record points at it"
        else:
            risk, reason, recommendation = "low", "no traffic and no healthy target", "delete"
        return Advice(clip(summary, 700), cause, risk, clip(reason, 300), recommendation, confidence(s, risk))
