"""Meta-tests over the registries of kinds, checks and remedies (Cloud Custodian's
`test_resource_permissions` idea, typed): whatever a new kind declares is held to the same rules."""

from __future__ import annotations

import inspect
import pkgutil
import re
from datetime import UTC, datetime

import pytest

import shared.kinds
from services.estate import moto_backdater, seed_estate
from shared.kinds import FRAMEWORK, Kind, discover, remedies_of
from shared.kinds.base import Check, Remedy
from shared.kinds.pricing import load_prices
from shared.worker import Runtime
from tests.deploy.terraform_model import MODULE, load_module

KINDS = discover()


def every_kind() -> list[type[Kind]]:
    return [cls for _, cls in KINDS]


def every_check() -> list[type[Check]]:
    return [check for kind in every_kind() for _, check in kind.checks]


def every_remedy() -> list[type[Remedy]]:
    return [remedy for kind in every_kind() for _, remedy in kind.remedies]


def granted(role: str) -> set[str]:
    module = load_module(MODULE)
    return {a for s in module.statements(role) if s.effect == "Allow" for a in s.actions}


def test_every_module_of_the_package_is_a_discovered_kind() -> None:
    modules = {m.name for m in pkgutil.iter_modules(shared.kinds.__path__)} - FRAMEWORK
    defined_in = {cls.__module__.split(".")[2] for cls in every_kind()}
    assert modules == defined_in, "a module under shared/kinds/ that registers no kind, or the reverse"
    assert KINDS.names() == [
        "ami",
        "classic-load-balancer",
        "ebs-snapshot",
        "ebs-volume",
        "ec2-instance",
        "elastic-ip",
        "load-balancer",
        "nat-gateway",
        "rds-instance",
    ]


@pytest.mark.parametrize("kind", every_kind(), ids=lambda k: k.name)
def test_a_kind_declares_what_the_pipeline_needs(kind: type[Kind]) -> None:
    assert KINDS.get(kind.name) is kind
    assert kind.summary and kind.permissions and kind.gone_codes, kind.name
    assert kind.gemini_facts, "an allow-list of the facts Gemini may see"
    assert len(kind.checks) >= 1 and len(kind.remedies) >= 1
    for _, check in kind.checks:
        assert check.kind is kind and check.summary, check
        assert check.remedies and set(check.remedies) <= set(kind.remedies.names()), check.name
        assert remedies_of(check()), f"{kind.name}/{check.name} has no remedy"
        assert not check.metrics or "cloudwatch:GetMetricData" in check.permissions, check.name
    for _, remedy in kind.remedies:
        assert remedy.kind is kind and remedy.summary and remedy.permissions and remedy.action
        # A rehearsal of its own: a remedy never falls back to doing the real thing in a dry run.
        assert not inspect.isabstract(remedy) and remedy.rehearse is not Remedy.rehearse
        assert inspect.iscoroutinefunction(remedy.rehearse)


@pytest.mark.parametrize("kind", every_kind(), ids=lambda k: k.name)
def test_every_billed_dimension_has_a_price_in_every_region(kind: type[Kind]) -> None:
    table = load_prices()
    assert kind.dimensions, kind.name
    for region, rates in table.regions.items():
        missing = set(kind.dimensions) - set(rates)
        assert not missing, f"{region} has no price for {sorted(missing)}"


def test_every_price_row_names_its_source_and_the_unsourced_ones_are_estimates() -> None:
    """No figure without its source and date: a row no checked source covers is an estimate in every
    region, and a card's cost line says so."""
    table = load_prices()
    for region, rates in table.regions.items():
        for dimension in rates:
            source = table.source_of(dimension)
            assert source and re.search(r"20\d\d-\d\d", source), f"{dimension}: no source and date"
            if source.startswith("no checked source"):
                assert dimension in table.estimates.get(region, []), f"{region} {dimension}"
    eu, us = table.rates("eu-west-1"), table.rates("us-east-1")
    assert eu.line("NAT gateway hours", 730, "hour", "vpc.nat_gateway.hour").item.endswith("(estimated rate)")
    assert us.line("NAT gateway hours", 730, "hour", "vpc.nat_gateway.hour").item == "NAT gateway hours"
    assert us.line("db.t3.micro hours", 730, "hour", "rds.mysql.db.t3.micro.hour").item.endswith(
        "(estimated rate)"
    )


def test_the_scanner_role_grants_every_read_a_kind_or_check_declares() -> None:
    needed = {p for check in every_check() for p in (*check.kind.permissions, *check.permissions)}
    # The handler lists enabled regions when a scan names none.
    missing = (needed | {"ec2:DescribeRegions"}) - granted("scanner")
    assert not missing, f"scanner role lacks {sorted(missing)}"


def test_the_executor_role_grants_every_permission_a_remedy_declares() -> None:
    needed = {p for remedy in every_remedy() for p in (*remedy.kind.permissions, *remedy.permissions)}
    needed |= {p for check in every_check() for p in check.permissions}  # usage re-read before acting
    missing = needed - granted("executor")
    assert not missing, f"executor role lacks {sorted(missing)}"


async def test_the_estate_seeds_an_idle_and_a_spared_example_of_every_kind(runtime: Runtime) -> None:
    manifest = await seed_estate(
        runtime.aws, ("us-east-1",), backdate=moto_backdater(), now=datetime.now(UTC)
    )
    for kind in KINDS.names():
        expectations = {item.expectation for item in manifest if item.kind == kind}
        assert "idle" in expectations and expectations - {"idle"}, f"{kind}: {expectations}"
