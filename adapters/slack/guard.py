"""The Slack HTTP endpoint protecting itself: a bound on open connections, idle ones closed.

A public port meets idle and half-open connections (scanners, slowloris, a flaky proxy). Unchecked, they
pile up until the process runs out of file descriptors and stops answering Slack at all. aiohttp closes
a connection that sends no complete request within its keep-alive timeout (we make that short); this
guard caps how many connections are open at once, closing the oldest *idle* one to make room, so a real
request always gets in. A reverse proxy in front remains the recommendation for public deployments.
"""

from __future__ import annotations

import logging
import resource
import time
from asyncio import Transport
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 512  # well under the usual 1,024 descriptors: the bot needs some for Slack, Groq, SQLite
IDLE_TIMEOUT_S = 15.0  # a connection must send a whole request within this (Slack sends at once)


class ConnectionGuard:
    """Caps `server`'s open connections; over the cap the oldest idle one is closed, else the newcomer."""

    def __init__(self, server: web.Server, max_connections: int = MAX_CONNECTIONS) -> None:
        self._server = server
        self._max = max_connections
        self._open: dict[RequestHandler, Transport] = {}  # insertion order: oldest first
        self.refused = 0  # connections closed to stay within the cap
        self._last_warning = 0.0
        self._made, self._lost = server.connection_made, server.connection_lost
        # aiohttp's handlers report to their server: hook those two calls on this instance.
        server.connection_made = self._connection_made  # type: ignore[method-assign]
        server.connection_lost = self._connection_lost  # type: ignore[method-assign]

    def _connection_made(self, handler: RequestHandler, transport: Transport) -> None:
        self._made(handler, transport)
        if len(self._open) >= self._max:
            victim = next((h for h in self._open if not _busy(h)), None)
            if victim is None:  # every connection is serving a request: the newcomer waits its turn elsewhere
                self._refuse(transport)
                return
            self._refuse(self._open.pop(victim))
        self._open[handler] = transport

    def _connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self._open.pop(handler, None)
        self._lost(handler, exc)

    def _refuse(self, transport: Transport) -> None:
        self.refused += 1
        transport.abort()
        now = time.monotonic()
        if now - self._last_warning > 60:  # one line a minute, not a flood
            self._last_warning = now
            log.warning("more than %d connections to the Slack endpoint: closing idle ones (%d so far); "
                        "put a reverse proxy in front of a public endpoint", self._max, self.refused)


def _busy(handler: RequestHandler) -> bool:
    # aiohttp marks a handler while it runs a request; there is no public accessor.
    return bool(getattr(handler, "_request_in_progress", False))


def runner_options(idle_timeout_s: float = IDLE_TIMEOUT_S) -> dict[str, Any]:
    """aiohttp server options: idle and half-open connections close after `idle_timeout_s`."""
    return {"keepalive_timeout": idle_timeout_s}


def raise_descriptor_limit() -> None:
    """Use every file descriptor the system allows this process (the soft limit is often 1,024)."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))
    except (ValueError, OSError):  # not allowed here: the cap above still protects us
        log.debug("could not raise the descriptor limit", exc_info=True)


def quiet_accept_errors() -> None:
    """Install AcceptErrorsOncePerMinute on asyncio's logger (once per process)."""
    logger = logging.getLogger("asyncio")
    if not any(isinstance(f, AcceptErrorsOncePerMinute) for f in logger.filters):
        logger.addFilter(AcceptErrorsOncePerMinute())


class AcceptErrorsOncePerMinute(logging.Filter):
    """asyncio logs every failed accept() when descriptors run out: keep one line a minute of them."""

    def __init__(self) -> None:
        super().__init__()
        self._last = float("-inf")

    def filter(self, record: logging.LogRecord) -> bool:
        if "out of system resource" not in record.getMessage():
            return True
        now = time.monotonic()
        if now - self._last < 60:
            return False
        self._last = now
        return True
