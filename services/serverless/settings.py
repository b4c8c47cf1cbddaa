"""Settings of a Lambda container: the environment, plus secrets read once from SSM or Secrets Manager.

ECS injects secrets into the container's environment; Lambda has no such injection, so a function's
environment names where each secret is, as the Datadog Lambda extension does for its own key
(DD_API_KEY_SSM_NAME, DD_API_KEY_SECRET_ARN): `<NAME>_SSM_NAME` (a SecureString parameter, what the
serverless Terraform module creates: free, where a Secrets Manager secret costs $0.40 a month) or
`<NAME>_SECRET_ARN`, for GEMINI_API_KEY, DISCORD_BOT_TOKEN and CLOUDTHRIFT_SCAN_TOKEN. They are read
once when the container starts and live in its Settings, so the container is the cache (nothing to
keep coherent, no cache to write): a rotated key is picked up by the next container, as on ECS by the
next task.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from shared.aws import AwsClients
from shared.config import Settings, load_settings
from shared.errors import SettingsError

SSM_SUFFIX = "_SSM_NAME"
SECRET_SUFFIX = "_SECRET_ARN"
SECRETS = ("GEMINI_API_KEY", "DISCORD_BOT_TOKEN", "CLOUDTHRIFT_SCAN_TOKEN")


async def container_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings, each secret named by `<NAME>_SSM_NAME` or `<NAME>_SECRET_ARN` read into them."""
    environ = os.environ if environ is None else environ
    settings = load_settings(env_file=None)
    wanted = [
        (name, suffix, environ[name + suffix])
        for name in SECRETS
        for suffix in (SSM_SUFFIX, SECRET_SUFFIX)
        if environ.get(name + suffix)
    ]
    if not wanted:
        return settings
    values: dict[str, str] = {}
    async with AwsClients(settings) as aws:
        for name, suffix, where in wanted:
            try:
                value = await _read(aws, suffix, where)
            except Exception as exc:
                # A secret Terraform created but nobody filled is ResourceNotFoundException too.
                code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
                raise SettingsError(
                    f"{name}{suffix}: cannot read the secret ({code}; has it a value? docs/DEPLOY.md)"
                ) from None
            if not value or value == "unset":  # "unset": the Terraform module's placeholder
                raise SettingsError(f"{name}{suffix}: the secret has no value yet (docs/DEPLOY.md)")
            values[name.lower()] = value
    return load_settings(env_file=None, **values)


async def _read(aws: AwsClients, suffix: str, where: str) -> str | None:
    answer: dict[str, Any]
    if suffix == SSM_SUFFIX:
        ssm = await aws.client("ssm")
        answer = await ssm.get_parameter(Name=where, WithDecryption=True)
        return answer["Parameter"].get("Value")
    secrets = await aws.client("secretsmanager")
    answer = await secrets.get_secret_value(SecretId=where)
    return answer.get("SecretString")
