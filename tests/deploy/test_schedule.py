"""The EventBridge schedule's message is a ScanRequested envelope the scanner accepts."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from shared.events import ScanRequested, parse_event
from tests.deploy.terraform_model import MODULE, ModuleConfig, load_module


@pytest.fixture(scope="module")
def module() -> ModuleConfig:
    return load_module(MODULE)


def _render(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)


@pytest.mark.parametrize("role_arn", [None, "arn:aws:iam::210987654321:role/cloudthrift-scan"])
def test_the_scheduled_message_is_a_scan_request_the_scanner_accepts(
    module: ModuleConfig, role_arn: str | None
) -> None:
    template = (MODULE / "templates" / "scan_requested.json.tftpl").read_text()
    (schedule,) = module.resource("aws_scheduler_schedule").values()
    target = schedule["target"][0]
    passed = set(re.findall(r"\b(\w+)\s*=(?!=)", target["input"].split("templatefile(", 1)[1]))
    assert passed == set(re.findall(r"\$\{(\w+)\}", template)), "template variables and templatefile()"
    assert 'aws_sqs_queue.queue["scan"]' in target["arn"]
    assert 'aws_sqs_queue.dlq["scan"]' in target["dead_letter_config"][0]["arn"]

    body = _render(
        template,
        {
            "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "cloudthrift:cloudthrift:schedule:home")),
            "regions": json.dumps(["us-east-1", "eu-west-1"]),
            "kinds": json.dumps([]),
            "role_arn": json.dumps(role_arn),
            "organization": json.dumps(None),
            "requested_by": "eventbridge-scheduler:cloudthrift-scan-home",
        },
    )
    # What EventBridge Scheduler substitutes (examples from its documentation).
    body = body.replace("<aws.scheduler.scheduled-time>", "2022-03-22T18:59:43Z")
    body = body.replace("<aws.scheduler.execution-id>", "d32c5kddcf5bb8c3")
    event = parse_event(body)
    assert isinstance(event.payload, ScanRequested)
    assert event.payload.scan_id == "schedule-d32c5kddcf5bb8c3"
    assert event.payload.regions == ("us-east-1", "eu-west-1")
    assert event.payload.role_arn == role_arn


def test_the_organization_schedule_is_an_organization_scan_request(module: ModuleConfig) -> None:
    """organization_scan = {...} gives a schedule whose request the scanner fans out (jsonencode of the
    variable's object, optional attributes filled in)."""
    (schedule,) = module.resource("aws_scheduler_schedule").values()
    assert 'organization = "organization"' in module.locals["scan_targets"]
    assert "var.organization_scan" in schedule["target"][0]["input"]
    template = (MODULE / "templates" / "scan_requested.json.tftpl").read_text()
    scope = {
        "include_accounts": [],
        "exclude_accounts": ["111111111111"],
        "include_ous": ["ou-ab12-cdef3456"],
        "exclude_ous": [],
    }
    body = _render(
        template,
        {
            "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "cloudthrift:cloudthrift:schedule:organization")),
            "regions": json.dumps(["us-east-1"]),
            "kinds": json.dumps([]),
            "role_arn": json.dumps(None),
            "organization": json.dumps(scope),
            "requested_by": "eventbridge-scheduler:cloudthrift-scan-organization",
        },
    ).replace("<aws.scheduler.scheduled-time>", "2022-03-22T18:59:43Z")
    event = parse_event(body.replace("<aws.scheduler.execution-id>", "d32c5kddcf5bb8c3"))
    assert isinstance(event.payload, ScanRequested)
    assert event.payload.organization is not None
    assert event.payload.organization.exclude_accounts == ("111111111111",)
    assert event.payload.organization.include_ous == ("ou-ab12-cdef3456",)
