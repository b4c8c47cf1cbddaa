"""The `no-traffic` check: a NAT gateway that carried no connection, byte or packet over the window."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.events import Finding, Recommendation, Risk
from shared.kinds.advice import Advice, clip, confidence, idle_text, usd
from shared.kinds.base import Check, Observation, Usage
from shared.kinds.nat_gateway.kind import KEEP_ADDRESS_TAG, NAT_METRICS, NatGateway, usage_text
from shared.kinds.signals import Signals


@NatGateway.check("no-traffic")
class NoTraffic(Check):
    summary = "no connection, byte or packet through the gateway over the window, yet billed hourly"
    filters = ({"Name": "state", "Values": ["available"]},)
    metrics = NAT_METRICS
    # Compute Optimizer's lookback for unused NAT gateways: a monthly batch job still counts as use.
    window = timedelta(days=32)
    permissions = ("cloudwatch:GetMetricData",)
    # Delete and release the address (the default), or delete and keep it: an exact undo, for its hour.
    remedies = ("delete", "delete-keep-address")

    def remedy_order(self, observation: Observation) -> tuple[str, ...]:
        """A gateway tagged `cloudthrift:keep-address` is proposed only the remedy keeping it (its owner
        said so: no card offers to release it); one without a public address has nothing to keep."""
        if KEEP_ADDRESS_TAG in observation.tags:
            return ("delete-keep-address",)
        if not int(observation.facts.get("address_count") or 0):
            return ("delete",)
        return self.remedies

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        if usage is None or not usage.known() or any(usage.values.values()):
            return None
        return f"no traffic: {usage_text(usage)}"

    def busy_reason(self, observation: Observation) -> str:
        return "the gateway carried traffic within the window since it was reported"

    def advise(self, finding: Finding, s: Signals, now: datetime) -> Advice:
        """Routes still pointing at it are the risk: they become blackholes, and a subnet that needs
        the internet some day (patching, a monthly job) loses it silently."""
        facts = finding.facts
        name = str(facts.get("name") or "")
        routes = int(facts.get("route_count") or 0)
        keeps = KEEP_ADDRESS_TAG in finding.tags
        summary = (
            f"NAT gateway{f' named {name[:60]!r}' if name else ''} in {facts.get('subnet_id')} "
            f"({facts.get('vpc_id')}), {idle_text(finding, now)}: {finding.idle_reason}. It costs "
            f"{usd(finding.cost.monthly_usd)}/month. "
        )
        if routes:
            summary += f"Deleting it turns {routes} route(s) into blackholes: {facts.get('routes')}. "
        else:
            summary += "No route table routes to it. "
        summary += (
            "Its Elastic IP is kept (tag)."
            if keeps
            else "Its Elastic IP is released (choose delete-keep-address, or tag the gateway "
            f"{KEEP_ADDRESS_TAG}, to keep it and make an exact undo possible)."
        )
        cause = (
            "Left behind by a VPC whose private workloads were moved or removed"
            if routes
            else "Routes were moved to another gateway (or never made) and this one was not deleted"
        )
        risk: Risk
        recommendation: Recommendation
        if s.keep:
            risk, reason, recommendation = "high", f"marked to be kept ({s.keep})", "keep"
        elif s.prod:
            risk, reason, recommendation = "high", f"production network ({s.prod})", "investigate"
        elif routes:
            risk, recommendation = "medium", "investigate"
            reason = f"{routes} route(s) still send traffic to it: they become blackholes when it is deleted"
        else:
            risk, reason, recommendation = "low", "no traffic and no route points at it", "delete"
        return Advice(clip(summary, 700), cause, risk, clip(reason, 300), recommendation, confidence(s, risk))
