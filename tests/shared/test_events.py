"""The envelope: JSON on the wire, strict parsing, deterministic ids for natural duplicates."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.errors import InvalidEvent
from shared.events import (
    SCHEMA,
    ApprovalGranted,
    Approver,
    Envelope,
    ResourceFound,
    ScanRequested,
    parse_event,
)
from tests.shared.factories import finding


def test_round_trip_keeps_every_field_and_the_wire_shape() -> None:
    sent = Envelope.wrap(ResourceFound(finding=finding()))
    wire = json.loads(sent.to_json())
    assert set(wire) == {"schema", "type", "id", "occurred_at", "payload"}
    assert (wire["schema"], wire["type"]) == (SCHEMA, "ResourceFound")
    received = parse_event(sent.to_json())
    assert received == sent
    assert isinstance(received.payload, ResourceFound)
    assert received.payload.finding.fingerprint == finding().fingerprint


def test_the_same_finding_in_the_same_scan_has_the_same_event_id() -> None:
    assert (
        Envelope.wrap(ResourceFound(finding=finding())).id
        == Envelope.wrap(ResourceFound(finding=finding())).id
    )
    other_scan = ResourceFound(finding=finding(scan_id="scan-2"))
    assert Envelope.wrap(other_scan).id != Envelope.wrap(ResourceFound(finding=finding())).id


def test_approval_event_id_is_the_decision() -> None:
    approval = ApprovalGranted(
        decision_id="d-1",
        key=finding().key,
        approver=Approver(id="1", name="ana", via="cli"),
        approved_at=datetime.now(UTC),
        finding=finding(),
        fingerprint=finding().fingerprint,
    )
    assert Envelope.wrap(approval).id == Envelope.wrap(approval.model_copy()).id


def test_fingerprint_changes_when_what_the_human_saw_changes() -> None:
    assert finding(size=100).fingerprint != finding(size=200).fingerprint
    assert finding(tags={"a": "1"}).fingerprint != finding(tags={"a": "2"}).fingerprint


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xfe", "not JSON"),
        ("[1, 2]", "JSON list, not an object"),
        (json.dumps({"type": "ScanRequested"}), "unsupported schema None"),
        (json.dumps({"schema": "cloudthrift.event/2", "type": "ScanRequested"}), "unsupported schema"),
        (json.dumps({"schema": SCHEMA, "type": "Nope"}), "unknown event type 'Nope'"),
        (
            json.dumps(
                {
                    "schema": SCHEMA,
                    "type": "ScanRequested",
                    "id": "x",
                    "occurred_at": "2026-01-01T00:00:00Z",
                    "payload": {},
                }
            ),
            "invalid ScanRequested: id",
        ),
        (
            Envelope.wrap(ScanRequested()).to_json().replace('"payload":{', '"payload":{"surprise":1,'),
            "invalid ScanRequested: payload.surprise",
        ),
    ],
)
def test_bad_bodies_are_invalid_events_with_a_precise_reason(body: str | bytes, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        parse_event(body)


def test_occurred_at_must_carry_a_timezone() -> None:
    wire = json.loads(Envelope.wrap(ScanRequested()).to_json())
    wire["occurred_at"] = "2026-11-25T12:00:00"
    with pytest.raises(InvalidEvent, match="occurred_at"):
        parse_event(json.dumps(wire))
