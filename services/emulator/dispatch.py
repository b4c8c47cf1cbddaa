"""The embedded AWS's request dispatch, minus a directory listing per request under a global lock.

moto's server finds the backend of every request in `DomainDispatcherApplication.get_application`,
holding one lock for the whole server while it does. There, `get_backend_for_host` first asks
`host in backends.list_of_moto_modules()`, a generator that lists moto's package directory and stats
each of its ~170 entries, every time; then it matches the host against some hundreds of URL patterns. A
request's host is something like `sqs.us-east-1.amazonaws.com`, never a module name, so every request
paid for the whole listing, one request at a time across the server (py-spy on the emulator during a
scan's publish: about a seventh of moto's samples, bench/README.md).

Both answers depend only on what is installed and on the host string: the package's directories do not
change while the process runs, and the URL patterns are moto's constant index. So the listing is taken
once (a tuple, which `in` reads the same way) and the backend found for each host is remembered; a
host no backend matches is not remembered, so moto still says so each time. Installed once per process
by `memoise_dispatch()`, from services/embedded_aws.py.
"""

from __future__ import annotations

import functools
from typing import Any

_INSTALLED = "_cloudthrift_memoised"


def memoise_dispatch() -> None:
    """Cache moto's module listing and its backend per host (once per process)."""
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication, _INSTALLED, False):
        return
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
    find = DomainDispatcherApplication.get_backend_for_host
    known: dict[str, Any] = {}

    @functools.wraps(find)
    def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        if host is not None and host in known:
            return known[host]
        backend = find(self, host)
        if host is not None and backend:
            known[host] = backend
        return backend

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
    setattr(DomainDispatcherApplication, _INSTALLED, True)
