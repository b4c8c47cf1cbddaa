"""What every `cloudthrift` command shares: settings loaded once, coroutines run, failures told in one line.

The stages' `cli.py` modules import this, never `services/cli.py` (which imports them to register
their commands), so there is no import circle.

A command calls `settings()` once; the settings are kept for the command, so `run()` can name the
endpoint and prefix when it turns an AWS or network failure into one line (shared/aws_errors.py)
instead of a traceback. Short commands get a short AWS budget (`interactive_settings`): an operator
waiting at a prompt learns in seconds that the endpoint is down, while workers keep their retries.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import typer

from shared.config import Settings, load_settings
from shared.errors import SettingsError
from shared.logs import configure_logging  # before anything imports structlog (see shared/logs.py)

T = TypeVar("T")

# The settings the running command loaded (typer keeps its click context private; a context variable
# is per thread and per task, so CliRunner invocations in parallel threads do not see each other's).
_current: contextvars.ContextVar[Settings | None] = contextvars.ContextVar(
    "cloudthrift_settings", default=None
)
# Short commands: 3 tries and a 2 s connect timeout, so an endpoint that refuses or drops connections
# is reported within about 8 s (3 x 2 s, plus botocore's standard backoff: at most 1 s, then 2 s).
# botocore's `max_attempts` (CLOUDTHRIFT_AWS_MAX_ATTEMPTS) counts retries after the first try.
CLI_MAX_ATTEMPTS = 2
CLI_CONNECT_TIMEOUT = 2.0
USAGE_ERROR = 2  # bad input or configuration: nothing was attempted
FAILED = 1  # the command ran and could not do its job (AWS refused, endpoint down...)


def fail(message: str, code: int = FAILED) -> NoReturn:
    """Stop the command with one line on stderr."""
    typer.echo(f"cloudthrift: {message}", err=True)
    raise typer.Exit(code)


def interactive_settings(loaded: Settings) -> Settings:
    """The same settings with the CLI's short AWS budget (never longer than configured)."""
    return loaded.model_copy(
        update={
            "cloudthrift_aws_max_attempts": min(loaded.cloudthrift_aws_max_attempts, CLI_MAX_ATTEMPTS),
            "cloudthrift_aws_connect_timeout": min(
                loaded.cloudthrift_aws_connect_timeout, CLI_CONNECT_TIMEOUT
            ),
            "cloudthrift_aws_retry_mode": "standard",
        }
    )


def settings(*, long_running: bool = False, **overrides: Any) -> Settings:
    """Load and validate the settings, or stop with one line naming the bad variable (exit 2).

    Args:
        long_running: a worker or server: keep the configured AWS retry budget.
    """
    try:
        loaded = load_settings(**overrides)
    except SettingsError as exc:
        fail(str(exc), USAGE_ERROR)
    configure_logging(loaded.cloudthrift_log_format, loaded.cloudthrift_log_level)
    if not long_running:
        loaded = interactive_settings(loaded)
    _current.set(loaded)
    return loaded


def current_settings() -> Settings | None:
    """The settings this command loaded, if it loaded any."""
    return _current.get()


def explain_or_raise(exc: BaseException) -> NoReturn:
    """Turn a known failure into one line and exit 1; anything else is a bug and keeps its traceback."""
    from shared.aws_errors import explain

    line = explain(exc, current_settings())
    if line is None:
        raise exc
    fail(line)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, with AWS and network failures told in one line (see shared/aws_errors.py)."""
    try:
        return asyncio.run(coro)
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:
        explain_or_raise(exc)
