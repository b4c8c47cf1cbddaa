"""structlog set-up shared by every process: JSON lines in production, readable lines in a terminal.

Logs go to stderr so that a command's own output (tables, `--json`) stays clean on stdout.

structlog is imported without rich, which it would otherwise import for its console renderer's
tracebacks: about 60 ms of every command's start-up (`cloudthrift approve` has a 1.5 s budget) and
5 MiB of RSS per worker, for tracebacks a CLI never shows (errors are one line: shared/aws_errors.py)
and a worker prints plain in the console or as dicts in JSON. This module must therefore be imported
before anything else imports structlog: the `cloudthrift` entry point does (services/cli.py).
"""

from __future__ import annotations

import logging
import sys
from typing import Literal


def _import_structlog_without_rich() -> None:
    """Import structlog with rich unimportable, then make rich importable again.

    structlog treats rich as optional (`try: import rich except ImportError`), and a None entry in
    sys.modules makes that import fail. Only structlog's own import sees it: typer, our tables and the
    cards printed without a Discord token import rich normally afterwards. A JSON process loses
    nothing (its tracebacks are dicts either way); a console one prints Python's plain traceback. A
    process already holding structlog or rich is left as it is.
    """
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]
    try:
        import structlog  # noqa: F401
    finally:
        del sys.modules["rich"]


_import_structlog_without_rich()

import structlog  # noqa: E402  (after the call above, which decides how structlog is first imported)

from shared.telemetry import add_trace_correlation  # noqa: E402


class _CurrentStderr:
    """Whatever sys.stderr is at the moment of writing, not at configuration time.

    A process may swap stderr after configuring logs (test runners capture it, then close their
    buffer); binding the stream once would leave every later log line writing to a closed file.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(
    fmt: Literal["auto", "json", "console"] = "auto", level: str = "info", *, stream=None
) -> None:
    stream = stream or _CurrentStderr()
    console = fmt == "console" or (fmt == "auto" and stream.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_trace_correlation,  # dd.trace_id, dd.span_id, dd.service... inside a span
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: list[structlog.types.Processor]
    if console:
        renderer = [structlog.dev.ConsoleRenderer(sort_keys=False)]
    else:
        renderer = [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()]
    structlog.configure(
        processors=shared + renderer,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # Libraries log through the standard library: keep their noise (moto's per-request lines) out.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("werkzeug", "botocore", "aiobotocore", "moto", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Without an Agent every other UDP send fails with ECONNREFUSED and the package warns each time:
    # metrics are best-effort by design, so only its errors are worth a line.
    logging.getLogger("datadog.dogstatsd").setLevel(logging.ERROR)
