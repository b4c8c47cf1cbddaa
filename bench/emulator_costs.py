"""The embedded AWS as its own process, with the CPU it spends on each operation accounted.

    .venv/bin/python bench/emulator_costs.py PORT OUT.json

Serves exactly what `cloudthrift aws-emulator` serves (services/embedded_aws.py, its moto patches
included) and wraps the application in an accountant: each request's operation (X-Amz-Target's, or the
query protocol's `Action=`) and the CPU time of the thread that served it, from the moment it reached
the application to its last byte of body. Waiting for the DynamoDB lock is not CPU, so it is not
counted. Requests of clients whose User-Agent names the app id `WORKER_APP` (tests/chaos.py gives it
to the workers through AWS_SDK_UA_APP_ID) are counted apart from the others (the harness's seeding
and watching). On SIGTERM it writes {"worker" | "other": {operation: {"requests": n, "cpu_ms": t}}}.

bench/chaos.py starts it with `--emulator-costs`: the emulator's CPU per decision, by operation.
"""

from __future__ import annotations

import io
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from services import embedded_aws

WORKER_APP = "chaos-worker"
_lock = threading.Lock()
_costs: dict[tuple[str, str], list[float]] = {}


def operation(environ: dict[str, Any]) -> str:
    """The operation a request asks for (DynamoDB's on a card record named apart); the body is read
    and put back for the application."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        name = str(target).rsplit(".", 1)[-1]
        # A group card's record (`card#...`) is told apart from a decision's: its size differs.
        return f"{name} card" if b'"pk": {"S": "card#' in body or b'"pk":{"S":"card#' in body else name
    if body.startswith(b"Action="):
        return body[7:].split(b"&", 1)[0].decode()
    return f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO', '')[:20]}"


def accounted(app: embedded_aws.WsgiApp) -> embedded_aws.WsgiApp:
    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        name = operation(environ)
        who = "worker" if f"app/{WORKER_APP}" in environ.get("HTTP_USER_AGENT", "") else "other"
        started = time.thread_time()
        body = list(app(environ, start_response))
        spent = time.thread_time() - started
        with _lock:
            entry = _costs.setdefault((who, name), [0, 0.0])
            entry[0] += 1
            entry[1] += spent
        return body

    return serve


def main() -> int:
    port, out = int(sys.argv[1]), Path(sys.argv[2])
    serialised = embedded_aws.serialise_dynamodb
    # Inside the DynamoDB lock, so the lock's wait is not counted as an operation's time.
    embedded_aws.serialise_dynamodb = lambda app: serialised(accounted(app))  # type: ignore[assignment]
    server = embedded_aws.EmbeddedAws(port=port)
    print(server.start(), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop()
    costs: dict[str, dict[str, dict[str, float]]] = {"worker": {}, "other": {}}
    with _lock:
        for (who, name), (n, spent) in sorted(_costs.items()):
            costs[who][name] = {"requests": int(n), "cpu_ms": round(1000 * spent, 1)}
    out.write_text(json.dumps(costs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
