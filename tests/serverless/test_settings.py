"""A function's secrets come from Secrets Manager (named by <NAME>_SECRET_ARN), read once per container."""

from __future__ import annotations

import pytest

from services.serverless.settings import container_settings
from shared.aws import AwsClients
from shared.config import Settings
from shared.errors import SettingsError


async def test_secrets_named_by_arn_are_read_into_the_settings(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AwsClients(settings) as aws:
        secrets = await aws.client("secretsmanager")
        token = await secrets.create_secret(Name="cloudthrift/discord-bot-token", SecretString="bot-123")
        empty = await secrets.create_secret(Name="cloudthrift/gemini-api-key")
    monkeypatch.setenv("DISCORD_BOT_TOKEN_SECRET_ARN", token["ARN"])
    loaded = await container_settings()
    assert loaded.discord_bot_token is not None and loaded.discord_bot_token.get_secret_value() == "bot-123"
    assert "bot-123" not in repr(loaded)

    monkeypatch.setenv("GEMINI_API_KEY_SECRET_ARN", empty["ARN"])
    with pytest.raises(
        SettingsError,
        match=r"GEMINI_API_KEY_SECRET_ARN: cannot read the secret \(ResourceNotFoundException",
    ):
        await container_settings()


async def test_secrets_named_by_ssm_parameter_and_the_terraform_placeholder(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AwsClients(settings) as aws:
        ssm = await aws.client("ssm")
        await ssm.put_parameter(Name="/cloudthrift/gemini-api-key", Type="SecureString", Value="g-key")
        await ssm.put_parameter(Name="/cloudthrift/discord-bot-token", Type="SecureString", Value="unset")
    monkeypatch.setenv("GEMINI_API_KEY_SSM_NAME", "/cloudthrift/gemini-api-key")
    loaded = await container_settings()
    assert loaded.gemini_api_key is not None and loaded.gemini_api_key.get_secret_value() == "g-key"

    monkeypatch.setenv("DISCORD_BOT_TOKEN_SSM_NAME", "/cloudthrift/discord-bot-token")
    with pytest.raises(SettingsError, match="DISCORD_BOT_TOKEN_SSM_NAME: the secret has no value yet"):
        await container_settings()
