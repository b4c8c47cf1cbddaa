"""Lambda entry points: the workers fed by SQS, the interactions function URL, the scheduled sweeps.

shared.logs is imported first, before anything imports structlog: with CLOUDTHRIFT_LOG_FORMAT=json (set
by the Terraform module) structlog comes without rich, which a function never uses and which would cost
its cold start about 0.2 s (bench/README.md).
"""

from shared import logs


def start_logging() -> None:
    """JSON lines on stderr, which Lambda sends to the function's log group (and the Datadog extension)."""
    logs.configure_logging(fmt="json")
