"""Refusing a request well: read its body within limits, answer a 4xx, log one short line at most.

A client hammering the endpoints with bad signatures or malformed bodies is answered every time (400,
401, 408, 413), but the log gets at most one line per reason per `interval`, carrying how many were
refused since the previous line. Nothing here logs a traceback: a refused request is an expected
outcome, not an error of ours: that includes requests aiohttp itself cannot parse
(`quiet_parser_errors`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.discord_messages import printable

if TYPE_CHECKING:  # aiohttp is imported where it is used: a Lambda function URL needs none of it
    from aiohttp import web

# Discord's bodies are a few KB sent at once: 10 s is generous, and bounds what a stalled client holds.
BODY_TIMEOUT = 10.0


@dataclass
class Refusals:
    """The endpoint's limits on a body, and its rate-limited record of what it refused."""

    logger: Any
    max_body: int = 65_536
    body_timeout: float = BODY_TIMEOUT
    interval: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _last: dict[str, float] = field(default_factory=dict)
    _since: dict[str, int] = field(default_factory=dict)

    def note(self, reason: str, **fields: object) -> bool:
        """Count one refusal; True when a log line was written for it (else it is counted for later)."""
        now = self.clock()
        last = self._last.get(reason)
        if last is not None and now - last < self.interval:
            self._since[reason] = self._since.get(reason, 0) + 1
            return False
        self._last[reason] = now
        refused = self._since.pop(reason, 0) + 1
        safe = {name: printable(value) for name, value in fields.items()}
        self.logger.warning(f"request.refused.{reason}", refused=refused, **safe)
        return True

    def refuse(self, status: int, reason: str, message: str, **fields: object) -> web.Response:
        """A 4xx with a JSON reason; `reason` names the log line (one a minute at most)."""
        from aiohttp import web

        self.note(reason, status=status, **fields)
        return web.json_response({"error": message}, status=status)

    async def read_body(self, request: web.Request) -> bytes | web.Response:
        """The whole body, or the answer refusing it: 413 past the size limit (declared or sent), 408
        when it has not arrived within `body_timeout`, 400 when its framing or encoding is broken.

        408 rather than silently dropping the connection: a slow but honest client (or a proxy) learns
        what happened. Then the connection is closed at once: the rest of the body is never read, and
        aiohttp would otherwise linger up to 10 s more for it.
        """
        from aiohttp import web
        from aiohttp.http_exceptions import HttpProcessingError

        too_large = f"body larger than {self.max_body} bytes"
        if request.content_length is not None and request.content_length > self.max_body:
            return await _answer_and_close(request, self.refuse(413, "too_large", too_large))
        try:
            async with asyncio.timeout(self.body_timeout):
                return await request.read()  # raises 413 past client_max_size (chunked bodies too)
        except TimeoutError:
            late = self.refuse(408, "body_timeout", f"body not received within {self.body_timeout:g} s")
            return await _answer_and_close(request, late)
        except web.HTTPRequestEntityTooLarge:
            return await _answer_and_close(request, self.refuse(413, "too_large", too_large))
        except HttpProcessingError as exc:
            return self.refuse(400, "bad_framing", "malformed body", error=type(exc).__name__)


async def _answer_and_close(request: web.Request, response: web.Response) -> web.Response:
    """Send `response`, then close the connection (its buffered bytes are flushed first)."""
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response


class _QuietParserErrors(logging.Filter):
    """aiohttp logs a request it cannot parse (a control character in a header, broken chunking) with
    a full traceback on `aiohttp.server`. That is bad input, not our error: one short warning line
    instead, at most one a minute. Anything else on that logger passes untouched."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._interval, self._clock = interval, clock
        self._last: float | None = None
        self._since = 0

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            self._since += 1
            return False
        self._last, refused, self._since = now, self._since + 1, 0
        first = str(exc.message).strip().splitlines()[0] if exc.message else ""
        record.msg, record.args = (
            "request.refused.bad_http status=%s refused=%d problem=%s",
            (
                exc.code,
                refused,
                printable(first, 120),
            ),
        )
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_parser_errors(logger: logging.Logger | None = None) -> None:
    """Install the filter above on aiohttp's server logger (once per process)."""
    target = logger or logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _QuietParserErrors) for f in target.filters):
        target.addFilter(_QuietParserErrors())
