"""Every wrong input an operator tried gets one line naming the cause and the fix, and a non-zero exit.

The commands run in-process through typer's CliRunner (no terminal: what a script or a pipe sees)
against the session's moto server, with the environment each case names. Issue 13 lists the inputs.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from botocore.exceptions import ClientError
from typer.testing import CliRunner, Result

from services.cli import app
from services.cli_support import CLI_CONNECT_TIMEOUT, CLI_MAX_ATTEMPTS, interactive_settings
from shared.aws import AwsClients, aio_config
from shared.aws_errors import explain
from shared.bootstrap import bootstrap
from shared.config import Settings, load_settings
from shared.errors import SettingsError
from shared.regions import region_problem


@pytest.fixture(autouse=True)
def _logging_back_to_the_real_stderr() -> Iterator[None]:
    """`cloudthrift` points structlog at CliRunner's stderr, which is closed after each invoke."""
    yield
    structlog.reset_defaults()


def invoke(*args: str, **env: str | None) -> Result:
    return CliRunner().invoke(app, list(args), env={"CLOUDTHRIFT_LOG_FORMAT": "json", **env})


def one_line(result: Result) -> str:
    """The command's complaint: exactly one `cloudthrift: ...` line and no traceback."""
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("cloudthrift: ")]
    assert len(lines) == 1, result.output
    return lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bootstrapped(settings: Settings) -> None:
    async def go() -> None:
        async with AwsClients(settings) as aws:
            await bootstrap(settings, aws)

    asyncio.run(go())


def scan_messages(settings: Settings) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        async with AwsClients(settings) as aws:
            sqs = await aws.client("sqs")
            url = (await sqs.get_queue_url(QueueName=settings.queue_name("scan")))["QueueUrl"]
            answer = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            return [json.loads(m["Body"]) for m in answer.get("Messages", [])]

    return asyncio.run(go())


# --- settings refused at start-up (exit 2, nothing attempted) ----------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("AWS_ENDPOINT_URL", "not-a-url", "AWS_ENDPOINT_URL: must be an http(s) URL"),
        ("AWS_ENDPOINT_URL", "ftp://127.0.0.1:21", "AWS_ENDPOINT_URL: must be an http(s) URL"),
        ("AWS_REGION", "mars-1", "AWS_REGION: 'mars-1' is not an AWS region name"),
        ("AWS_REGION", "us east 1", "AWS_REGION: 'us east 1' is not an AWS region name"),
        ("AWS_REGION", "eu-west-9", "'eu-west-9' is not a region botocore knows in partition aws"),
        ("CLOUDTHRIFT_REGIONS", "eu-west-1,mars-1", "CLOUDTHRIFT_REGIONS: 'mars-1' is not an AWS region"),
        ("DISCORD_APPROVER_IDS", "alice", "DISCORD_APPROVER_IDS: 'alice' is not a Discord id"),
        ("DISCORD_CHANNEL_ID", "#general", "DISCORD_CHANNEL_ID: '#general' is not a Discord id"),
    ],
)
def test_bad_settings_stop_every_command_with_one_line(variable: str, value: str, says: str) -> None:
    for command in (["pending"], ["scan"], ["worker", "scanner"]):
        result = invoke(*command, **{variable: value})
        assert result.exit_code == 2, result.output
        assert says in one_line(result)


def test_settings_accept_real_regions_and_snowflakes() -> None:
    loaded = load_settings(
        env_file=None,
        aws_region="us-gov-west-1",
        cloudthrift_regions="eu-west-1, cn-north-1",
        discord_approver_ids="1200000000000000001,80351110224678912",
        aws_endpoint_url=" ",
    )
    assert loaded.cloudthrift_regions == ["eu-west-1", "cn-north-1"] and loaded.aws_endpoint_url is None
    assert region_problem("eusc-de-east-1") is None
    with pytest.raises(SettingsError, match="18446744073709551616"):
        load_settings(env_file=None, discord_approver_ids=str(2**64))


# --- AWS and the network (exit 1) ----------------------------------------------------------------


def test_an_endpoint_that_refuses_connections_is_one_line(moto_endpoint: str) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    result = invoke("pending", AWS_ENDPOINT_URL=endpoint)
    assert result.exit_code == 1
    line = one_line(result)
    assert f"cannot reach {endpoint}" in line and "refused" in line and "aws-emulator" in line


def test_an_endpoint_that_never_accepts_times_out_within_the_cli_budget() -> None:
    """A listener whose backlog is full: the kernel drops further SYNs, as a firewalled host does."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(filler)
        try:
            result = invoke("pending", AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}")
        finally:
            for filler in fillers:
                filler.close()
    assert result.exit_code == 1
    assert "the connection timed out" in one_line(result)


def test_the_cli_has_a_short_aws_budget_and_workers_keep_theirs(make_settings: Any) -> None:
    """3 tries of at most 2 s to connect: about 8 s in all with botocore's backoff, instead of 40."""
    worker = make_settings(cloudthrift_aws_max_attempts=8, cloudthrift_aws_retry_mode="adaptive")
    cli = interactive_settings(worker)
    config = aio_config(cli)
    assert config.connect_timeout == CLI_CONNECT_TIMEOUT == 2
    assert config.retries == {"mode": "standard", "max_attempts": CLI_MAX_ATTEMPTS}  # retries: 3 tries
    assert aio_config(worker).retries == {"mode": "adaptive", "max_attempts": 8}
    assert aio_config(worker).connect_timeout == 5
    # Never longer than configured.
    assert (
        interactive_settings(make_settings(cloudthrift_aws_max_attempts=1)).cloudthrift_aws_max_attempts == 1
    )


def test_missing_credentials_are_one_line(tmp_path: Any) -> None:
    result = invoke(
        "pending",
        AWS_ACCESS_KEY_ID=None,
        AWS_SECRET_ACCESS_KEY=None,
        AWS_SESSION_TOKEN=None,
        AWS_PROFILE=None,
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    assert result.exit_code == 1
    assert "no AWS credentials found: set AWS_ACCESS_KEY_ID" in one_line(result)


@pytest.mark.parametrize(
    "command",
    [["pending"], ["approve", "0123abcd"], ["scan"], ["worker", "scanner"], ["findings"], ["savings"]],
)
def test_commands_before_bootstrap_or_with_a_wrong_prefix_say_run_bootstrap(
    command: list[str], settings: Settings
) -> None:
    bootstrapped(settings)  # the default prefix exists: the operator's typo does not
    result = invoke(*command, CLOUDTHRIFT_PREFIX="cloudthrfit")
    assert result.exit_code == 1
    line = one_line(result)
    assert "prefix 'cloudthrfit' do not exist" in line and "run `cloudthrift bootstrap`" in line


# --- scan requests are checked before they are queued ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--role-arn", "not-an-arn"], "--role-arn 'not-an-arn' is not an IAM role ARN"),
        (
            ["-k", "quantum-disk"],
            "--kind 'quantum-disk' is not a resource kind (known: ami, classic-load-balancer, ebs-snapshot,",
        ),
        (["-r", "mars-1"], "--region 'mars-1' is not an AWS region name"),
        (["-r", "us-east-7"], "--region 'us-east-7' is not a region botocore knows"),
    ],
)
def test_scan_refuses_what_the_scanner_would_dead_letter(
    args: list[str], says: str, settings: Settings
) -> None:
    bootstrapped(settings)
    result = invoke("scan", *args)
    assert result.exit_code == 2
    assert says in one_line(result)
    assert scan_messages(settings) == []


def test_scan_refuses_bad_kinds_configured_in_its_environment(settings: Settings) -> None:
    bootstrapped(settings)
    result = invoke("scan", CLOUDTHRIFT_KINDS="ebs-volume,quantum-disk")
    assert result.exit_code == 2
    assert "CLOUDTHRIFT_KINDS 'quantum-disk' is not a resource kind" in one_line(result)


def test_scan_sends_what_its_environment_configures_and_says_when_the_scanner_decides(
    settings: Settings,
) -> None:
    bootstrapped(settings)
    configured = invoke("scan", CLOUDTHRIFT_REGIONS="eu-west-1,us-west-2", CLOUDTHRIFT_KINDS="elastic-ip")
    assert configured.exit_code == 0, configured.output
    assert "regions eu-west-1, us-west-2; kinds elastic-ip" in configured.output
    defaults = invoke("scan")
    assert defaults.exit_code == 0, defaults.output
    assert "regions: the scanner's own CLOUDTHRIFT_REGIONS (or every enabled region)" in defaults.output
    assert "kinds: the scanner's own CLOUDTHRIFT_KINDS (or every kind it knows)" in defaults.output
    first, second = sorted(scan_messages(settings), key=lambda body: not body["payload"]["regions"])
    assert first["payload"]["regions"] == ["eu-west-1", "us-west-2"]
    assert first["payload"]["kinds"] == ["elastic-ip"]
    assert second["payload"]["regions"] == [] and second["payload"]["kinds"] == []


# --- the wording, for failures moto cannot produce --------------------------------------------------


def _client_error(code: str, operation: str = "GetQueueUrl", message: str = "denied") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("InvalidClientTokenId", "AWS refused the credentials (InvalidClientTokenId)"),
        ("ExpiredToken", "refresh the session"),
        ("AccessDenied", "AWS denied GetQueueUrl (AccessDenied: denied): grant it"),
        ("UnauthorizedOperation", "`cloudthrift doctor` lists what is missing"),
        ("ThrottlingException", "AWS throttled GetQueueUrl after every retry"),
        ("404", "answered GetQueueUrl with HTTP 404 and no AWS error"),
        ("SomethingNew", "AWS GetQueueUrl failed (SomethingNew: denied)"),
    ],
)
def test_aws_refusals_are_worded_with_their_fix(code: str, says: str, settings: Settings) -> None:
    line = explain(_client_error(code), settings)
    assert line is not None and says in line


def test_an_unknown_exception_is_not_explained_away() -> None:
    """A bug keeps its traceback: only operating conditions get a sentence."""
    assert explain(KeyError("pk")) is None and explain(ValueError("x")) is None
