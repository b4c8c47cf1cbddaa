"""`cloudthrift doctor` against moto, the fake Discord and the fake Gemini: one line per check, and an
exit code that fails when something a configured stage needs is broken."""

from __future__ import annotations

import asyncio
import socket

import structlog
from typer.testing import CliRunner, Result

from services.cli import app
from services.doctor.aws import stage_permissions
from shared.aws import AwsClients
from shared.bootstrap import bootstrap
from shared.config import Settings
from shared.executor_status import beat
from shared.ledger import Ledger
from tests.fakes.discord import BOT_TOKEN, FakeDiscord
from tests.fakes.gemini import FakeGemini

CHANNEL = "1200000000000000007"
PUBLIC_KEY = "ab" * 32


async def doctor(**env: str | None) -> Result:
    try:
        return await asyncio.to_thread(
            CliRunner().invoke, app, ["doctor"], env={"CLOUDTHRIFT_LOG_FORMAT": "json", **env}
        )
    finally:
        structlog.reset_defaults()


def lines(result: Result) -> dict[str, tuple[str, str]]:
    """check name -> (status, detail), from `status  name  detail` lines."""
    found = {}
    for line in result.stdout.splitlines():
        status, rest = line[:5].strip(), line[6:]
        name, _, detail = rest.partition("  ")
        found[name.strip()] = (status, detail.strip())
    return found


async def ready(settings: Settings, *, executor_dry_run: bool | None = True) -> None:
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
        if executor_dry_run is not None:
            await beat(Ledger(await aws.client("dynamodb"), settings.table_name), dry_run=executor_dry_run)


async def test_a_bootstrapped_local_setup_passes(settings: Settings) -> None:
    await ready(settings)
    result = await doctor()
    assert result.exit_code == 0, result.output
    checks = lines(result)
    assert checks["aws identity"] == ("ok", "arn:aws:sts::123456789012:user/moto (account 123456789012)")
    assert checks["queues"] == ("ok", "8 queues of prefix 'cloudthrift' readable")
    assert checks["ledger table"][0] == "ok"
    for stage, wanted in stage_permissions().items():
        status, detail = checks[f"{stage} permissions"]
        assert status == "ok" and all(permission in detail for permission in wanted), detail
    assert "ec2:DeleteVolume" in checks["executor permissions"][1]
    assert checks["executor"][0] == "ok" and "dry run" in checks["executor"][1]
    assert checks["discord"][0] == checks["gemini"][0] == "skip"


async def test_before_bootstrap_it_fails_and_says_how_to_fix_it(settings: Settings) -> None:
    result = await doctor(CLOUDTHRIFT_PREFIX="fresh")
    assert result.exit_code == 1
    checks = lines(result)
    assert checks["queues"][0] == "FAIL" and "missing fresh-scan" in checks["queues"][1]
    assert checks["ledger table"] == ("FAIL", "fresh-ledger missing: run `cloudthrift bootstrap`")
    assert "Traceback" not in result.output


async def test_without_aws_it_stops_at_the_identity_with_the_reason() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = await doctor(AWS_ENDPOINT_URL=endpoint)
    assert result.exit_code == 1
    checks = lines(result)
    assert checks["aws identity"][0] == "FAIL" and "the connection was refused" in checks["aws identity"][1]
    assert checks["aws resources"][0] == "skip"


async def test_discord_and_gemini_are_called_for_real(
    settings: Settings, fake_discord: FakeDiscord, fake_gemini: FakeGemini
) -> None:
    await ready(settings)
    fake_discord.channels[CHANNEL] = "finops"
    configured = {
        "DISCORD_BOT_TOKEN": BOT_TOKEN,
        "DISCORD_CHANNEL_ID": CHANNEL,
        "DISCORD_API_BASE_URL": fake_discord.base_url,
        "DISCORD_PUBLIC_KEY": PUBLIC_KEY,
        "DISCORD_APPROVER_IDS": "1200000000000000001",
        "GEMINI_API_KEY": fake_gemini.api_key,
        "GEMINI_BASE_URL": fake_gemini.base_url,
    }
    result = await doctor(**configured)
    assert result.exit_code == 0, result.output
    checks = lines(result)
    assert checks["discord"] == ("ok", f"channel #finops ({CHANNEL}) visible")
    assert checks["discord clicks"][0] == "ok"
    assert checks["gemini"][0] == "ok" and "answered a sample finding" in checks["gemini"][1]
    assert len(fake_gemini.requests) == 1

    wrong_channel = await doctor(**configured | {"DISCORD_CHANNEL_ID": "1200000000000000008"})
    assert wrong_channel.exit_code == 1
    assert "check DISCORD_CHANNEL_ID" in lines(wrong_channel)["discord"][1]

    wrong_token = await doctor(**configured | {"DISCORD_BOT_TOKEN": "stale-token"})
    assert wrong_token.exit_code == 1 and "check DISCORD_BOT_TOKEN" in lines(wrong_token)["discord"][1]

    no_key = await doctor(**configured | {"DISCORD_PUBLIC_KEY": None})
    assert no_key.exit_code == 1 and lines(no_key)["discord clicks"][0] == "FAIL"

    fake_gemini.default = "invalid_json"
    broken_model = await doctor(**configured)
    assert broken_model.exit_code == 1 and lines(broken_model)["gemini"][0] == "FAIL"


async def test_datadog_is_a_failure_only_when_an_agent_is_configured(settings: Settings) -> None:
    await ready(settings, executor_dry_run=None)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    configured = await doctor(DD_TRACE_ENABLED="true", DD_TRACE_AGENT_URL=closed)
    assert configured.exit_code == 1
    assert lines(configured)["datadog agent"][0] == "FAIL"
    assert lines(configured)["executor"][0] == "warn"  # no heartbeat: a warning, not a failure

    with socket.socket() as agent:
        agent.bind(("127.0.0.1", 0))
        agent.listen()
        url = f"http://127.0.0.1:{agent.getsockname()[1]}"
        reached = await doctor(DD_TRACE_ENABLED="true", DD_TRACE_AGENT_URL=url)
    assert lines(reached)["datadog agent"] == ("ok", f"trace Agent at {url} accepts connections")
    assert lines(await doctor())["datadog agent"][0] == "skip"  # the tests' DD_TRACE_ENABLED=false
