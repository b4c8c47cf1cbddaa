"""The embedded AWS of the local default and the tests: a moto server on loopback, in this process.

One difference from moto's own ThreadedMotoServer: DynamoDB requests are served one at a time. moto
checks a ConditionExpression and then writes, without a lock, so two concurrent conditional writes can
both pass on a threaded server. Real DynamoDB applies each conditional write atomically, and the
ledger's races (two executors claiming one approval) depend on that, so the emulator must too.
Everything else (SQS long polls above all) stays concurrent.

moto is the `local` extra, not a production dependency (the image leaves it out). Without it this module
still imports, and using the emulator raises LocalExtraMissing, a SettingsError: one line from the CLI.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from services.emulator.dispatch import memoise_dispatch
from services.emulator.executor_path import speed_up_executor_path
from services.emulator.query import speed_up_queries
from services.emulator.sqs import speed_up_sqs
from services.emulator.transactions import back_up_transactions_lightly
from services.emulator.unserved import answer_unserved
from shared.errors import SettingsError

try:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import BaseWSGIServer, make_server
except ModuleNotFoundError as exc:  # a production install: checked by require_local_extra()
    _MISSING: str | None = exc.name
else:
    _MISSING = None

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class LocalExtraMissing(SettingsError):
    """moto (or its server's dependencies) is not installed: a production install, without the extra."""


def require_local_extra() -> None:
    """Raise LocalExtraMissing, naming the fix, unless moto's server can be used in this install."""
    if _MISSING is not None:
        raise LocalExtraMissing(
            f"the embedded AWS needs {_MISSING}, which production installs leave out: "
            "install cloudthrift[local] (pip install 'cloudthrift[local]')"
        )


def serialise_dynamodb(app: WsgiApp) -> WsgiApp:
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))

    return serve


class EmbeddedAws:
    """Start/stop a moto server bound to loopback; `endpoint` is the AWS_ENDPOINT_URL to use."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        require_local_extra()
        self._host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        back_up_transactions_lightly()
        speed_up_sqs()
        memoise_dispatch()
        speed_up_executor_path()  # services/emulator/executor_path.py
        speed_up_queries()  # services/emulator/query.py (projected reads too)
        app = serialise_dynamodb(DomainDispatcherApplication(answer_unserved(create_backend_app)))
        self._server = make_server(
            self._host, self._port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-aws", daemon=True)
        self._thread.start()
        return self.endpoint

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
