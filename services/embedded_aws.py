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


class _OneBackupPerTable:
    """moto backs a table up before a TransactWriteItems by deep-copying it once per item of the
    transaction (the same table, up to 100 times), which makes a scan's first sightings quadratic in
    the ledger's size (bench/README.md). Within one transaction the table does not change before the
    backups are taken, so one copy per table is the same backup: this hands back the first one.
    Installed on moto's DynamoDB models module; anything but a Table is copied as before."""

    def __init__(self, real: Any, table_type: type) -> None:
        self._real, self._table_type = real, table_type
        self.memo: dict[int, Any] | None = None

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if self.memo is None or not isinstance(value, self._table_type):
            return self._real.deepcopy(value, memo)
        if id(value) not in self.memo:
            self.memo[id(value)] = self._real.deepcopy(value)
        return self.memo[id(value)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def back_up_tables_once() -> None:
    """Install `_OneBackupPerTable` (once per process). DynamoDB requests are serialised by
    `serialise_dynamodb`, so no two transactions share the memo."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    if isinstance(models.copy, _OneBackupPerTable):
        return
    shim = _OneBackupPerTable(models.copy, Table)
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        shim.memo = {}
        try:
            return original(self, transact_items)
        finally:
            shim.memo = None

    models.copy = shim  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


class EmbeddedAws:
    """Start/stop a moto server bound to loopback; `endpoint` is the AWS_ENDPOINT_URL to use."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        require_local_extra()
        self._host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        back_up_tables_once()
        app = serialise_dynamodb(DomainDispatcherApplication(create_backend_app))
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
