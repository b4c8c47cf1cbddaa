"""CloudThrift's one exception tree.

    CloudThriftError
    ├── SettingsError          bad configuration: stop at start-up with one line
    └── PipelineError          raised while handling a message
        ├── PermanentError     retrying cannot help: the message goes to the DLQ with this reason
        │   ├── InvalidEvent        the body does not parse, or has an unknown schema version
        │   ├── UnsupportedResource a kind, check or remedy this version does not know
        │   └── LimitExceeded       a safety cap was hit
        ├── TransientError     try again later: the message becomes visible again, with backoff
        └── Superseded         someone else owns this work now: the message is done, quietly

Expected outcomes are not exceptions: a lost ledger race is a `TransitionResult`, a resource that is
no longer idle is a result of the executor's re-check.
"""

from __future__ import annotations


class CloudThriftError(Exception):
    """Root of every error CloudThrift raises on purpose."""


class SettingsError(CloudThriftError):
    """A setting is missing or malformed; the message names the variable."""


class PipelineError(CloudThriftError):
    """Raised by a handler; the queue runtime decides what happens to the message."""


class PermanentError(PipelineError):
    """Retrying will not help: dead-letter the message with this reason."""


class InvalidEvent(PermanentError):
    """The message is not a CloudThrift event this version understands."""


class UnsupportedResource(PermanentError):
    """No kind, check or remedy of that name is registered (shared/kinds/)."""


class LimitExceeded(PermanentError):
    """A safety cap (how much one run may touch) was hit."""


class TransientError(PipelineError):
    """A dependency is briefly unavailable: retry after a backoff."""


class Superseded(PipelineError):
    """Another worker owns this message's work (it took the claim over): acknowledge and stop.

    Not a failure and not a retry: the owner finishes the work, and the executor's sweep re-drives it
    should the owner die. It never counts toward the dead-letter budget.
    """
