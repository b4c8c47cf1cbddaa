"""The Terraform tree: formatted, parseable, and true to the issue's invariants and to the code it deploys.

No provider can be downloaded here, so nothing is planned: these checks read the HCL (python-hcl2) and
compare it with the Python side (queue names, ledger schema, the event contract). The permissions the
registered kinds, checks and remedies declare are checked against it in tests/kinds/test_registry.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from shared.config import QUEUE_NAMES, load_settings
from shared.ledger import STATE_INDEX
from tests.deploy.terraform_model import (
    MODULE,
    TERRAFORM,
    ModuleConfig,
    destructive_grants,
    is_destructive,
    load_module,
    parse,
    tf_files,
    unanalysable_iam,
)


def module_dirs() -> list[Path]:
    return sorted({path.parent for path in tf_files()})


@pytest.fixture(scope="module")
def module() -> ModuleConfig:
    return load_module(MODULE)


@pytest.fixture(scope="module")
def defaults():
    return load_settings(env_file=None)


def actions_of(module: ModuleConfig, doc: str) -> set[str]:
    return {action for s in module.statements(doc) if s.effect == "Allow" for action in s.actions}


# --- formatting and parsing ----------------------------------------------------------------------


def test_terraform_fmt_check_passes() -> None:
    terraform = shutil.which("terraform")
    assert terraform, "terraform must be on PATH (the machine image ships it)"
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("path", tf_files(), ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_tf_file_parses(path: Path) -> None:
    assert parse(path), f"{path} parsed to nothing"


def test_the_module_and_both_examples_exist() -> None:
    dirs = {str(d.relative_to(TERRAFORM)) for d in module_dirs()}
    assert {"modules/cloudthrift", "examples/complete", "examples/idle-fixtures"} <= dirs
    complete = load_module(TERRAFORM / "examples" / "complete")
    assert "../../modules/cloudthrift" in json.dumps(parse(TERRAFORM / "examples/complete/main.tf"))
    assert complete.resources, "the complete example declares its certificate and DNS record"


# --- queues --------------------------------------------------------------------------------------


def test_every_queue_in_the_tree_has_a_dead_letter_queue() -> None:
    for directory in module_dirs():
        queues = load_module(directory).resource("aws_sqs_queue")
        targets = {
            match
            for body in queues.values()
            for match in re.findall(r"aws_sqs_queue\.(\w+)", str(body.get("redrive_policy", "")))
        }
        for name, body in queues.items():
            assert "redrive_policy" in body or name in targets, f"{directory}: queue {name} has no DLQ"
            if "redrive_policy" in body:
                assert "maxReceiveCount" in str(body["redrive_policy"]), f"{name}: redrive needs a bound"


def test_queues_and_dlqs_are_the_ones_the_code_uses(module: ModuleConfig, defaults) -> None:
    assert module.locals["queue_names"] == list(QUEUE_NAMES)
    queue = module.resource("aws_sqs_queue")["queue"]
    dlq = module.resource("aws_sqs_queue")["dlq"]
    assert queue["for_each"] == dlq["for_each"] == "${toset(local.queue_names)}"
    for name in QUEUE_NAMES:
        rendered = queue["name"].replace("${var.prefix}", defaults.cloudthrift_prefix)
        assert rendered.replace("${each.key}", name) == defaults.queue_name(name)
        rendered = dlq["name"].replace("${var.prefix}", defaults.cloudthrift_prefix)
        assert rendered.replace("${each.key}", name) == defaults.dlq_name(name)
    redrive = queue["redrive_policy"]
    assert "aws_sqs_queue.dlq[each.key].arn" in redrive
    # Workers dead-letter with a reason on their last receive; the redrive policy is one receive later.
    assert "var.max_receives + 1" in redrive
    assert module.locals["environment"].count("CLOUDTHRIFT_MAX_RECEIVES") == 1
    assert "tostring(var.max_receives)" in module.locals["environment"]


def test_module_defaults_match_the_settings_defaults(module: ModuleConfig, defaults) -> None:
    pairs = {
        "prefix": defaults.cloudthrift_prefix,
        "visibility_timeout": defaults.cloudthrift_visibility_timeout,
        "max_receives": defaults.cloudthrift_max_receives,
        "min_age_days": defaults.cloudthrift_min_age_days,
        "min_idle_days": defaults.cloudthrift_min_idle_days,
        "dry_run": defaults.cloudthrift_dry_run,
    }
    for variable, expected in pairs.items():
        assert module.variables[variable]["default"] == expected, variable
    # Knobs without infrastructure of their own default to null: the application's default applies.
    for variable in ("gemini_model", "discord_public_key", "discord_channel_id"):
        assert module.variables[variable]["default"] is None, variable
    assert "if value != null" in module.locals["environment"]


def test_every_setting_passed_to_the_containers_exists(module: ModuleConfig, defaults) -> None:
    names = set(re.findall(r"\b([A-Z][A-Z0-9_]+)\s*=", module.locals["environment"]))
    names |= set(module.locals["optional_environment"])
    names |= {secret for service in module.locals["services"].values() for secret in service["secrets"]}
    ours = {n for n in names if n.startswith(("CLOUDTHRIFT_", "DISCORD_", "GEMINI_"))}
    assert ours, "the containers get CloudThrift settings"
    unknown = {n for n in ours if n.lower() not in type(defaults).model_fields}
    assert not unknown, f"not settings of shared/config.py: {sorted(unknown)}"


def test_workers_read_and_write_the_queues_of_their_specs(module: ModuleConfig) -> None:
    from services.workers import available_workers

    specs = available_workers()
    assert "scanner" in specs
    for name, spec in specs.items():
        wiring = module.locals["worker_queues"][name]
        assert (wiring["input"], wiring["output"]) == (spec.input, spec.output), name


# --- ledger --------------------------------------------------------------------------------------


def test_ledger_is_on_demand_with_pitr_and_encryption(module: ModuleConfig, defaults) -> None:
    (table,) = module.resource("aws_dynamodb_table").values()
    assert table["name"].replace("${var.prefix}", defaults.cloudthrift_prefix) == defaults.table_name
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["point_in_time_recovery"][0]["enabled"] is True
    assert table["server_side_encryption"][0]["enabled"] is True
    assert "aws_kms_key" in table["server_side_encryption"][0]["kms_key_arn"]
    assert table["hash_key"] == "pk"
    (index,) = table["global_secondary_index"]
    assert (index["name"], index["hash_key"], index["range_key"]) == (STATE_INDEX, "state", "updated_at")
    assert {a["name"] for a in table["attribute"]} == {"pk", "state", "updated_at"}


def test_every_table_in_the_tree_is_on_demand_with_pitr_and_encryption() -> None:
    for directory in module_dirs():
        for name, table in load_module(directory).resource("aws_dynamodb_table").items():
            assert table.get("billing_mode") == "PAY_PER_REQUEST", name
            assert table["point_in_time_recovery"][0]["enabled"] is True, name
            assert table["server_side_encryption"][0]["enabled"] is True, name


# --- IAM -----------------------------------------------------------------------------------------


def test_permissions_are_granted_only_through_policy_documents() -> None:
    for directory in module_dirs():
        assert unanalysable_iam(load_module(directory)) == [], directory


def test_only_the_executor_can_change_the_estate_and_never_on_star() -> None:
    for directory in module_dirs():
        # In a member account the clean-up role is the executor's hands (terraform/modules/member-roles).
        allowed = "cleanup" if directory.name == "member-roles" else "executor"
        assert destructive_grants(load_module(directory), allowed_role=allowed) == [], directory


def test_the_executor_has_what_its_actions_need(module: ModuleConfig) -> None:
    assert module.role_policies()["executor"] == {"executor"}
    needed = {
        "ec2:CreateSnapshot",
        "ec2:CreateTags",
        "ec2:DescribeSnapshots",
        "ec2:DeleteVolume",
        "ec2:ReleaseAddress",
        "ec2:DescribeVolumes",
        "ec2:DescribeAddresses",
    }
    assert needed <= actions_of(module, "executor")
    tagging = [s for s in module.statements("executor") if "ec2:CreateTags" in s.actions]
    # What the executor creates: a snapshot, an image, an instance, or what an undo creates (issue 14).
    # Never tags on something that already exists.
    creating = {
        "CreateSnapshot",
        "CreateImage",
        "RunInstances",
        "CreateVolume",
        "AllocateAddress",
        "CreateNatGateway",
    }
    assert tagging and all(
        any(c["variable"] == "ec2:CreateAction" and set(c["values"]) <= creating for c in s.conditions)
        for s in tagging
    ), "CreateTags only while creating"
    assert any("CreateSnapshot" in c.get("values", []) for s in tagging for c in s.conditions)


def test_the_executor_may_send_lost_approvals_again_to_its_own_queue_only(module: ModuleConfig) -> None:
    [sweep] = [s for s in module.statements("executor") if s.sid == "RepublishLostApprovals"]
    assert sweep.actions == ("sqs:SendMessage",)
    assert str(sweep.resources) == str(['${aws_sqs_queue.queue["execute"].arn}']), sweep.resources


def test_the_executor_may_assume_exactly_the_member_cleanup_roles_and_none_without_them(
    module: ModuleConfig,
) -> None:
    """Cross-account clean-ups go through the member accounts' clean-up roles, never their scan roles."""
    sts = [s for s in module.statements("executor") if any(a.startswith("sts:") for a in s.actions)]
    assert [(s.sid, s.actions, s.resources, s.conditions) for s in sts] == [
        ("ActInOtherAccounts", ("sts:AssumeRole",), "${local.cleanup_assume_arns}", ())
    ]
    cleanup = module.locals["cleanup_assume_arns"]
    assert "role/${var.member_cleanup_role_name}" in cleanup and "scan_role_name" not in cleanup
    assert "var.member_scan_role_name" in module.locals["scan_assume_arns"]
    conditional = {
        block["statement"]["content"][0]["sid"]: block["statement"]["for_each"]
        for doc in ("executor", "scanner")
        for block in module.policy_docs()[doc].get("dynamic", [])
        if "statement" in block
    }
    # No statement at all when there are no roles (an empty resource list is an invalid policy).
    assert conditional["ActInOtherAccounts"] == "${length(local.cleanup_assume_arns) > 0 ? [1] : []}"
    assert conditional["ScanOtherAccounts"] == "${length(local.scan_assume_arns) > 0 ? [1] : []}"
    [scanner] = [s for s in module.statements("scanner") if "sts:AssumeRole" in s.actions]
    assert scanner.resources == "${local.scan_assume_arns}"


def test_destructive_arns_are_built_per_configured_region(module: ModuleConfig) -> None:
    for name in ("volume_arns", "snapshot_arns", "address_arns"):
        expression = module.locals[name]
        assert "for r in var.regions" in expression and "${r}" in expression, name
    assert ":volume/*" in module.locals["volume_arns"]
    assert ":elastic-ip/*" in module.locals["address_arns"]
    assert "regions" in module.variables and "validation" in module.variables["regions"]


def test_the_scanner_role_only_describes(module: ModuleConfig) -> None:
    assert module.role_policies()["scanner"] == {"scanner"}
    actions = actions_of(module, "scanner")
    ec2 = {a for a in actions if a.startswith("ec2:")}
    assert ec2 and all(a.startswith("ec2:Describe") for a in ec2), sorted(ec2)
    services = {a.split(":", 1)[0] for a in actions}
    # The estate's services (reads only: no stage but the executor may change them), metrics, plumbing.
    # ... and the organization's account list, for an organization scan.
    assert services <= {
        "ec2",
        "elasticloadbalancing",
        "rds",
        "autoscaling",
        "organizations",
        "cloudwatch",
        "rbin",
        "sqs",
        "dynamodb",
        "sts",
    }
    assert {a for a in actions if a.startswith("autoscaling:")} <= {
        "autoscaling:DescribeLaunchConfigurations"
    }
    assert {a for a in actions if a.startswith("organizations:")} <= {
        "organizations:ListAccounts",
        "organizations:ListAccountsForParent",
        "organizations:ListChildren",
    }
    assert {a for a in actions if a.startswith("cloudwatch:")} <= {"cloudwatch:GetMetricData"}
    assert {a for a in actions if a.startswith("sts:")} <= {"sts:AssumeRole"}
    assert {a for a in actions if a.startswith("rbin:")} <= {"rbin:ListRules", "rbin:GetRule"}


def test_no_stage_but_the_executor_may_touch_ec2_beyond_describe(module: ModuleConfig) -> None:
    for role in ("scanner", "analyzer", "notifier", "interactions", "scheduler"):
        assert not {a for a in actions_of(module, role) if is_destructive(a)}, role


def test_execution_roles_read_only_their_own_secrets(module: ModuleConfig) -> None:
    services = module.locals["services"]
    assert services["scanner"]["secrets"] == [] and services["executor"]["secrets"] == []
    assert services["analyzer"]["secrets"] == ["GEMINI_API_KEY"]
    statement = next(s for s in module.statements("execution") if s.sid == "ReadOwnSecrets")
    assert "local.service_secrets[each.key]" in str(statement.resources)


def test_each_worker_scales_on_its_own_queue_depth(module: ModuleConfig) -> None:
    targets = module.resource("aws_appautoscaling_target")["worker"]
    assert targets["for_each"] == "${local.worker_queues}"
    assert set(module.locals["worker_queues"]) == {"scanner", "analyzer", "notifier", "executor"}
    backlog = module.resource("aws_cloudwatch_metric_alarm")["backlog"]
    assert backlog["metric_name"] == "ApproximateNumberOfMessagesVisible"
    assert "aws_sqs_queue.queue[each.value.input]" in str(backlog["dimensions"])
    assert "aws_appautoscaling_policy.scale_out[each.key]" in str(backlog["alarm_actions"])
    idle = module.resource("aws_cloudwatch_metric_alarm")["idle"]
    assert "aws_appautoscaling_policy.scale_in[each.key]" in str(idle["alarm_actions"])
    metrics = {q["metric"][0]["metric_name"] for q in idle["metric_query"] if "metric" in q}
    assert metrics == {"ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible"}
