"""One settings model for every CloudThrift process.

Built once by a runner or the CLI (never at import time) from the environment and an optional `.env`.
Handlers never see it: runners hand them only the values they need. A bad value stops start-up with one
line naming the variable (`SettingsError`), never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.errors import SettingsError

QueueName = Literal["scan", "analyze", "notify", "execute"]
QUEUE_NAMES: tuple[QueueName, ...] = ("scan", "analyze", "notify", "execute")


def _split_csv(value: Any) -> Any:
    """Lists come from the environment as `a,b,c`, the way operators write them."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Every knob, named as the environment variable that sets it (upper-cased)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- AWS -----------------------------------------------------------------------------------
    aws_endpoint_url: str | None = Field(
        default=None, description="Standard AWS_ENDPOINT_URL; set to the moto server locally."
    )
    aws_region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
        description="Home region: where the queues and the ledger live.",
    )
    cloudthrift_prefix: str = Field(
        default="cloudthrift",
        pattern=r"^[A-Za-z0-9_-]{1,40}$",
        description="Prefix of queue and table names.",
    )
    cloudthrift_regions: CsvList = Field(
        default_factory=list, description="Regions to scan; empty means every enabled region."
    )
    cloudthrift_kinds: CsvList = Field(
        default_factory=list, description="Resource kinds to scan; empty means every registered kind."
    )
    cloudthrift_region_concurrency: int = Field(default=8, ge=1, le=64)
    cloudthrift_aws_max_attempts: int = Field(default=8, ge=1, le=20)
    cloudthrift_aws_retry_mode: Literal["standard", "adaptive", "legacy"] = "adaptive"

    # --- What counts as idle -------------------------------------------------------------------
    cloudthrift_min_age_days: float = Field(
        default=7, ge=0, description="Resources created more recently than this are never reported."
    )
    cloudthrift_min_idle_days: float = Field(
        default=0,
        ge=0,
        description="How long CloudThrift must have seen a resource idle before reporting it.",
    )
    cloudthrift_optout_tag: str = Field(default="cloudthrift:keep", min_length=1)

    # --- Queue runtime -------------------------------------------------------------------------
    cloudthrift_max_concurrency: int = Field(default=10, ge=1, le=500)
    cloudthrift_visibility_timeout: int = Field(default=60, ge=5, le=43_200)
    cloudthrift_wait_time_seconds: int = Field(default=20, ge=0, le=20)
    cloudthrift_max_receives: int = Field(default=5, ge=1, le=1000)
    cloudthrift_drain_seconds: float = Field(default=25, ge=0, le=600)

    # --- Execution -----------------------------------------------------------------------------
    cloudthrift_dry_run: bool = Field(default=True, description="Record what would be done; touch nothing.")

    # --- Logging -------------------------------------------------------------------------------
    cloudthrift_log_format: Literal["auto", "json", "console"] = "auto"
    cloudthrift_log_level: Literal["debug", "info", "warning", "error"] = "info"

    # --- Gemini / Discord (used by later stages; secrets never appear in a repr) ----------------
    gemini_api_key: SecretStr | None = None
    gemini_model: str = "gemini-2.5-flash-lite"
    gemini_base_url: str | None = None
    discord_bot_token: SecretStr | None = None
    discord_public_key: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    discord_application_id: str | None = None
    discord_channel_id: str | None = None
    discord_api_base_url: str = "https://discord.com/api/v10"

    _split = field_validator("cloudthrift_regions", "cloudthrift_kinds", mode="before")(_split_csv)

    def queue_name(self, queue: QueueName) -> str:
        return f"{self.cloudthrift_prefix}-{queue}"

    def dlq_name(self, queue: QueueName) -> str:
        return f"{self.cloudthrift_prefix}-{queue}-dlq"

    @property
    def table_name(self) -> str:
        return f"{self.cloudthrift_prefix}-ledger"


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Build the settings, turning a validation error into one readable line per bad variable."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        name = str(error["loc"][0]).upper() if error["loc"] else "settings"
        raw = error.get("input")
        shown = "" if _is_secret(name) or isinstance(raw, dict) else f" (got {raw!r})"
        problems.append(f"{name}: {error['msg']}{shown}")
    return "invalid setting " + "; ".join(problems)


def _is_secret(name: str) -> bool:
    return any(word in name for word in ("KEY", "TOKEN", "SECRET", "PASSWORD"))
