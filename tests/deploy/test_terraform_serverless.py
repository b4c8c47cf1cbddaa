"""The serverless module (terraform/modules/cloudthrift-serverless), read as python-hcl2 parses it and
compared with the code it deploys: the handlers exist, every worker is fed by its own queue with
partial batch failures, the function URL is the interactions function's, nothing needs a VPC, and the
stages' IAM policies are the ECS module's own files."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from services.serverless.worker import STAGE_VARIABLE
from services.workers import available_workers
from tests.deploy.terraform_model import MODULE, TERRAFORM, ModuleConfig, load_module

SERVERLESS = TERRAFORM / "modules" / "cloudthrift-serverless"
SHARED_FILES = (
    "iam_common.tf",
    "iam_scanner.tf",
    "iam_executor.tf",
    "iam_stages.tf",
    "sqs.tf",
    "dynamodb.tf",
    "kms.tf",
)


@pytest.fixture(scope="module")
def serverless() -> ModuleConfig:
    return load_module(SERVERLESS)


def test_every_handler_is_a_function_of_the_package(serverless: ModuleConfig) -> None:
    functions = serverless.locals["functions"]
    assert set(functions) == set(available_workers()) | {"interactions", "sweeps"}
    for name, function in functions.items():
        module, _, attribute = function["handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), attribute)), name


def test_each_worker_is_fed_by_its_own_queue_and_reports_partial_failures(serverless: ModuleConfig) -> None:
    assert serverless.locals["worker_queues"] == load_module(MODULE).locals["worker_queues"]
    for name, spec in available_workers().items():
        assert serverless.locals["worker_queues"][name] == {"input": spec.input, "output": spec.output}
    mappings = serverless.resource("aws_lambda_event_source_mapping")
    worker = mappings["worker"]
    assert worker["for_each"] == "${local.worker_queues}"
    assert worker["event_source_arn"] == "${aws_sqs_queue.queue[each.value.input].arn}"
    assert worker["function_name"] == "${aws_lambda_function.this[each.key].arn}"
    clicks = mappings["clicks"]
    assert clicks["function_name"] == '${aws_lambda_function.this["interactions"].arn}'
    for mapping in mappings.values():
        assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    # The worker entry learns its stage from the environment the module sets.
    variables = serverless.resource("aws_lambda_function")["this"]["environment"][0]["variables"]
    assert f"{STAGE_VARIABLE} = contains(keys(local.worker_queues), each.key)" in variables


def test_a_worker_never_outlives_its_messages_visibility(serverless: ModuleConfig) -> None:
    assert serverless.locals["worker_timeout"] == "${min(var.visibility_timeout, 900)}"
    for name in available_workers():
        assert serverless.locals["functions"][name]["timeout"] == "${local.worker_timeout}"


def test_the_interactions_function_url_is_unauthenticated_by_iam_only(serverless: ModuleConfig) -> None:
    [url] = serverless.resource("aws_lambda_function_url").values()
    assert url["authorization_type"] == "NONE"  # the Ed25519 signature authenticates every request
    assert "interactions" in url["function_name"]
    assert (
        serverless.locals["functions"]["interactions"]["handler"]
        == "services.serverless.interactions.handler"
    )


def test_nothing_needs_a_vpc_a_nat_gateway_or_a_load_balancer(serverless: ModuleConfig) -> None:
    function = serverless.resource("aws_lambda_function")["this"]
    assert "vpc_config" not in function
    for kind in (
        "aws_lb",
        "aws_nat_gateway",
        "aws_ecs_service",
        "aws_wafv2_web_acl",
        "aws_secretsmanager_secret",
    ):
        assert serverless.resource(kind) == {}, kind


def test_the_stage_policies_are_the_ecs_modules_own_files() -> None:
    for name in SHARED_FILES:
        path = SERVERLESS / name
        assert path.is_symlink() and path.resolve() == (MODULE / name).resolve(), name


def test_roles_trust_lambda_here_and_ecs_there(serverless: ModuleConfig) -> None:
    def principals(config: ModuleConfig) -> str:
        return str(config.policy_docs()["stage_assume"])

    assert "lambda.amazonaws.com" in principals(serverless)
    assert "ecs-tasks.amazonaws.com" in principals(load_module(MODULE))


def test_settings_given_to_the_functions_exist(serverless: ModuleConfig, defaults) -> None:
    names = set(re.findall(r"\b([A-Z][A-Z0-9_]+)\s*=", serverless.locals["environment"]))
    names |= set(serverless.locals["optional_environment"])
    ours = {n for n in names if n.startswith(("CLOUDTHRIFT_", "DISCORD_", "GEMINI_"))}
    assert {"CLOUDTHRIFT_CLICKS_QUEUE_URL", "CLOUDTHRIFT_PREFIX"} <= ours
    unknown = {n for n in ours if n.lower() not in type(defaults).model_fields}
    assert not unknown, f"not settings of shared/config.py: {sorted(unknown)}"
    # The Datadog Lambda extension's conventions: its key from SSM, unified service tagging.
    assert {"DD_ENV", "DD_VERSION", "DD_SITE", "DD_API_KEY_SSM_NAME"} <= names


def test_alarms_stay_within_cloudwatchs_free_ten(serverless: ModuleConfig) -> None:
    alarms = serverless.resource("aws_cloudwatch_metric_alarm")
    dead_letters = len(serverless.locals["queue_names"]) + 1  # and the clicks queue's
    assert set(alarms) == {"dead_letters", "function_errors"}
    assert dead_letters + 2 <= 10


def test_the_customer_managed_key_is_opt_in_and_nothing_needs_it_when_off(serverless: ModuleConfig) -> None:
    """Idle cost: the key is $1 of a month's $3 budget (docs/DEPLOY.md). Off by default; then every
    resource encrypts under its service's own key and no policy names a key that does not exist."""
    assert serverless.variables["customer_managed_key"]["default"] is False
    assert serverless.locals["customer_managed_key"] == "${var.customer_managed_key}"
    assert serverless.locals["kms_key_arn"] == "${one(aws_kms_key.this[*].arn)}"
    for kind in ("aws_kms_key", "aws_kms_alias"):
        for resource in serverless.resource(kind).values():
            assert resource["count"] == "${local.customer_managed_key ? 1 : 0}", kind
    files = [path for path in SERVERLESS.glob("*.tf") if path.name != "kms.tf"]
    for path in files:  # the key only through local.kms_key_arn, which is null without it
        assert "aws_kms_key.this" not in path.read_text(), path.name
    uses = "".join(path.read_text() for path in files)
    assert uses.count("local.kms_key_arn") >= 6  # ledger, logs, environment, parameters, 2 schedules
    for name in ("lambda_runtime", "scheduler"):  # decrypt grants exist only with the key
        document = serverless.policy_docs()[name]
        assert "kms:" not in str(document.get("statement", [])), name
        [decrypt] = [d["statement"] for d in document["dynamic"] if "kms:Decrypt" in str(d)]
        assert decrypt["for_each"] == "${local.customer_managed_key ? [1] : []}", name


def test_no_queue_needs_a_customer_managed_key(serverless: ModuleConfig) -> None:
    for name, queue in serverless.resource("aws_sqs_queue").items():
        assert queue["sqs_managed_sse_enabled"] is True and "kms_master_key_id" not in queue, name


@pytest.fixture(scope="module")
def defaults():
    from shared.config import load_settings

    return load_settings(env_file=None)


def test_the_module_is_in_the_tree_the_other_tests_walk() -> None:
    assert SERVERLESS in {Path(p).parent for p in TERRAFORM.rglob("*.tf")}
