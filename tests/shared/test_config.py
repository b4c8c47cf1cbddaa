"""Settings: a bad value stops start-up with one clear line naming the variable, and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shared.config import load_settings
from shared.errors import SettingsError


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "CLOUDTHRIFT_MAX_CONCURRENCY",
            "lots",
            "CLOUDTHRIFT_MAX_CONCURRENCY: Input should be a valid integer",
        ),
        (
            "CLOUDTHRIFT_VISIBILITY_TIMEOUT",
            "1",
            "CLOUDTHRIFT_VISIBILITY_TIMEOUT: Input should be greater than",
        ),
        ("CLOUDTHRIFT_LOG_FORMAT", "xml", "CLOUDTHRIFT_LOG_FORMAT: Input should be"),
        ("CLOUDTHRIFT_DRY_RUN", "perhaps", "CLOUDTHRIFT_DRY_RUN: Input should be a valid boolean"),
    ],
)
def test_cli_names_the_bad_variable_in_one_line_without_traceback(
    name: str, value: str, expected: str
) -> None:
    done = cli("bootstrap", env={name: value})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("cloudthrift: invalid setting ")
    assert expected in lines[0]
    assert "Traceback" not in done.stderr


def test_a_malformed_secret_is_named_but_never_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None, discord_public_key="not-hex-and-secretish")
    assert "DISCORD_PUBLIC_KEY" in str(caught.value)
    assert "not-hex-and-secretish" not in str(caught.value)


def test_lists_come_from_comma_separated_environment_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDTHRIFT_REGIONS", "us-east-1, eu-west-1,,ap-southeast-1")
    assert load_settings(env_file=None).cloudthrift_regions == ["us-east-1", "eu-west-1", "ap-southeast-1"]


def test_secrets_are_masked_in_the_settings_repr() -> None:
    loaded = load_settings(env_file=None, gemini_api_key="AIza-test-key-value")
    assert "AIza-test-key-value" not in repr(loaded)


def test_an_env_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("CLOUDTHRIFT_MIN_AGE_DAYS=3\nCLOUDTHRIFT_PREFIX=acme\n")
    loaded = load_settings(env_file=env_file)
    assert (loaded.cloudthrift_min_age_days, loaded.table_name) == (3, "acme-ledger")


def test_each_policy_defaults_to_the_settings_defaults_written_once() -> None:
    """A policy built by a runner from default settings equals the policy's own defaults: the handlers'
    tests and the deployed workers run with the same numbers, written once in Settings."""
    from dataclasses import replace

    from services.executor.handler import ExecutionPolicy
    from services.executor.main import execution_policy
    from services.notifier.handler import GroupPolicy
    from services.notifier.main import group_policy
    from services.scanner.main import scan_policy
    from services.scanner.rules import ScanPolicy
    from shared.config import Settings
    from shared.queue import ConsumerConfig

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert scan_policy(settings) == ScanPolicy()
    assert execution_policy(settings) == ExecutionPolicy()
    built = group_policy(settings)
    assert replace(built, settle=GroupPolicy().settle, poll=GroupPolicy().poll) == GroupPolicy()
    consumer = ConsumerConfig()
    assert (consumer.max_concurrency, consumer.visibility_timeout, consumer.max_receives) == (
        settings.cloudthrift_max_concurrency,
        settings.cloudthrift_visibility_timeout,
        settings.cloudthrift_max_receives,
    )


def test_a_scanner_configured_with_an_unknown_kind_refuses_to_start_naming_it() -> None:
    import pytest

    from services.scanner.main import scan_policy
    from shared.config import Settings
    from shared.errors import SettingsError

    settings = Settings(_env_file=None, cloudthrift_kinds="ebs-volume,quantum-disk")  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match="CLOUDTHRIFT_KINDS: quantum-disk is not a resource kind"):
        scan_policy(settings)
    assert scan_policy(Settings(_env_file=None, cloudthrift_kinds="ebs-volume")).kinds == ("ebs-volume",)  # type: ignore[call-arg]
