"""The embedded AWS's answer to a service moto does not serve: one clean error, not a 500 and a traceback.

moto's server finds no backend for such a request (Recycle Bin is one: the scanner asks it which rules
cover snapshots and images) and then fails inside its own dispatcher with an AttributeError, answering
500 with an HTML page and printing a 25-line traceback on the console of `cloudthrift local` for every
request. A 500 is also what botocore retries: each call cost 4 retries (~1.4 s) before it gave up.

Here the dispatcher's backend factory answers such a request itself: 501 with the JSON error shape AWS
uses (`x-amzn-ErrorType: UnknownOperationException`), which botocore raises as a ClientError at once
(it retries 500, 502, 503 and 504, not 501). What asks such a service already treats an error as "not
known" (shared/kinds/recycle_bin.py), so nothing else changes. Served services are untouched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
UNSERVED_STATUS = "501 Not Implemented"
UNSERVED_ERROR = "UnknownOperationException"


def _unserved(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = json.dumps(
        {
            "__type": UNSERVED_ERROR,
            "message": "the embedded AWS (moto) does not serve this service; "
            "on real AWS this call would be answered",
        }
    ).encode()
    start_response(
        UNSERVED_STATUS,
        [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-ErrorType", UNSERVED_ERROR),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


def answer_unserved(create_backend_app: Callable[[str], Any]) -> Callable[[str | None], Any]:
    """moto's backend factory, answering for the backend moto found none for (`None`)."""

    def create_app(service: str | None) -> Any:
        if service is None:
            return _unserved
        return create_backend_app(service)

    return create_app
