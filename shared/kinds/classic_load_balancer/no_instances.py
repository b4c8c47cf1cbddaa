"""The `no-instances` check: a Classic Load Balancer with no instance registered. It is billed every
hour and every request it gets fails (503), whatever its traffic: the traffic is errors. Thrifty's
"load balancers with no registered instances" control.

It owns such load balancers: `no-requests` leaves them alone, so none gets two cards.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.events import Finding, Recommendation, Risk
from shared.kinds.advice import Advice, clip, confidence, idle_text, usd
from shared.kinds.base import Check, Observation, Usage
from shared.kinds.classic_load_balancer.kind import ClassicLoadBalancer
from shared.kinds.signals import Signals


def has_no_instance(observation: Observation) -> bool:
    return observation.facts.get("instances") == 0


@ClassicLoadBalancer.check("no-instances")
class NoInstances(Check):
    summary = "no instance registered: billed, every request fails"
    remedies = ("delete",)
    # Infrastructure code often creates the load balancer before its instances exist: a week's grace.
    min_age = timedelta(days=7)

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        if not has_no_instance(observation):
            return None
        return "nothing behind it: no instance registered, so every request it gets fails"

    def busy_reason(self, observation: Observation) -> str:
        return "an instance was registered with it since it was reported"

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        facts = finding.facts
        summary = (
            f"Classic Load Balancer {str(facts.get('name'))[:60]!r} ({facts.get('scheme')}) in "
            f"{finding.key.region}, {idle_text(finding, now)}: {finding.idle_reason}. It costs "
            f"{usd(finding.cost.monthly_usd)}/month and any request it gets fails. Deleting it frees "
            "its DNS name: a recreated one gets a new name."
        )
        cause = "Its instances were deregistered or terminated (a retired service) and the load balancer kept"
        risk: Risk
        recommendation: Recommendation
        if s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif s.prod:
            risk, reason = "medium", f"production ({s.prod}): check whether a deployment is under way"
            recommendation = "investigate"
        else:
            risk, reason, recommendation = "low", "no instance behind it to serve any request", "delete"
        return Advice(clip(summary, 700), cause, risk, clip(reason, 300), recommendation, confidence(s, risk))
