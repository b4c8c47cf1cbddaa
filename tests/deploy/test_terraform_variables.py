"""The modules' input validations, evaluated by Terraform itself.

No provider can be downloaded here, so the modules cannot be planned; their variables.tf alone can: a
configuration of variable blocks needs no provider, and `terraform plan` on it runs every validation
block against the values given. Each bad value must be refused with its variable's own message, and
the values a real deployment passes must all be accepted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from shared.kinds import discover
from tests.deploy.terraform_model import MODULE, TERRAFORM, parse

DATADOG = TERRAFORM / "datadog"

ACCOUNT = "123456789012"
GOOD_MODULE: dict[str, Any] = {
    "regions": ["us-east-1", "eu-west-1", "us-gov-west-1", "ap-southeast-3"],
    "kinds": ["ebs-volume"],
    "vpc_id": "vpc-0123456789abcdef0",
    "private_subnet_ids": ["subnet-0123456789abcdef0", "subnet-89abcdef"],
    "public_subnet_ids": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"],
    "certificate_arn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/12345678-1234-1234-1234-123456789012",
    "scan_role_arns": [
        "arn:aws:iam::210987654321:role/cloudthrift-scan",
        "arn:aws-us-gov:iam::310987654321:role/path/cloudthrift-scan",
    ],
    "scan_schedule": "cron(0 7 * * ? *)",
    "scan_schedule_timezone": "Europe/Paris",
    "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/cloudthrift:0.1.0",
    "image_tag": "0.1.0-rc.1",
    "alb_access_logs_bucket": "my-alb-logs.example",
    "discord_application_id": "1187654321098765432",
    "discord_public_key": "a" * 64,
    "discord_channel_id": "1187654321098765433",
    "discord_approver_ids": ["187654321098765434"],
    "discord_approver_role_ids": ["1187654321098765435"],
    "extra_environment": {"CLOUDTHRIFT_MIN_AGE_DAYS": "0"},
    "workers": {
        "scanner": {"cpu": 256, "memory": 2048, "min": 0, "max": 2},
        "analyzer": {"cpu": 512, "memory": 4096, "min": 0, "max": 4},
        "notifier": {"cpu": 1024, "memory": 3072, "min": 0, "max": 1},
        "executor": {"cpu": 8192, "memory": 20480, "min": 1, "max": 2},
    },
    "datadog_site": "us5.datadoghq.com",
    "environment": "prod",
    "log_retention_days": 731,
    "secret_recovery_days": 0,
    "visibility_timeout": 43200,
    "max_receives": 999,
}
REQUIRED_ONLY = {
    name: GOOD_MODULE[name]
    for name in ("regions", "vpc_id", "private_subnet_ids", "public_subnet_ids", "certificate_arn")
}


def _worker(**change: int) -> dict[str, dict[str, int]]:
    workers = json.loads(json.dumps(GOOD_MODULE["workers"]))
    workers["scanner"].update(change)
    return workers


BAD_MODULE: list[tuple[str, Any]] = [
    ("regions", []),
    ("regions", ["us east 1"]),
    ("regions", ["mars-1"]),
    ("regions", ["us-east-1", "us-east-1"]),
    ("kinds", ["EBS Volume"]),
    ("vpc_id", "vpc-123"),
    ("vpc_id", "my-vpc"),
    ("private_subnet_ids", []),
    ("private_subnet_ids", ["subnet-xyz"]),
    ("public_subnet_ids", ["subnet-0123456789abcdef1"]),
    ("certificate_arn", f"arn:aws:iam::{ACCOUNT}:role/not-a-certificate"),
    ("certificate_arn", "not-an-arn"),
    ("scan_role_arns", ["not-an-arn"]),
    ("scan_role_arns", [f"arn:aws:iam::{ACCOUNT}:role/a", f"arn:aws:iam::{ACCOUNT}:role/b"]),
    ("external_id", "x"),
    ("organization_scan", {"exclude_accounts": ["12345"]}),
    ("organization_scan", {"include_ous": ["not-an-ou"]}),
    ("scan_schedule", "every day at 7"),
    ("scan_schedule_timezone", "Paris time"),
    ("image", "Not A/Reference"),
    ("image_tag", "bad tag"),
    ("alb_access_logs_bucket", "Bad_Bucket"),
    ("discord_application_id", "my-app"),
    ("discord_public_key", "abc123"),
    ("discord_channel_id", "#general"),
    ("discord_approver_ids", ["alice"]),
    ("discord_approver_role_ids", ["admins"]),
    ("extra_environment", {"lower-case": "x"}),
    ("workers", _worker(memory=4096)),
    ("workers", _worker(cpu=300)),
    ("workers", _worker(min=3, max=1)),
    ("workers", {k: v for k, v in GOOD_MODULE["workers"].items() if k != "executor"}),
    ("datadog_site", "example.com"),
    ("environment", "Prod!"),
    ("log_retention_days", 10),
    ("secret_recovery_days", 3),
    ("visibility_timeout", 0),
    ("max_receives", 1000),
    ("min_age_days", -1),
    ("min_idle_days", 1.5),
    ("interactions_port", 80),
    ("interactions_count", 0),
]

GOOD_DATADOG: dict[str, Any] = {
    "env": "prod",
    "notify": ["@slack-finops", "@ops@example.com"],
    "pending_approval_warning_hours": 24,
    "pending_approval_critical_hours": 48,
    "scan_max_silence_hours": 74,
}
BAD_DATADOG: list[tuple[str, Any]] = [
    ("notify", ["slack-finops"]),
    ("pending_approval_warning_hours", 0),
    ("pending_approval_critical_hours", -1),
    ("scan_max_silence_hours", 0.5),
]


class Variables:
    """A directory holding one module's variables.tf alone, initialised, to plan with chosen values."""

    def __init__(self, source: Path, work: Path) -> None:
        terraform = shutil.which("terraform")
        assert terraform, "terraform must be on PATH (the machine image ships it)"
        self.terraform = terraform
        parsed = parse(source / "variables.tf")
        assert set(parsed) == {"variable"}, f"{source}/variables.tf holds more than variables"
        self.names = {name for block in parsed["variable"] for name in block}
        self.work = work
        shutil.copy(source / "variables.tf", work / "variables.tf")
        (work / "cli.tfrc").write_text("")
        self.env = {
            **os.environ,
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_CLI_CONFIG_FILE": str(work / "cli.tfrc"),
            "TF_DATA_DIR": str(work / ".terraform"),
        }
        init = self._terraform("init", "-input=false", "-backend=false")
        assert init.returncode == 0, init.stdout + init.stderr

    def _terraform(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.terraform, *args, "-no-color"],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def plan(self, values: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        unknown = set(values) - self.names
        assert not unknown, f"not variables of the module: {sorted(unknown)}"
        (self.work / "case.tfvars.json").write_text(json.dumps(values))
        return self._terraform("plan", "-input=false", "-lock=false", "-var-file=case.tfvars.json")


@pytest.fixture(scope="module")
def module_variables(tmp_path_factory: pytest.TempPathFactory) -> Variables:
    return Variables(MODULE, tmp_path_factory.mktemp("module-variables"))


@pytest.fixture(scope="module")
def datadog_variables(tmp_path_factory: pytest.TempPathFactory) -> Variables:
    return Variables(DATADOG, tmp_path_factory.mktemp("datadog-variables"))


def _refusal(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


@pytest.mark.parametrize("values", [GOOD_MODULE, REQUIRED_ONLY], ids=["every-input", "defaults"])
def test_a_real_deployments_values_are_accepted(module_variables: Variables, values: dict[str, Any]) -> None:
    result = module_variables.plan(values)
    assert result.returncode == 0, _refusal(result)


@pytest.mark.parametrize(
    ("name", "value"), BAD_MODULE, ids=[f"{name}={json.dumps(value)[:40]}" for name, value in BAD_MODULE]
)
def test_a_bad_module_input_is_refused_with_its_own_message(
    module_variables: Variables, name: str, value: Any
) -> None:
    result = module_variables.plan({**GOOD_MODULE, name: value})
    assert result.returncode != 0, f"{name}={value!r} was accepted"
    output = _refusal(result)
    assert "Invalid value for variable" in output, output
    assert f"{name}:" in output, output


@pytest.mark.parametrize(("name", "value"), BAD_DATADOG, ids=[name for name, _ in BAD_DATADOG])
def test_a_bad_monitor_setting_is_refused_with_its_own_message(
    datadog_variables: Variables, name: str, value: Any
) -> None:
    assert datadog_variables.plan(GOOD_DATADOG).returncode == 0
    result = datadog_variables.plan({**GOOD_DATADOG, name: value})
    assert result.returncode != 0, f"{name}={value!r} was accepted"
    assert f"{name}:" in _refusal(result), _refusal(result)


def test_every_id_arn_and_size_input_is_validated() -> None:
    variables = {
        name: body for block in parse(MODULE / "variables.tf")["variable"] for name, body in block.items()
    }
    sizes = {"workers", "visibility_timeout", "max_receives", "log_retention_days", "interactions_count"}
    identifiers = {name for name in variables if re.search(r"_(ids?|arns?|key|bucket)$", name)}
    assert {"vpc_id", "certificate_arn", "scan_role_arns", "discord_approver_ids"} <= identifiers
    unvalidated = sorted(name for name in identifiers | sizes if "validation" not in variables[name])
    assert not unvalidated, f"add a validation block to: {unvalidated}"
    covered = {name for name, _ in BAD_MODULE}
    assert identifiers | sizes <= covered, (
        f"no refused value tried for {sorted(identifiers | sizes - covered)}"
    )


def test_the_kinds_the_module_accepts_are_shaped_like_every_registered_kind() -> None:
    """The module checks a kind's shape at plan time; which kinds exist is the scanner's to say (it
    refuses to start with one it does not know), so adding a kind changes nothing in Terraform."""
    kinds = next(block["kinds"] for block in parse(MODULE / "variables.tf")["variable"] if "kinds" in block)
    (condition,) = [v["condition"] for v in kinds["validation"]]
    pattern = re.search(r'regex\("([^"]+)"', condition)
    assert pattern, condition
    assert all(re.fullmatch(pattern.group(1), name) for name in discover().names())
    assert not re.fullmatch(pattern.group(1), "EBS Volume")
