"""The embedded AWS (services/embedded_aws.py: moto, DynamoDB serialised, one table backup per
transaction) as its own process, for benches: `python bench/aws_server.py PORT` prints its endpoint."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from services.embedded_aws import EmbeddedAws


def main() -> int:
    # werkzeug logs every request to stderr: a line per request is emulator CPU the tools then wait on.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = EmbeddedAws(port=int(sys.argv[1]))
    print(server.start(), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
