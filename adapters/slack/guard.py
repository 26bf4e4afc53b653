"""The Slack HTTP endpoint protecting itself: a bound on open connections, idle ones closed.

A public port meets idle and half-open connections (scanners, slowloris, a flaky proxy). Unchecked, they
pile up until the process runs out of file descriptors and stops answering Slack at all. aiohttp closes
a connection that sends no complete request within its keep-alive timeout (we make that short); this
guard caps how many connections are open at once, closing the oldest *idle* one to make room, so a real
request always gets in. A request must also *arrive* within SLACK_ARRIVAL_TIMEOUT seconds (5 by default):
headers from the moment the connection opens, the body from the moment the headers end — a client that
trickles a byte a second is closed instead of holding a slot. A reverse proxy in front remains the
recommendation for public deployments.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from asyncio import Transport
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp.web_protocol import RequestHandler

from adapters.slack.shape import malformed

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 512  # well under the usual 1,024 descriptors: the bot needs some for Slack, Groq, SQLite
IDLE_TIMEOUT_S = 15.0  # a connection must send a whole request within this (Slack sends at once)
ARRIVAL_TIMEOUT_S = 5.0  # headers, then the body, must each arrive within this (Slack's are small)


class ConnectionGuard:
    """Caps `server`'s open connections; over the cap the oldest idle one is closed, else the newcomer."""

    def __init__(self, server: web.Server, max_connections: int = MAX_CONNECTIONS,
                 arrival_timeout_s: float | None = None, arriving: set[RequestHandler] | None = None) -> None:
        self._server = server
        self._arriving = arriving if arriving is not None else set()  # still reading a body (arrival_middleware)
        self._max = max_connections
        self._arrival_s = arrival_timeout_s  # None: no bound on headers beyond the idle timeout
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
            # Oldest first: a connection that sends nothing, else one whose body is still trickling in.
            victim = next((h for h in self._open if not _busy(h)), None) or next(
                (h for h in self._open if h in self._arriving), None)
            if victim is None:  # every connection is serving a request: the newcomer waits its turn elsewhere
                self._refuse(transport)
                return
            self._refuse(self._open.pop(victim))
        self._open[handler] = transport
        if self._arrival_s is not None:
            asyncio.get_running_loop().call_later(self._arrival_s, self._headers_due, handler)

    def _headers_due(self, handler: RequestHandler) -> None:
        # No request's headers have ended yet: a slow (or silent) client, closed to free its slot.
        transport = self._open.get(handler)
        if transport is not None and not getattr(handler, "_request_count", 1):
            self._open.pop(handler, None)
            self._refuse(transport, "slow to send a request")

    def _connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self._open.pop(handler, None)
        self._lost(handler, exc)

    def _refuse(self, transport: Transport, why: str = "") -> None:
        self.refused += 1
        transport.abort()
        now = time.monotonic()
        if now - self._last_warning > 60:  # one line a minute, not a flood
            self._last_warning = now
            if why:
                log.warning("closing connections to the Slack endpoint that are %s (%d so far); put a reverse "
                            "proxy in front of a public endpoint", why, self.refused)
            else:
                log.warning("more than %d connections to the Slack endpoint: closing idle ones (%d so far); "
                            "put a reverse proxy in front of a public endpoint", self._max, self.refused)


def _busy(handler: RequestHandler) -> bool:
    # aiohttp marks a handler while it runs a request; there is no public accessor.
    return bool(getattr(handler, "_request_in_progress", False))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def arrival_middleware(timeout_s: float, arriving: set[RequestHandler] | None = None) -> Middleware:
    """Read each request's body within `timeout_s` (else close the connection), and answer 400 to a body
    not shaped as Slack sends it (adapters/slack/shape.py) before bolt parses it. While a body is read its
    connection is in `arriving` (the ConnectionGuard may close it to make room)."""
    arriving = arriving if arriving is not None else set()

    @web.middleware
    async def arrival(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "POST":
            return await handler(request)
        arriving.add(request.protocol)
        try:
            async with asyncio.timeout(timeout_s):
                body = await request.read()  # kept by aiohttp: bolt reads it again from memory
        except web.HTTPException:
            raise  # e.g. 413 for a body beyond client_max_size: aiohttp answers it
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            if request.transport is not None:
                request.transport.abort()  # a trickling or vanished client: nothing to answer
            raise web.HTTPRequestTimeout() from None
        except Exception:  # a body cut short (aiohttp's payload errors): the client is gone
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPBadRequest(text="the request body ended early") from None
        finally:
            arriving.discard(request.protocol)
        reason = malformed(body, request.headers.get("Content-Type", ""))
        if reason is not None:
            log.info("refused a malformed request to %s: %s", request.path, reason)
            raise web.HTTPBadRequest(text=f"malformed Slack request: {reason}")
        return await handler(request)

    return arrival


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
