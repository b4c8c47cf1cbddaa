"""One Lambda execution environment ("container"): an event loop and what was opened on it, kept warm.

Lambda calls a synchronous handler once per invocation and freezes the process in between. AWS clients
(aiobotocore), the ledger, the Discord client are bound to the loop that created them, so the loop lives
as long as the container: the first invocation opens everything (`open` runs once, inside it: Lambda's
init phase is capped at 10 s and billed like any other), later ones reuse it. Nothing is closed: the
container is simply discarded by Lambda. After each invocation metrics and spans are flushed to the
Datadog Lambda extension, which forwards them before the container is frozen.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from shared.telemetry.tracing import Tracing

State = TypeVar("State")
Result = TypeVar("Result")


@dataclass
class Container(Generic[State]):
    """Opens its state on first use; `invoke` runs one invocation's coroutine on the container's loop."""

    open: Callable[[contextlib.AsyncExitStack], Awaitable[State]]
    flush: Callable[[State], None] = lambda _state: None
    cold_start_seconds: float | None = None  # how long `open` took, for the first invocation's log
    _state: State | None = None
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    _loop: asyncio.AbstractEventLoop | None = None

    @property
    def warm(self) -> bool:
        return self._state is not None

    async def state(self) -> State:
        if self._state is None:
            started = time.monotonic()
            self._state = await self.open(self._stack)
            self.cold_start_seconds = time.monotonic() - started
        return self._state

    async def run(self, invocation: Callable[[State], Awaitable[Result]]) -> Result:
        """The async core, usable from a running loop (tests run it this way)."""
        state = await self.state()
        try:
            return await invocation(state)
        finally:
            self.flush(state)
            Tracing.flush(timeout=1.0)

    def invoke(self, invocation: Callable[[State], Awaitable[Result]]) -> Result:
        """What the synchronous Lambda handler calls."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self.run(invocation))
