"""Is a Datadog Agent there to take our spans? Asked once at start-up, cheaply, before making any.

Without an Agent, ddtrace still builds spans, tries to send them, retries for seconds at exit (a CLI
command that takes 0.9 s then takes 4.5 s) and logs "failed to send" errors. So tracing is gated on
the trace Agent accepting a connection: a TCP connect to the address ddtrace would use (or its Unix
socket), with a short timeout. When nothing answers, the process says so once, at info level, and makes
no spans. A long-running process (a worker) keeps checking in the background, so an Agent started after
it (a sidecar that is slower to come up) turns tracing on without a restart.

Metrics are not gated: DogStatsD is fire-and-forget UDP that never blocks or retries, and the `datadog`
package's own warnings are already silenced (shared/logs.py).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

DEFAULT_SOCKET = "/var/run/datadog/apm.socket"  # where ddtrace looks when nothing else is configured
PROBE_TIMEOUT = 0.25


def trace_agent_url(environ: dict[str, str] | None = None) -> str:
    """The Agent address ddtrace would use, from the same standard variables, in the same order."""
    env = os.environ if environ is None else environ
    if env.get("DD_TRACE_AGENT_URL"):
        return env["DD_TRACE_AGENT_URL"]
    host, port = env.get("DD_AGENT_HOST"), env.get("DD_TRACE_AGENT_PORT")
    if not host and not port and os.path.exists(DEFAULT_SOCKET):
        return f"unix://{DEFAULT_SOCKET}"
    return f"http://{host or 'localhost'}:{port or 8126}"


def agent_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the DD_* variables name an Agent (rather than leaving the libraries' localhost default)."""
    env = os.environ if environ is None else environ
    return any(env.get(name) for name in ("DD_AGENT_HOST", "DD_DOGSTATSD_URL", "DD_DOGSTATSD_HOST"))


def reachable(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """True when something accepts a connection at `url` (http(s)://host:port or unix:///path)."""
    try:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(parts.path)
            return True
        port = parts.port or (443 if parts.scheme == "https" else 8126)
        with socket.create_connection((parts.hostname or "localhost", port), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


class AgentGate:
    """Whether spans are worth making now. Call it: `gate()` is True while the Agent answers.

    `watch(every)` re-checks from a daemon thread (workers); without it the first answer stands
    (short-lived commands: one probe, a few milliseconds on loopback).
    """

    def __init__(
        self, url: str | None = None, *, timeout: float = PROBE_TIMEOUT, announce: bool = True
    ) -> None:
        """Args:
        announce: say at info level that the Agent is missing (a worker's start-up); a CLI
            command says it at debug level, so that it prints only its own output.
        """
        self.url = url or trace_agent_url()
        self._timeout = timeout
        self._open = reachable(self.url, timeout)
        self._stop = threading.Event()
        if not self._open:
            _log("info" if announce else "debug", "telemetry.agent_unreachable", url=self.url)

    def __call__(self) -> bool:
        return self._open

    def watch(self, every: float = 30.0) -> None:
        threading.Thread(target=self._watch, args=(every,), name="dd-agent-probe", daemon=True).start()

    def close(self) -> None:
        self._stop.set()

    def _watch(self, every: float) -> None:
        while not self._stop.wait(every):
            now = reachable(self.url, self._timeout)
            if now != self._open:
                _log("info", "telemetry.agent_reachable" if now else "telemetry.agent_gone", url=self.url)
                self._open = now


def _log(level: str, event: str, **values: str) -> None:
    # structlog is imported here, not at module level: shared/logs.py decides how it is first imported.
    import structlog

    message = "traces are sent" if event == "telemetry.agent_reachable" else "no traces until it answers"
    getattr(structlog.get_logger("cloudthrift.telemetry"), level)(event, effect=message, **values)
