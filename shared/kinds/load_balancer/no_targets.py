"""The `no-targets` check: a load balancer with nothing registered behind it and no listener that
answers by itself. It is billed every hour and every request it forwards fails (503 from an ALB, a
reset from an NLB), whatever its traffic: the traffic is errors. Thrifty's "load balancers with no
targets" control, with the redirector and maintenance-page cases left out: those need no target.

It owns such load balancers: `no-requests` leaves them alone, so none gets two cards.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.events import Finding, Recommendation, Risk
from shared.kinds.advice import Advice, clip, confidence, idle_text, usd
from shared.kinds.base import Check, Observation, Usage
from shared.kinds.load_balancer.kind import LoadBalancer, named, protection_withheld
from shared.kinds.signals import Signals


def has_nothing_behind_it(observation: Observation) -> bool:
    facts = observation.facts
    return facts.get("registered_targets") == 0 and facts.get("answers_by_itself") is False


@LoadBalancer.check("no-targets")
class NoTargets(Check):
    summary = "no target registered and no listener that answers by itself: billed, every request fails"
    remedies = ("delete",)
    # Infrastructure code often creates the load balancer before its targets exist: a week's grace.
    min_age = timedelta(days=7)

    def withheld(self, observation: Observation) -> str | None:
        return protection_withheld(observation)

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        if not has_nothing_behind_it(observation):
            return None
        groups = int(observation.facts.get("target_group_count") or 0)
        behind = f"{groups} target group(s), all empty" if groups else "no target group"
        reason = f"nothing behind it: {behind}, and no listener that redirects or answers by itself"
        if observation.facts.get("deletion_protection"):
            reason += "; deletion protection is on"
        return reason

    def busy_reason(self, observation: Observation) -> str:
        return "a target was registered, or a listener now answers by itself, since it was reported"

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        facts = finding.facts
        summary = (
            f"{named(facts)} in {finding.key.region}, {idle_text(finding, now)}: "
            f"{finding.idle_reason}. It costs {usd(finding.cost.monthly_usd)}/month and any request it "
            "gets fails. "
            + (
                "Deletion protection is on: no clean-up is offered until its owner turns it off."
                if facts.get("deletion_protection")
                else "Deleting it frees its DNS name: a recreated one gets a new name."
            )
        )
        cause = "Its targets were deregistered or terminated (a retired service) and the load balancer kept"
        risk: Risk
        recommendation: Recommendation
        if facts.get("deletion_protection"):
            risk, reason, recommendation = "high", "deletion protection is on: no clean-up is offered", "keep"
        elif s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif s.prod:
            risk, reason = "medium", f"production ({s.prod}): check whether a deployment is under way"
            recommendation = "investigate"
        else:
            risk, reason, recommendation = "low", "nothing behind it to serve any request", "delete"
        return Advice(clip(summary, 700), cause, risk, clip(reason, 300), recommendation, confidence(s, risk))
