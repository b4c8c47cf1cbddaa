"""Application and Network Load Balancers idle by usage: rules without AWS; listing, bulk usage, target
groups, deletion protection and the remedy (dry run, real, re-check) on moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.executor.handler import handle_approval
from services.executor.restore import handle_restore
from services.scanner.handler import ScannerDeps, ScanPolicy, handle_scan
from shared.aws import AwsClients
from shared.errors import SettingsError
from shared.events import Envelope, ScanRequested
from shared.kinds.base import Observation, Usage
from shared.kinds.load_balancer import (
    ACTIVE_FLOWS,
    NEW_FLOWS,
    REQUESTS,
    NoRequests,
    NoTargets,
    metric_dimension,
)
from shared.kinds.pricing import load_prices
from shared.kinds.signals import read_signals
from shared.kinds.usage import all_checks, checked_windows
from shared.ledger import State
from tests.executor.conftest import aws, botocore_session, clock, ledger, make_deps, metrics, reporter
from tests.executor.helpers import approve, restore_request, state_of
from tests.kinds.usage_helpers import REGION, backdate, finding_of, put, verdicts

__all__ = ["aws", "botocore_session", "clock", "ledger", "make_deps", "metrics", "reporter"]

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def _usage(**values: float) -> Usage:
    return Usage(
        timedelta(days=32), {"RequestCount": 0.0, "NewFlowCount": 0.0, "ActiveFlowCount": 0.0} | values
    )


def _observation(kind: str = "application", protected: bool = False) -> Observation:
    return Observation("arn", {"type": kind, "deletion_protection": protected}, {}, NOW - timedelta(days=90))


def test_every_metric_missing_means_zero_as_the_elb_guides_say() -> None:
    assert all(metric.missing_means_zero for metric in NoRequests.metrics)


def test_the_reason_gives_the_numbers_of_its_type() -> None:
    assert NoRequests().verdict(_observation(), _usage()) == "no traffic: 0 requests over 32 days"
    network = NoRequests().verdict(_observation("network"), _usage())
    assert network == "no traffic: 0 new flows, 0 active flows (peak) over 32 days"
    protected = NoRequests().verdict(_observation(protected=True), _usage())
    assert protected is not None and "deletion protection is on" in protected


def test_one_request_or_flow_is_use() -> None:
    for metric in (REQUESTS, NEW_FLOWS, ACTIVE_FLOWS):
        assert NoRequests().verdict(_observation(), _usage(**{metric.name: 1.0})) is None


async def _balancer(aws: AwsClients, name: str, kind: str = "application", *, days: int = 60) -> str:
    ec2, elbv2 = await aws.client("ec2", REGION), await aws.client("elbv2", REGION)
    subnets = [s["SubnetId"] for s in (await ec2.describe_subnets())["Subnets"]][:2]
    created = await elbv2.create_load_balancer(Name=name, Subnets=subnets, Type=kind)
    arn = created["LoadBalancers"][0]["LoadBalancerArn"]
    backdate("load_balancers", arn, "created_time", days, service="elbv2")
    return str(arn)


async def _with_target(
    aws: AwsClients, arn: str, name: str, *, protocol: str = "HTTP", register: bool = True
) -> str:
    """A target group forwarded to by a listener, with one instance registered unless `register`
    is False (then nothing is behind the load balancer: the `no-targets` check's)."""
    ec2, elbv2 = await aws.client("ec2", REGION), await aws.client("elbv2", REGION)
    vpc = (await ec2.describe_vpcs())["Vpcs"][0]["VpcId"]
    created = await elbv2.create_target_group(Name=name, Protocol=protocol, Port=80, VpcId=vpc)
    group = created["TargetGroups"][0]
    if register:
        await _register(aws, str(group["TargetGroupArn"]))
    await elbv2.create_listener(
        LoadBalancerArn=arn, Protocol=protocol, Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )  # fmt: skip
    return str(group["TargetGroupArn"])


async def _register(aws: AwsClients, group_arn: str) -> None:
    ec2, elbv2 = await aws.client("ec2", REGION), await aws.client("elbv2", REGION)
    instance = await ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro"
    )
    await elbv2.register_targets(
        TargetGroupArn=group_arn, Targets=[{"Id": instance["Instances"][0]["InstanceId"]}]
    )


async def test_silent_balancers_are_idle_whatever_their_type(aws: AwsClients) -> None:
    quiet_alb = await _balancer(aws, "quiet-alb")
    quiet_nlb = await _balancer(aws, "quiet-nlb", "network")
    late = await _balancer(aws, "late-alb")  # one request on day 29 of 32
    flowing = await _balancer(aws, "flowing-nlb", "network")
    young = await _balancer(aws, "young-alb", days=3)
    for arn, name, protocol in ((quiet_alb, "quiet-web", "HTTP"), (quiet_nlb, "quiet-tcp", "TCP")):
        await _with_target(aws, arn, name, protocol=protocol)
    await put(aws, REQUESTS, metric_dimension(late), 1, days_ago=29)
    await put(aws, ACTIVE_FLOWS, metric_dimension(flowing), 3, days_ago=1)

    found = await verdicts(aws, "load-balancer", check_name="no-requests")

    assert found == {quiet_alb: "idle", quiet_nlb: "idle", late: "busy", flowing: "busy", young: "too-young"}
    finding = await finding_of(aws, "load-balancer", quiet_nlb, check_name="no-requests")
    assert finding.cost.monthly_usd == Decimal("730") * Decimal("0.0225")
    assert finding.idle_reason.startswith("no traffic: 0 new flows")


async def test_a_healthy_target_is_named_and_raises_the_risk(aws: AwsClients) -> None:
    arn = await _balancer(aws, "old-campaign-alb")
    group = await _with_target(aws, arn, "old-campaign-web")
    finding = await finding_of(aws, "load-balancer", arn, check_name="no-requests")
    assert finding.facts["exclusive_target_groups"] == group and finding.facts["target_group_count"] == 1
    advice = NoRequests().advise(finding, read_signals(finding), datetime.now(UTC))
    assert "target group" in advice.summary and "DNS name" in advice.summary
    assert advice.risk in ("medium", "low")  # moto reports registered targets' health as it likes


async def _exists(aws: AwsClients, arn: str) -> bool:
    elbv2 = await aws.client("elbv2", REGION)
    return any(b["LoadBalancerArn"] == arn for b in (await elbv2.describe_load_balancers())["LoadBalancers"])


async def _groups(aws: AwsClients) -> set[str]:
    elbv2 = await aws.client("elbv2", REGION)
    return {g["TargetGroupArn"] for g in (await elbv2.describe_target_groups())["TargetGroups"]}


async def test_dry_run_deletes_nothing(aws: AwsClients, ledger: Any, make_deps: Any) -> None:
    arn = await _balancer(aws, "gone-alb")
    own = await _with_target(aws, arn, "gone-web")
    finding = await finding_of(aws, "load-balancer", arn, check_name="no-requests")

    await handle_approval(await approve(ledger, finding), make_deps(dry_run=True))

    assert await _exists(aws, arn) and own in await _groups(aws)
    rehearsed = await state_of(ledger, finding.key)
    assert rehearsed.state is State.EXECUTED and rehearsed.get("dry_run") is True
    assert rehearsed.get("action") == "delete_load_balancer"


async def test_delete_then_its_own_target_groups_only(aws: AwsClients, ledger: Any, make_deps: Any) -> None:
    arn = await _balancer(aws, "gone-alb")
    own = await _with_target(aws, arn, "gone-web")
    other = await _balancer(aws, "other-alb")
    shared = await _with_target(aws, other, "shared-web")
    finding = await finding_of(aws, "load-balancer", arn, check_name="no-requests")

    await handle_approval(await approve(ledger, finding), make_deps())

    assert not await _exists(aws, arn) and await _exists(aws, other)
    assert own not in await _groups(aws) and shared in await _groups(aws)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.EXECUTED and decision.get("deleted_target_groups") == own
    configuration = json.loads(decision.get("configuration"))
    assert configuration["Name"] == "gone-alb" and configuration["Scheme"] == finding.facts["scheme"]
    [group] = configuration["TargetGroups"]
    assert group["TargetGroupName"] == "gone-web" and len(group["Targets"]) == 1
    assert [listener["Port"] for listener in configuration["Listeners"]] == [80]


async def _routed(aws: AwsClients, arn: str, own: str) -> None:
    """What an ALB's configuration is mostly made of beyond its default action: rules on its HTTP
    listener (forward by path to its own group, a fixed response by host, a redirect by header) and
    an HTTPS listener with a default and an additional (SNI) certificate."""
    elbv2, acm = await aws.client("elbv2", REGION), await aws.client("acm", REGION)
    [http] = (await elbv2.describe_listeners(LoadBalancerArn=arn))["Listeners"]
    rules = (
        (5, {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}},
         {"Type": "forward", "TargetGroupArn": own}),
        (10, {"Field": "host-header", "HostHeaderConfig": {"Values": ["status.example.com"]}},
         {"Type": "fixed-response",
          "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain", "MessageBody": "ok"}}),
        (20, {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Old", "Values": ["1"]}},
         {"Type": "redirect",
          "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}),
    )  # fmt: skip
    for priority, condition, action in rules:
        await elbv2.create_rule(
            ListenerArn=http["ListenerArn"], Priority=priority, Conditions=[condition], Actions=[action]
        )
    default, extra = [
        (await acm.request_certificate(DomainName=name))["CertificateArn"]
        for name in ("shop.example.com", "old-shop.example.com")
    ]
    https = await elbv2.create_listener(
        LoadBalancerArn=arn, Protocol="HTTPS", Port=443, Certificates=[{"CertificateArn": default}],
        SslPolicy="ELBSecurityPolicy-2016-08", DefaultActions=[{"Type": "forward", "TargetGroupArn": own}],
    )  # fmt: skip
    await elbv2.add_listener_certificates(
        ListenerArn=https["Listeners"][0]["ListenerArn"], Certificates=[{"CertificateArn": extra}]
    )


async def _listeners(aws: AwsClients, arn: str) -> dict[int, dict[str, Any]]:
    """Each listener by port as a human compares two load balancers: target groups by name, rules by
    priority (default rule aside), certificates by ARN."""
    elbv2 = await aws.client("elbv2", REGION)

    async def named(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for action in actions:
            action = {k: v for k, v in action.items() if k not in ("ForwardConfig", "Order")}
            if "TargetGroupArn" in action:
                [group] = (await elbv2.describe_target_groups(TargetGroupArns=[action["TargetGroupArn"]]))[
                    "TargetGroups"
                ]
                action["TargetGroupArn"] = group["TargetGroupName"]
            out.append(action)
        return out

    found = {}
    for listener in (await elbv2.describe_listeners(LoadBalancerArn=arn))["Listeners"]:
        rules = (await elbv2.describe_rules(ListenerArn=listener["ListenerArn"]))["Rules"]
        certificates = await elbv2.describe_listener_certificates(ListenerArn=listener["ListenerArn"])
        found[listener["Port"]] = {
            "Protocol": listener["Protocol"],
            "SslPolicy": listener.get("SslPolicy"),
            "DefaultActions": await named(listener["DefaultActions"]),
            "Certificates": sorted(c["CertificateArn"] for c in certificates.get("Certificates", [])),
            "Rules": [
                (rule["Priority"], rule["Conditions"], await named(rule["Actions"]))
                for rule in sorted(rules, key=lambda r: str(r["Priority"]))
                if not rule.get("IsDefault")
            ],
        }
    return found


async def test_the_undo_recreates_it_its_target_group_and_listeners_with_their_rules(
    aws: AwsClients, ledger: Any, make_deps: Any
) -> None:
    arn = await _balancer(aws, "undone-alb")
    own = await _with_target(aws, arn, "undone-web")
    await _routed(aws, arn, own)
    elbv2 = await aws.client("elbv2", REGION)
    await elbv2.modify_target_group(
        TargetGroupArn=own, HealthCheckPath="/healthz", HealthCheckIntervalSeconds=15
    )
    [before] = (await elbv2.describe_load_balancers(LoadBalancerArns=[arn]))["LoadBalancers"]
    [group_before] = (await elbv2.describe_target_groups(TargetGroupArns=[own]))["TargetGroups"]
    targets_before = (await elbv2.describe_target_health(TargetGroupArn=own))["TargetHealthDescriptions"]
    listeners_before = await _listeners(aws, arn)
    assert len(listeners_before[80]["Rules"]) == 3 and len(listeners_before[443]["Certificates"]) == 2
    finding = await finding_of(aws, "load-balancer", arn, check_name="no-requests")
    event = await approve(ledger, finding)
    await handle_approval(event, make_deps())
    assert not await _exists(aws, arn)

    await handle_restore(restore_request(finding.key, event.payload.decision_id), make_deps())

    decision = await state_of(ledger, finding.key)
    assert decision.state is State.RESTORED, decision.get("restore_error")
    new_arn = decision.get("restored_resource_id")
    [after] = (await elbv2.describe_load_balancers(LoadBalancerArns=[new_arn]))["LoadBalancers"]
    for field in ("LoadBalancerName", "Type", "Scheme", "VpcId", "AvailabilityZones", "IpAddressType"):
        assert after.get(field) == before.get(field), field
    assert await _listeners(aws, new_arn) == listeners_before  # rules, certificates, actions
    [group] = (await elbv2.describe_target_groups(Names=["undone-web"]))["TargetGroups"]
    for field in (
        "TargetGroupName",
        "Protocol",
        "Port",
        "VpcId",
        "HealthCheckPath",
        "HealthCheckIntervalSeconds",
    ):
        assert group[field] == group_before[field], field
    targets = (await elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"]))[
        "TargetHealthDescriptions"
    ]
    assert [t["Target"]["Id"] for t in targets] == [t["Target"]["Id"] for t in targets_before]


async def test_deletion_protection_is_refused_in_dry_run_and_for_real(
    aws: AwsClients, ledger: Any, make_deps: Any
) -> None:
    arn = await _balancer(aws, "payments-legacy-alb")
    await _with_target(aws, arn, "payments-web")
    elbv2 = await aws.client("elbv2", REGION)
    await elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    finding = await finding_of(aws, "load-balancer", arn, check_name="no-requests")
    assert finding.facts["deletion_protection"] is True
    advice = NoRequests().advise(finding, read_signals(finding), datetime.now(UTC))
    assert advice.recommendation == "keep" and "deletion protection" in advice.risk_reason

    await handle_approval(await approve(ledger, finding), make_deps())  # moto would delete it: we refuse

    assert await _exists(aws, arn)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.SKIPPED and "deletion protection" in decision.get("skip_reason")


async def test_protected_dry_run_is_skipped_too(aws: AwsClients, ledger: Any, make_deps: Any) -> None:
    arn = await _balancer(aws, "payments-legacy-alb")
    await _with_target(aws, arn, "payments-web")
    elbv2 = await aws.client("elbv2", REGION)
    await elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    finding = await finding_of(aws, "load-balancer", arn, check_name="no-requests")
    await handle_approval(await approve(ledger, finding), make_deps(dry_run=True))
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.SKIPPED and "deletion protection" in decision.get("skip_reason")


async def test_requests_after_approval_skip_it(aws: AwsClients, ledger: Any, make_deps: Any) -> None:
    arn = await _balancer(aws, "revived-alb")
    await _with_target(aws, arn, "revived-web")
    finding = await finding_of(aws, "load-balancer", arn, check_name="no-requests")
    event = await approve(ledger, finding)
    await put(aws, REQUESTS, metric_dimension(arn), 7, days_ago=0.01)
    await handle_approval(event, make_deps())
    assert await _exists(aws, arn)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.SKIPPED and "served traffic" in decision.get("skip_reason")


# --- nothing behind it: the `no-targets` check ---------------------------------------------------


def _bare(**facts: Any) -> Observation:
    base = {"type": "application", "deletion_protection": False, "target_group_count": 1}
    return Observation("arn", base | facts, {}, NOW - timedelta(days=90))


def test_nothing_behind_it_is_no_targets_waste_and_not_also_no_requests() -> None:
    empty = _bare(registered_targets=0, answers_by_itself=False)
    assert NoTargets().verdict(empty, None) == (
        "nothing behind it: 1 target group(s), all empty, and no listener that redirects or answers by itself"
    )
    assert NoRequests().verdict(empty, _usage()) is None  # one card per load balancer
    assert NoTargets().verdict(_bare(registered_targets=1, answers_by_itself=None), None) is None
    assert NoTargets().verdict(_bare(registered_targets=0, answers_by_itself=True), None) is None
    assert NoRequests().verdict(_bare(registered_targets=0, answers_by_itself=True), _usage()) is not None


async def test_no_targets_is_judged_on_what_stands_behind_each_balancer(aws: AwsClients) -> None:
    orphaned = await _balancer(aws, "legacy-api-alb")
    await _with_target(aws, orphaned, "legacy-api-web", register=False)
    await put(aws, REQUESTS, metric_dimension(orphaned), 4200, days_ago=1)  # called: its callers get 503s
    bare_nlb = await _balancer(aws, "poc-grpc-nlb", "network")
    redirector = await _balancer(aws, "www-redirect-alb")
    elbv2 = await aws.client("elbv2", REGION)
    await elbv2.create_listener(
        LoadBalancerArn=redirector, Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "redirect",
                         "RedirectConfig": {"Protocol": "HTTPS", "StatusCode": "HTTP_301"}}],
    )  # fmt: skip
    maintenance = await _balancer(aws, "maintenance-alb")  # forwards by default, a rule answers itself
    await _with_target(aws, maintenance, "maintenance-web", register=False)
    [listener] = (await elbv2.describe_listeners(LoadBalancerArn=maintenance))["Listeners"]
    await elbv2.create_rule(
        ListenerArn=listener["ListenerArn"], Priority=1,
        Conditions=[{"Field": "path-pattern", "Values": ["/status"]}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
    )  # fmt: skip
    served = await _balancer(aws, "served-alb")
    await _with_target(aws, served, "served-web")
    young = await _balancer(aws, "young-empty-alb", days=3)

    found = await verdicts(aws, "load-balancer", check_name="no-targets")

    assert found[orphaned] == "idle" and found[bare_nlb] == "idle"
    assert found[redirector] == "busy" and found[maintenance] == "busy" and found[served] == "busy"
    assert found[young] == "too-young"  # a week's grace: targets often come after their balancer
    finding = await finding_of(aws, "load-balancer", orphaned, check_name="no-targets")
    assert finding.facts["registered_targets"] == 0 and finding.facts["answers_by_itself"] is False
    advice = NoTargets().advise(finding, read_signals(finding), datetime.now(UTC))
    assert advice.recommendation == "delete" and "fails" in advice.summary


async def test_an_approved_balancer_with_nothing_behind_it_is_deleted_with_its_empty_group(
    aws: AwsClients, ledger: Any, make_deps: Any
) -> None:
    arn = await _balancer(aws, "legacy-api-alb")
    own = await _with_target(aws, arn, "legacy-api-web", register=False)
    finding = await finding_of(aws, "load-balancer", arn, check_name="no-targets")
    await handle_approval(await approve(ledger, finding), make_deps())
    assert not await _exists(aws, arn) and own not in await _groups(aws)
    assert (await state_of(ledger, finding.key)).state is State.EXECUTED


async def test_a_target_registered_after_approval_skips_it(
    aws: AwsClients, ledger: Any, make_deps: Any
) -> None:
    arn = await _balancer(aws, "coming-back-alb")
    own = await _with_target(aws, arn, "coming-back-web", register=False)
    finding = await finding_of(aws, "load-balancer", arn, check_name="no-targets")
    event = await approve(ledger, finding)
    await _register(aws, own)
    await handle_approval(event, make_deps())
    assert await _exists(aws, arn)
    decision = await state_of(ledger, finding.key)
    assert decision.state is State.SKIPPED


# --- the usage window, configurable (CLOUDTHRIFT_USAGE_WINDOW_DAYS) -----------------------------


async def test_an_operators_usage_window_is_the_one_read_and_the_one_aged_against(
    aws: AwsClients, ledger: Any
) -> None:
    """Requests 20 days ago are use over the default 32 days, not over 14; a 20-day-old balancer is
    too young for 32 days, not for 14. The scanner reads and ages by the operator's window."""
    called = await _balancer(aws, "called-20-days-ago-alb")
    await _with_target(aws, called, "called-web")
    await put(aws, REQUESTS, metric_dimension(called), 50, days_ago=20)
    young = await _balancer(aws, "twenty-days-alb", days=20)
    await _with_target(aws, young, "twenty-days-web")

    async def idle_by(policy: ScanPolicy) -> dict[str, str]:
        deps = ScannerDeps(aws=aws, ledger=ledger, prices=load_prices(), policy=policy)
        found = await handle_scan(Envelope.wrap(ScanRequested()), deps)
        return {f.finding.key.resource_id: f.finding.idle_reason for f in found}

    base = {"regions": (REGION,), "kinds": ("load-balancer",), "min_age": timedelta(days=7)}
    assert await idle_by(ScanPolicy(**base)) == {}
    shorter = await idle_by(ScanPolicy(**base, usage_window_days={"load-balancer/no-requests": 14}))
    assert shorter == {
        called: "no traffic: 0 requests over 14 days",
        young: "no traffic: 0 requests over 14 days",
    }


def test_a_usage_window_naming_no_usage_check_or_out_of_range_stops_the_worker() -> None:
    checks = all_checks()
    assert checked_windows({"rds-instance/no-connections": 60}, checks) == {"rds-instance/no-connections": 60}
    for wrong in (
        {"load-balancer/no-targets": 14},
        {"nat-gateway/no-trafic": 14},
        {"nat-gateway/no-traffic": 0},
    ):
        with pytest.raises(SettingsError, match="CLOUDTHRIFT_USAGE_WINDOW_DAYS"):
            checked_windows(wrong, checks)


def test_a_balancer_is_named_with_its_scheme_only_when_aws_reported_one() -> None:
    """The demo's protected ALB read "(None)" on its card: moto reported no scheme for it."""
    from shared.kinds.load_balancer.kind import named

    assert named({"type": "application", "name": "web", "scheme": None}) == "Application load balancer 'web'"
    assert named({"type": "network", "name": "edge", "scheme": "internal"}) == (
        "Network load balancer 'edge' (internal)"
    )
