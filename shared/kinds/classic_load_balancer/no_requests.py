"""The `no-requests` check: a Classic Load Balancer with instances behind it that served no request
(or, on TCP listeners, connection) over the window."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.events import Finding, Recommendation, Risk
from shared.kinds.advice import Advice, clip, confidence, idle_text, usd
from shared.kinds.base import Check, Observation, Usage
from shared.kinds.classic_load_balancer.kind import REQUESTS, ClassicLoadBalancer
from shared.kinds.classic_load_balancer.no_instances import has_no_instance
from shared.kinds.signals import Signals


@ClassicLoadBalancer.check("no-requests")
class NoRequests(Check):
    summary = "no request or connection over the window, yet billed hourly"
    metrics = (REQUESTS,)
    window = timedelta(days=32)  # as for ALB/NLB: a monthly job behind it is use
    permissions = ("cloudwatch:GetMetricData",)
    remedies = ("delete",)

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        if has_no_instance(observation):
            return None  # the `no-instances` check's, with or without traffic: one card per resource
        if usage is None or not usage.known() or usage.values.get(REQUESTS.name):
            return None
        return f"no traffic: {usage.values[REQUESTS.name]:,.0f} requests over {usage.window.days} days"

    def busy_reason(self, observation: Observation) -> str:
        return "the load balancer served requests within the window since it was reported"

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        facts = finding.facts
        healthy = int(facts.get("healthy_instances") or 0)
        summary = (
            f"Classic Load Balancer {str(facts.get('name'))[:60]!r} ({facts.get('scheme')}) in "
            f"{finding.key.region}, {idle_text(finding, now)}: {finding.idle_reason}. It costs "
            f"{usd(finding.cost.monthly_usd)}/month. It has {facts.get('instances')} registered instance(s), "
            f"{healthy} in service. Deleting it frees its DNS name: a recreated one gets a new name."
        )
        cause = "The application behind it was retired or moved to a newer load balancer"
        risk: Risk
        recommendation: Recommendation
        if s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif s.prod:
            risk, reason, recommendation = "high", f"production ({s.prod}): check DNS records", "investigate"
        elif healthy:
            risk, recommendation = "medium", "investigate"
            reason = f"{healthy} instance(s) in service: check that no DNS record points at it"
        else:
            risk, reason, recommendation = "low", "no traffic and no instance in service", "delete"
        return Advice(clip(summary, 700), cause, risk, clip(reason, 300), recommendation, confidence(s, risk))
