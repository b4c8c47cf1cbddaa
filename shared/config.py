"""One settings model for every CloudThrift process.

Built once by a runner or the CLI (never at import time) from the environment and an optional `.env`.
Handlers never see it: runners hand them only the values they need. A bad value stops start-up with one
line naming the variable (`SettingsError`), never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.errors import SettingsError
from shared.regions import region_problem

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
    cloudthrift_account_concurrency: int = Field(
        default=8, ge=1, le=64, description="Member accounts an organization scan probes at once."
    )
    cloudthrift_scan_role_name: str = Field(
        default="cloudthrift-scan",
        pattern=r"^[\w+=,.@-]{1,64}$",
        description="The read-only role in each member account; the scanner assumes only this one.",
    )
    cloudthrift_cleanup_role_name: str = Field(
        default="cloudthrift-cleanup",
        pattern=r"^[\w+=,.@-]{1,64}$",
        description="The clean-up role in each member account; the executor assumes only this one.",
    )
    cloudthrift_external_id: SecretStr | None = Field(
        default=None, description="The ExternalId the member roles' trust policies require."
    )
    cloudthrift_aws_max_attempts: int = Field(default=8, ge=1, le=20)
    cloudthrift_aws_retry_mode: Literal["standard", "adaptive", "legacy"] = "adaptive"
    cloudthrift_aws_connect_timeout: float = Field(
        default=5, gt=0, le=60, description="Seconds to open a connection to AWS (the CLI uses at most 2)."
    )

    # --- What counts as idle -------------------------------------------------------------------
    cloudthrift_min_age_days: float = Field(
        default=7, ge=0, description="Resources created more recently than this are never reported."
    )
    cloudthrift_check_min_age_days: dict[str, float] = Field(
        default_factory=dict,
        description='Minimum age per check, as JSON: {"ebs-snapshot/old": 180}; default: each check\'s own.',
    )
    cloudthrift_usage_window_days: dict[str, float] = Field(
        default_factory=dict,
        description='Usage window per check judged by CloudWatch, as JSON: {"nat-gateway/no-traffic": 14}; '
        "default: each check's own (32 days).",
    )
    cloudthrift_min_idle_days: float = Field(
        default=0,
        ge=0,
        description="How long CloudThrift must have seen a resource idle before reporting it.",
    )
    cloudthrift_optout_tag: str = Field(default="cloudthrift:keep", min_length=1)
    cloudthrift_prices_file: Path | None = Field(
        default=None,
        description="A price table of your own (negotiated rates, more regions), in the shipped table's "
        "format (shared/kinds/prices.json); default: the shipped one.",
    )

    # --- Queue runtime -------------------------------------------------------------------------
    cloudthrift_max_concurrency: int = Field(default=10, ge=1, le=500)
    cloudthrift_visibility_timeout: int = Field(default=60, ge=5, le=43_200)
    cloudthrift_wait_time_seconds: int = Field(default=20, ge=0, le=20)
    cloudthrift_max_receives: int = Field(default=5, ge=1, le=1000)
    cloudthrift_drain_seconds: float = Field(default=25, ge=0, le=600)

    # --- Execution -----------------------------------------------------------------------------
    cloudthrift_dry_run: bool = Field(default=True, description="Record what would be done; touch nothing.")
    cloudthrift_snapshot_before_delete: bool = Field(
        default=True, description="Snapshot a volume (tagged with the decision id) before deleting it."
    )
    cloudthrift_safety_snapshot_tier: Literal["standard", "archive"] = Field(
        default="standard",
        description="Keep safety snapshots in the archive tier ($0.0125/GB-month, 90-day minimum, "
        "restore up to 72 h) instead of standard; a card can still choose per decision.",
    )
    cloudthrift_safety_snapshot_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days a safety snapshot is kept after its volume was deleted; then a sweep deletes "
        "it (never one tagged cloudthrift:keep). 90: an archived one is billed 90 days anyway.",
    )
    cloudthrift_snapshot_wait_seconds: int = Field(
        default=900,
        ge=0,
        le=3600,
        description="Longest one attempt waits for a snapshot to complete; the next delivery resumes it.",
    )
    cloudthrift_claim_ttl_seconds: int = Field(
        default=30,
        ge=3,
        le=3600,
        description=(
            "Lifetime of an executor's claim on a decision, renewed every third of it: how long a crashed "
            "executor's work waits before another takes it over. Independent of the visibility timeout."
        ),
    )
    cloudthrift_approval_recover_seconds: int = Field(
        default=900,
        ge=1,
        le=7 * 24 * 3600,
        description=(
            "An approval still APPROVED this long after the click lost its event: publish it again. Also "
            "the recovery window: one decision is re-driven at most once per window, doubling each time."
        ),
    )
    cloudthrift_approval_sweep_seconds: float = Field(
        default=300,
        gt=0,
        le=3600,
        description="Seconds between the executor's sweeps for lost approvals and expired claims.",
    )
    cloudthrift_money_sweep_seconds: float = Field(
        default=3600,
        gt=0,
        le=24 * 3600,
        description=(
            "Seconds between the executor's money sweeps (safety snapshot retention, cost avoided to "
            "date). Each pass reads every clean-up and writes one count per clean-up: apart from the "
            "approval sweep, which must be short for recovery, so that its cadence never multiplies them."
        ),
    )

    # --- Logging -------------------------------------------------------------------------------
    cloudthrift_log_format: Literal["auto", "json", "console"] = "auto"
    cloudthrift_log_level: Literal["debug", "info", "warning", "error"] = "info"

    # --- Datadog (the standard DD_* variables; the Agent address is read by the datadog package) ---
    dd_env: str | None = Field(default=None, description="DD_ENV: the env tag on metrics, spans, logs.")
    dd_version: str | None = Field(default=None, description="DD_VERSION; default: the package version.")
    dd_trace_enabled: bool = Field(default=True, description="DD_TRACE_ENABLED: spans through ddtrace.")
    dd_dogstatsd_disable: bool = Field(default=False, description="DD_DOGSTATSD_DISABLE: no metrics.")
    cloudthrift_gauge_interval: float = Field(
        default=60, gt=0, le=3600, description="Seconds between queue-depth / pending-approval gauges."
    )

    # --- Gemini / Discord (used by later stages; secrets never appear in a repr) ----------------
    gemini_api_key: SecretStr | None = None
    # gemini-3.5-flash-lite: GA since 2026-07-21, the current flash-lite generation, and the model Google
    # routes retired gemini-2.5-flash traffic to (shutdown 2026-12-01). 2.5-flash-lite still answers, but
    # its siblings are being retired and its "not deprecated" status is only reported second-hand.
    gemini_model: str = "gemini-3.5-flash-lite"
    gemini_base_url: str | None = None
    gemini_timeout_seconds: float = Field(default=15, gt=0, le=300, description="Per HTTP attempt.")
    gemini_retry_attempts: int = Field(default=3, ge=1, le=10, description="SDK attempts on 408/429/5xx.")
    gemini_retry_initial_delay: float = Field(default=1.0, ge=0, le=60)
    gemini_retry_max_delay: float = Field(default=10.0, ge=0, le=120)
    gemini_max_concurrency: int = Field(default=16, ge=1, le=256, description="Calls in flight at once.")
    gemini_max_output_tokens: int = Field(default=1024, ge=64, le=8192)
    gemini_temperature: float = Field(default=0.2, ge=0, le=2)
    gemini_breaker_failures: int = Field(default=5, ge=1, le=1000, description="Failures that open it.")
    gemini_breaker_cooldown_seconds: float = Field(default=60, ge=0, le=3600)
    gemini_cache_days: float = Field(
        default=14,
        ge=0,
        le=365,
        description="How long Gemini's answer for unchanged facts is reused (0: never).",
    )
    discord_bot_token: SecretStr | None = None
    discord_public_key: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    discord_application_id: str | None = None
    discord_channel_id: str | None = None
    discord_api_base_url: str = "https://discord.com/api/v10"
    # --- Notifier and interactions endpoint (issue 4) -------------------------------------------
    discord_approver_ids: CsvList = Field(
        default_factory=list, description="Discord user ids allowed to approve; empty + no roles: nobody."
    )
    discord_approver_role_ids: CsvList = Field(
        default_factory=list, description="Discord role ids whose members may approve."
    )
    discord_max_attempts: int = Field(default=6, ge=1, le=50, description="Tries per Discord call.")
    cloudthrift_group_threshold: int = Field(
        default=5, ge=0, description="Above this many findings per scan/account/region/kind: one card."
    )
    cloudthrift_group_window_seconds: float = Field(default=5, ge=0, le=600)
    cloudthrift_group_max_wait_seconds: float = Field(default=60, ge=0, le=3600)
    cloudthrift_snooze_days: int = Field(default=30, ge=1, le=365)
    cloudthrift_scan_token: SecretStr | None = None
    cloudthrift_http_host: str = "127.0.0.1"
    cloudthrift_http_port: int = Field(default=8080, ge=0, le=65535)
    cloudthrift_http_max_body: int = Field(default=65_536, ge=1024, le=10_485_760)
    cloudthrift_signature_max_age_seconds: int = Field(default=300, ge=5, le=3600)
    # Serverless mode: the queue of clicks a cold interactions function deferred (set by Terraform, so a
    # cold start spends no call finding it; looked up as <prefix>-clicks otherwise).
    cloudthrift_clicks_queue_url: str | None = None

    _split = field_validator("cloudthrift_regions", "cloudthrift_kinds", mode="before")(_split_csv)
    _split_discord = field_validator("discord_approver_ids", "discord_approver_role_ids", mode="before")(
        _split_csv
    )

    @field_validator("aws_endpoint_url", mode="before")
    @classmethod
    def _endpoint(cls, value: Any) -> Any:
        """An http(s) URL with a host: botocore would accept `ftp://...` and retry it for 40 s."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        url = urlsplit(str(value).strip())
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:5000")
        return str(value).strip()

    @field_validator("aws_region")
    @classmethod
    def _region(cls, value: str) -> str:
        problem = region_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("cloudthrift_regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        problems = [problem for name in value if (problem := region_problem(name))]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator(
        "discord_approver_ids", "discord_approver_role_ids", "discord_channel_id", "discord_application_id"
    )
    @classmethod
    def _snowflakes(cls, value: Any) -> Any:
        """Discord ids are snowflakes (unsigned 64-bit integers written in decimal), never names."""
        for item in value if isinstance(value, list) else [value]:
            if item is not None and not is_snowflake(item):
                raise ValueError(f"{item!r} is not a Discord id (a number such as 1200000000000000001)")
        return value

    def queue_name(self, queue: QueueName) -> str:
        return f"{self.cloudthrift_prefix}-{queue}"

    def dlq_name(self, queue: QueueName) -> str:
        return f"{self.cloudthrift_prefix}-{queue}-dlq"

    @property
    def table_name(self) -> str:
        return f"{self.cloudthrift_prefix}-ledger"


def default(name: str) -> Any:
    """A setting's default, for the policies runners build from the settings: written once, here."""
    return Settings.model_fields[name].get_default(call_default_factory=True)


def is_snowflake(value: str) -> bool:
    return value.isascii() and value.isdigit() and 0 < int(value) < 2**64


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
        message = str(error["msg"]).removeprefix("Value error, ")
        hidden = _is_secret(name) or isinstance(raw, dict) or repr(raw) in message
        shown = "" if hidden else f" (got {raw!r})"
        problems.append(f"{name}: {message}{shown}")
    return "invalid setting " + "; ".join(problems)


def _is_secret(name: str) -> bool:
    return any(word in name for word in ("KEY", "TOKEN", "SECRET", "PASSWORD"))
