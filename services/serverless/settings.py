"""Settings of a Lambda container: the environment, plus secrets read once from Secrets Manager.

ECS injects secrets into the container's environment; Lambda has no such injection, so a function's
environment names the secret instead, the way the Datadog Lambda extension takes DD_API_KEY_SECRET_ARN:
`GEMINI_API_KEY_SECRET_ARN`, `DISCORD_BOT_TOKEN_SECRET_ARN`, `CLOUDTHRIFT_SCAN_TOKEN_SECRET_ARN`. They
are read once when the container starts and live in its Settings, so the container is the cache (no
second cache to keep coherent): a rotated key is picked up by the next container, as on ECS by the next
task.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from shared.aws import AwsClients
from shared.config import Settings, load_settings
from shared.errors import SettingsError

SECRET_SUFFIX = "_SECRET_ARN"
SECRETS = ("GEMINI_API_KEY", "DISCORD_BOT_TOKEN", "CLOUDTHRIFT_SCAN_TOKEN")


async def container_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings, each `<NAME>_SECRET_ARN` replaced by the secret's value (GetSecretValue)."""
    environ = os.environ if environ is None else environ
    settings = load_settings(env_file=None)
    wanted = {name: environ[name + SECRET_SUFFIX] for name in SECRETS if environ.get(name + SECRET_SUFFIX)}
    if not wanted:
        return settings
    values: dict[str, str] = {}
    async with AwsClients(settings) as aws:
        secrets = await aws.client("secretsmanager")
        for name, arn in wanted.items():
            try:
                answer = await secrets.get_secret_value(SecretId=arn)
            except Exception as exc:
                raise SettingsError(
                    f"{name}{SECRET_SUFFIX}: cannot read the secret ({type(exc).__name__})"
                ) from None
            value = answer.get("SecretString")
            if not value:
                raise SettingsError(
                    f"{name}{SECRET_SUFFIX}: the secret has no value yet (put one: docs/DEPLOY.md)"
                )
            values[name.lower()] = value
    return load_settings(env_file=None, **values)
