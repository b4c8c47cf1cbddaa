"""The embedded AWS's SQS, minus moto's clock: the same answers, without a datetime per message per call.

moto's SQS asks "what time is it?" through `moto.core.utils.unix_time_millis`, which builds two naive
UTC datetimes (now, and the epoch) and subtracts them: about 10 µs. It asks once per message for each of
`Message.visible` and `Message.delayed`, and it asks for every message of the queue whenever it builds
`Queue.attributes`, which counts the queue three times (visible, delayed, in flight). It builds those
attributes for every message sent (`send_message` reads ContentBasedDeduplication from them) and three
times for every message received (the retention check). So a SendMessageBatch of 10 onto a queue holding
a few hundred messages cost moto 50 to 70 ms of CPU (py-spy on the emulator, bench/README.md), and a
scan's publish phase waited on moto's clock, not on the queue.

The patch keeps every answer and removes the repeated work:

- moto's SQS module gets the same two clock functions, computed from `time.time()`: seconds (or
  milliseconds) since the Unix epoch, as moto's are; a given datetime still goes through moto's own
  code. moto's truncate to the microsecond (a datetime's resolution) and these do not, which no
  comparison in moto's SQS can tell apart (visibility and delays are whole seconds, and timestamps are
  rounded to milliseconds before they are returned).
- The queue's three counts (`Queue.messages`, the delayed and the in-flight counts) read the clock once
  per count instead of once per message, and compare each message's `visible_at` and `delayed_until`
  exactly as `Message.visible` and `Message.delayed` do.
- `camelcase_to_underscores`, a character-by-character loop run 14 times per attribute build on the same
  constant names, is memoised: it is a pure function of its string.
- The retention check of each received message reads the queue's `message_retention_period` itself,
  the value `get_queue_attributes` would have picked out of three full attribute builds (a queue that
  does not exist raises QueueDoesNotExist either way).

One fix, not a speed-up: moto deletes a message by building the queue's list again without it and
assigning it back, without the lock under which sends append. A message sent while a delete walks the
list is lost (the full-size latency bench lost 45 of 2,560 with 4 receivers deleting while 8 batches
were sent at once). Deletes now hold that lock too, as real SQS never drops a sent message.

Installed once per process by `speed_up_sqs()`, from services/embedded_aws.py.
"""

from __future__ import annotations

import datetime
import functools
import time
from collections.abc import Callable
from typing import Any

_INSTALLED = "_cloudthrift_fast_clock"


def _clock(original: Callable[..., float], scale: float) -> Callable[..., float]:
    def now_or_given(dt: datetime.datetime | None = None) -> float:
        return time.time() * scale if dt is None else original(dt)

    now_or_given.__doc__ = f"{original.__name__}, with the current time read from time.time()"
    return now_or_given


def _retention_check(backend: Any, queue_name: str, message: Any) -> bool:
    """moto's `is_message_valid_based_on_retention_period`, reading the one attribute it needs."""
    from moto.sqs import models

    retain_until = backend.get_queue(queue_name).message_retention_period + message.sent_timestamp / 1000
    return bool(retain_until > models.unix_time())


def _now_ms() -> float:
    return time.time() * 1000.0


def _visible_undelayed(queue: Any) -> list[Any]:
    """`Queue.messages`: the visible messages that are not delayed."""
    now = _now_ms()
    return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]


def _delayed(queue: Any) -> int:
    """`Queue.approximate_number_of_messages_delayed`."""
    now = _now_ms()
    return sum(1 for m in queue._messages if now < m.delayed_until)


def _not_visible(queue: Any) -> int:
    """`Queue.approximate_number_of_messages_not_visible`."""
    now = _now_ms()
    return sum(1 for m in queue._messages if not now > m.visible_at)


def _locked(delete: Callable[..., None]) -> Callable[..., None]:
    def delete_message(queue: Any, receipt_handle: str) -> None:
        """moto's `Queue.delete_message`, under the lock `add_message` appends under."""
        with queue._messages_lock:
            delete(queue, receipt_handle)

    return delete_message


def speed_up_sqs() -> None:
    """Give moto's SQS models a cheap clock (same values) and a memoised name conversion (once)."""
    from moto.sqs import models

    if getattr(models, _INSTALLED, False):
        return
    patched: dict[str, Any] = {
        "unix_time": _clock(models.unix_time, 1.0),
        "unix_time_millis": _clock(models.unix_time_millis, 1000.0),
        "camelcase_to_underscores": functools.lru_cache(maxsize=512)(models.camelcase_to_underscores),
    }
    for name, value in patched.items():
        setattr(models, name, value)
    models.SQSBackend.is_message_valid_based_on_retention_period = _retention_check  # type: ignore[method-assign]
    models.Queue.messages = property(_visible_undelayed)  # type: ignore[assignment,method-assign]
    models.Queue.approximate_number_of_messages_delayed = property(_delayed)  # type: ignore[assignment,method-assign]
    models.Queue.approximate_number_of_messages_not_visible = property(_not_visible)  # type: ignore[assignment,method-assign]
    models.Queue.delete_message = _locked(models.Queue.delete_message)  # type: ignore[method-assign]
    setattr(models, _INSTALLED, True)
