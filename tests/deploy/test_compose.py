"""docker-compose.yml: every container runs a command the CLI has, in the right order, with valid settings.

Docker cannot run here, so the file is read (PyYAML) and its commands are asked of the real typer app;
then the containers' environment is used for real: the bootstrap, a worker and the interactions
endpoint run as processes against the moto server, the way compose would start them.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from typer.testing import CliRunner

from services.cli import app
from shared.config import Settings
from shared.events import Envelope, ScanRequested
from tests.deploy.terraform_model import MODULE, ROOT, load_module
from tests.deploy.test_dockerfile import requirements as dockerfile_requirements

COMPOSE = ROOT / "docker-compose.yml"
APP_SERVICES = ("bootstrap", "scanner", "analyzer", "notifier", "executor", "interactions")
CLOUDTHRIFT = Path(sys.executable).with_name("cloudthrift")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def resolved(value: str) -> str:
    """Compose interpolation with nothing set in the environment: `${NAME:-default}` → default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))


def environment(service: dict[str, Any]) -> dict[str, str]:
    return {name: resolved(value) for name, value in (service.get("environment") or {}).items()}


def cli_problem(command: list[str]) -> str | None:
    """Why the CLI would refuse `command` (None if it accepts it); `--help` keeps anything from running."""
    result = CliRunner().invoke(app, [*command, "--help"])
    if result.exit_code != 0 or "Usage" not in result.output:
        return f"`cloudthrift {' '.join(command)}` exits {result.exit_code}: {result.output[-400:]}"
    if command[0] == "worker":
        from services.workers import available_workers

        unknown = set(command[1:]) - set(available_workers())
        if unknown:
            return f"`cloudthrift {' '.join(command)}`: no worker named {sorted(unknown)}"
    return None


# --- the file --------------------------------------------------------------------------------------


def test_compose_has_every_service_of_the_issue(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"moto", *APP_SERVICES, "datadog-agent"} <= set(services)
    assert services["datadog-agent"]["profiles"] == ["datadog"], "the agent is optional"
    for name in ("moto", *APP_SERVICES):
        assert "profiles" not in services[name], f"{name} starts with a plain `docker compose up`"


@pytest.mark.parametrize("name", [*APP_SERVICES, "cli"])
def test_each_service_command_exists_in_the_cli(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert "entrypoint" not in service, "the image's entrypoint is `cloudthrift`"
    assert cli_problem(service["command"]) is None, cli_problem(service["command"])


def test_each_worker_runs_in_its_own_container(compose: dict[str, Any]) -> None:
    commands = [compose["services"][name]["command"] for name in APP_SERVICES]
    assert ["worker", "scanner"] in commands and ["worker", "executor"] in commands
    assert ["serve"] in commands and ["bootstrap"] in commands
    workers = [c for c in commands if c[0] == "worker"]
    assert all(len(c) == 2 for c in workers) and len(workers) == 4


def build_args(service: dict[str, Any]) -> dict[str, str]:
    """The Dockerfile build arguments of a service (compose's `build: .` short form has none)."""
    build = service["build"]
    if isinstance(build, str):
        assert build == ".", build
        return {}
    assert build["context"] == "." and build.get("dockerfile", "Dockerfile") == "Dockerfile", build
    return {name: resolved(value) for name, value in (build.get("args") or {}).items()}


def test_app_containers_run_the_production_image_without_moto(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in (*APP_SERVICES, "cli"):
        extras = build_args(services[name]).get("EXTRAS")
        installed = dockerfile_requirements(extras)
        assert not [r for r in installed if r.startswith("moto")], f"{name}: the image it runs carries moto"
    assert len({services[name]["image"] for name in (*APP_SERVICES, "cli")}) == 1


def test_moto_is_the_projects_atomic_aws_emulator_from_the_same_dockerfile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    moto = services["moto"]
    assert "entrypoint" not in moto
    assert moto["image"] != services["scanner"]["image"], "two images: production and the emulator's"
    assert "local" in build_args(moto)["EXTRAS"].split(",")
    assert any(r.startswith("moto[server]==") for r in dockerfile_requirements(build_args(moto)["EXTRAS"]))
    command = moto["command"]
    assert command[0] == "aws-emulator", "not plain moto_server: its conditional writes are not atomic"
    assert cli_problem(command) is None, cli_problem(command)
    port = command[command.index("--port") + 1]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    for name in APP_SERVICES:
        assert environment(services[name])["AWS_ENDPOINT_URL"] == f"http://moto:{port}", name


def test_bootstrap_runs_once_after_moto_and_before_everything_else(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["bootstrap"]["depends_on"] == {"moto": {"condition": "service_healthy"}}
    assert services["bootstrap"]["restart"] == "no"
    assert "healthcheck" in services["moto"]
    for name in ("scanner", "analyzer", "notifier", "executor", "interactions"):
        needs = services[name]["depends_on"]["bootstrap"]["condition"]
        assert needs == "service_completed_successfully", name


def test_the_containers_settings_are_valid_and_report_new_resources(compose: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        env = environment(compose["services"][name])
        assert env["CLOUDTHRIFT_MIN_AGE_DAYS"] == "0", "moto cannot backdate creation times"
        ours = {k: v for k, v in env.items() if k.startswith(("CLOUDTHRIFT_", "DISCORD_", "GEMINI_"))}
        unknown = {k for k in ours if k.lower() not in Settings.model_fields}
        assert not unknown, f"{name}: not settings of shared/config.py: {sorted(unknown)}"
        Settings(_env_file=None, **{k.lower(): v for k, v in ours.items()})  # type: ignore[call-arg]


def test_the_interactions_endpoint_listens_where_it_is_published(compose: dict[str, Any]) -> None:
    service = compose["services"]["interactions"]
    env = environment(service)
    assert env["CLOUDTHRIFT_HTTP_HOST"] == "0.0.0.0", "reachable from outside its container"
    published = [str(p).rsplit(":", 1)[-1] for p in service["ports"]]
    assert env["CLOUDTHRIFT_HTTP_PORT"] in published
    assert "/healthz" in " ".join(service["healthcheck"]["test"])


def test_app_containers_are_hardened(compose: dict[str, Any]) -> None:
    for name in ("moto", *APP_SERVICES):
        service = compose["services"][name]
        assert service["read_only"] is True and "/tmp" in service["tmpfs"], name
        assert service["cap_drop"] == ["ALL"], name
        assert "user" not in service, f"{name}: the image's non-root user applies"


def test_every_command_deployed_to_aws_exists_in_the_cli() -> None:
    services = load_module(MODULE).locals["services"]
    assert set(services) == {"scanner", "analyzer", "notifier", "executor", "interactions"}
    for name, service in services.items():
        assert cli_problem(service["command"]) is None, (name, cli_problem(service["command"]))


# --- the containers' environment, for real -----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return int(answer.status)
    except OSError:
        return None


@pytest.mark.timeout(90)
def test_compose_environment_bootstraps_scans_and_serves(
    compose: dict[str, Any], moto_endpoint: str, tmp_path: Path
) -> None:
    """bootstrap, `worker scanner` and `serve` with the containers' own settings, against moto."""
    port = _free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDTHRIFT_", "DISCORD_", "DD_"))}

    def env_of(name: str) -> dict[str, str]:
        env = {**base, **environment(compose["services"][name])}
        env.update(
            AWS_ENDPOINT_URL=moto_endpoint,  # the compose network's `moto` is this test's server
            CLOUDTHRIFT_WAIT_TIME_SECONDS="1",  # short polls and drain: the test stops them quickly
            CLOUDTHRIFT_DRAIN_SECONDS="2",
            CLOUDTHRIFT_LOG_FORMAT="json",
        )
        if name == "interactions":
            env["CLOUDTHRIFT_HTTP_PORT"] = str(port)
        return env

    def start(name: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(CLOUDTHRIFT), *compose["services"][name]["command"]],
            env=env_of(name),
            cwd=tmp_path,  # no developer .env gets in
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    boot = subprocess.run(
        [str(CLOUDTHRIFT), *compose["services"]["bootstrap"]["command"]],
        env=env_of("bootstrap"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert boot.returncode == 0, boot.stderr
    assert "queue cloudthrift-scan" in boot.stdout and "table cloudthrift-ledger" in boot.stdout

    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_endpoint)
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=50, VolumeType="gp3")["VolumeId"]

    processes = {name: start(name) for name in ("scanner", "interactions")}
    try:
        assert _wait_for(lambda: _http_status(f"http://127.0.0.1:{port}/healthz"), 45, "/healthz") == 200
        # What `cloudthrift scan` (or the EventBridge schedule) puts on the scan queue.
        sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=moto_endpoint)
        scan_url = sqs.get_queue_url(QueueName="cloudthrift-scan")["QueueUrl"]
        request = ScanRequested(regions=("us-east-1",), requested_by="test:compose")
        sqs.send_message(QueueUrl=scan_url, MessageBody=Envelope.wrap(request).to_json())
        ledger = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_endpoint)

        def recorded() -> list[dict[str, Any]]:
            return ledger.scan(TableName="cloudthrift-ledger")["Items"]

        items = _wait_for(recorded, 45, "the scanner to record the idle volume")
        assert any(item["pk"]["S"].endswith(f"#us-east-1#ebs-volume#unattached#{volume}") for item in items)
    finally:
        outputs = {}
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for name, process in processes.items():
            try:
                outputs[name] = process.communicate(timeout=20)[0].decode(errors="replace")
            except subprocess.TimeoutExpired:
                process.kill()
                outputs[name] = process.communicate()[0].decode(errors="replace")
    # SIGTERM is the normal stop (ECS and compose send it): both drain and exit cleanly.
    for name, process in processes.items():
        assert process.returncode == 0, f"{name} exited {process.returncode}:\n{outputs[name]}"
        assert "Traceback" not in outputs[name], outputs[name]
