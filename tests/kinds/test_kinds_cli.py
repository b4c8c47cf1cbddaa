"""`cloudthrift kinds`: what the registries hold, for people and (with --json) for scripts."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from services.cli import app


def test_kinds_lists_checks_remedies_undo_and_permissions_as_json() -> None:
    result = CliRunner().invoke(app, ["kinds", "--json"])
    assert result.exit_code == 0, result.output
    described = {entry["kind"]: entry for entry in json.loads(result.output)}
    assert set(described) == {
        "ami",
        "ebs-snapshot",
        "ebs-volume",
        "ec2-instance",
        "elastic-ip",
        "nat-gateway",
        "load-balancer",
        "classic-load-balancer",
        "rds-instance",
    }
    [traffic] = described["nat-gateway"]["checks"]
    assert "cloudwatch:GetMetricData" in traffic["permissions"]
    volume = described["ebs-volume"]
    checks = {check["name"]: check for check in volume["checks"]}
    assert set(checks) == {"unattached", "in-use-gp2"}
    unattached = checks["unattached"]
    assert checks["in-use-gp2"]["remedies"] == ["modify-to-gp3"]
    assert unattached["remedies"] == ["snapshot-then-delete", "archive-snapshot-then-delete", "delete"]
    assert unattached["permissions"] == ["ec2:DescribeVolumes"]
    remedies = {remedy["name"]: remedy for remedy in volume["remedies"]}
    assert remedies["snapshot-then-delete"]["undo"] == "create a volume from the kept snapshot"
    assert "ec2:CreateSnapshot" in remedies["snapshot-then-delete"]["permissions"]
    assert remedies["delete"]["undo"] is None
    assert "6 hours" in remedies["modify-to-gp3"]["undo"]
    [release] = described["elastic-ip"]["remedies"]
    assert release["undo"].startswith("allocate the same public IP again")
    assert {"ec2:ReleaseAddress", "ec2:AllocateAddress"} <= set(release["permissions"])
    assert "public_ip" not in described["elastic-ip"]["gemini_facts"]


def test_kinds_says_plainly_which_remedies_cannot_be_undone() -> None:
    result = CliRunner().invoke(app, ["kinds"])
    assert result.exit_code == 0, result.output
    assert "remedy delete: delete the snapshot (undo: none: it cannot be undone)" in result.output
    assert "check unattached:" in result.output and "executor needs:" in result.output
