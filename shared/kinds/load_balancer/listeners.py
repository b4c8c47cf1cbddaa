"""An ALB/NLB's listeners as its undo needs them: recorded with the decision (every listener with its
default actions, its rules beyond the default one, its default and additional certificates) and made
again on the recreated load balancer, each target group's ARN replaced by its recreated one.

A listener's rules (path, host, header... routing) are most of an ALB's configuration: an undo that
recreated only the default actions would bring back a load balancer that routes everything to one
place. Rules and certificates are read per listener (DescribeRules, DescribeListenerCertificates); an
NLB's listeners have no rules beyond the default, so only its TLS listeners' certificates are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.kinds.base import UndoJob

_LISTENER_FIELDS = ("Protocol", "Port", "SslPolicy", "Certificates", "AlpnPolicy")
_RULED = frozenset({"HTTP", "HTTPS"})  # ALB listeners: the only ones with rules of their own
_CERTIFIED = frozenset({"HTTPS", "TLS"})


async def record(elbv2: Any, arn: str) -> list[dict[str, Any]]:
    """Every listener of the load balancer with its non-default rules (`Rules`: priority, conditions,
    actions) and the certificates beyond its default one (`AdditionalCertificates`)."""
    recorded = []
    async for page in elbv2.get_paginator("describe_listeners").paginate(LoadBalancerArn=arn):
        for listener in page.get("Listeners", []):
            entry = plain(listener)
            if listener.get("Protocol") in _RULED:
                entry["Rules"] = await _rules(elbv2, listener["ListenerArn"])
            if listener.get("Protocol") in _CERTIFIED:
                default, additional = await _certificates_of(elbv2, listener)
                entry["Certificates"], entry["AdditionalCertificates"] = default, additional
            recorded.append(entry)
    return recorded


async def _rules(elbv2: Any, listener_arn: str) -> list[dict[str, Any]]:
    rules = []
    async for page in elbv2.get_paginator("describe_rules").paginate(ListenerArn=listener_arn):
        for rule in page.get("Rules", []):
            if not rule.get("IsDefault"):  # the default rule is the listener's DefaultActions
                rules.append(
                    {
                        "Priority": int(rule["Priority"]),
                        "Conditions": rule.get("Conditions", []),
                        "Actions": rule.get("Actions", []),
                    }
                )
    return sorted(rules, key=lambda rule: rule["Priority"])


async def _certificates_of(
    elbv2: Any, listener: Mapping[str, Any]
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The default certificate (CreateListener takes exactly one) and the additional (SNI) ones, as
    DescribeListenerCertificates tells them apart (IsDefault). DescribeListeners names the default
    alone on AWS, but every certificate on moto: it is not what tells them apart."""
    default: list[dict[str, str]] = []
    additional: list[dict[str, str]] = []
    for certificate in await _certificates(elbv2, listener["ListenerArn"]):
        arn = certificate.get("CertificateArn")
        if arn:
            (default if certificate.get("IsDefault") else additional).append({"CertificateArn": arn})
    if not default:  # none marked: the listener's own first one, as DescribeListeners gives it
        default = [{"CertificateArn": c["CertificateArn"]} for c in listener.get("Certificates", [])[:1]]
        additional = [c for c in additional if c not in default]
    return default, additional


async def recreate(
    elbv2: Any, arn: str, recorded: list[Mapping[str, Any]], groups: Mapping[str, str], job: UndoJob
) -> None:
    """The recorded listeners on the recreated load balancer `arn`, their certificates and rules, with
    `groups` (old target group ARN -> recreated one) applied. What an earlier attempt made is kept:
    a listener found by port, a rule by priority, a certificate by ARN."""
    existing = {
        listener["Port"]: listener
        for listener in (await elbv2.describe_listeners(LoadBalancerArn=arn)).get("Listeners", [])
    }
    for listener in recorded:
        made = existing.get(listener["Port"])
        if made is None:
            arguments = {k: listener[k] for k in _LISTENER_FIELDS if listener.get(k)}
            await job.guard()
            created = await elbv2.create_listener(
                LoadBalancerArn=arn, DefaultActions=remapped(listener["DefaultActions"], groups), **arguments
            )
            made = created["Listeners"][0]
        listener_arn = made["ListenerArn"]
        if listener.get("AdditionalCertificates"):
            await _add_certificates(elbv2, listener_arn, listener["AdditionalCertificates"], job)
        if listener.get("Rules"):
            await _create_rules(elbv2, listener_arn, listener["Rules"], groups, job)


async def _add_certificates(
    elbv2: Any, listener_arn: str, certificates: list[Mapping[str, str]], job: UndoJob
) -> None:
    present = {c.get("CertificateArn") for c in await _certificates(elbv2, listener_arn)}
    missing = [
        {"CertificateArn": c["CertificateArn"]} for c in certificates if c["CertificateArn"] not in present
    ]
    if missing:
        await job.guard()
        await elbv2.add_listener_certificates(ListenerArn=listener_arn, Certificates=missing)


async def _certificates(elbv2: Any, listener_arn: str) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    paginator = elbv2.get_paginator("describe_listener_certificates")
    async for page in paginator.paginate(ListenerArn=listener_arn):
        found.extend(page.get("Certificates", []))
    return found


async def _create_rules(
    elbv2: Any, listener_arn: str, rules: list[Mapping[str, Any]], groups: Mapping[str, str], job: UndoJob
) -> None:
    taken = {int(r["Priority"]) for r in await _rules(elbv2, listener_arn)}
    for rule in rules:
        if int(rule["Priority"]) in taken:
            continue
        await job.guard()
        await elbv2.create_rule(
            ListenerArn=listener_arn,
            Priority=int(rule["Priority"]),
            Conditions=[_condition(c) for c in rule["Conditions"]],
            Actions=remapped(rule["Actions"], groups),
        )


def _condition(condition: Mapping[str, Any]) -> dict[str, Any]:
    """A condition as CreateRule takes it. DescribeRules answers a host or path condition twice, in
    `Values` and in its `...Config`; CreateRule takes one of them: the Config, the complete form."""
    kept = {k: v for k, v in condition.items() if v not in (None, [], {})}
    if any(key.endswith("Config") for key in kept):
        kept.pop("Values", None)
    return kept


def remapped(actions: list[dict[str, Any]], groups: Mapping[str, str]) -> list[dict[str, Any]]:
    """Listener or rule actions with each deleted target group's ARN replaced by its recreated one."""
    out = []
    for action in actions:
        action = {k: v for k, v in action.items() if v not in (None, [], {})}
        if action.get("TargetGroupArn") in groups:
            action["TargetGroupArn"] = groups[action["TargetGroupArn"]]
        forward = action.get("ForwardConfig")
        if forward:
            action["ForwardConfig"] = {
                **forward,
                "TargetGroups": [
                    {**t, "TargetGroupArn": groups.get(t["TargetGroupArn"], t["TargetGroupArn"])}
                    for t in forward.get("TargetGroups", [])
                ],
            }
            if "TargetGroupArn" in action:
                action.pop("ForwardConfig")  # AWS takes one of the two
        out.append(action)
    return out


def plain(record: Mapping[str, Any]) -> dict[str, Any]:
    """An AWS answer without its datetimes: what is recorded as JSON."""
    return {key: value for key, value in record.items() if not isinstance(value, datetime)}
