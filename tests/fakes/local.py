"""What every fake shares: serving on 127.0.0.1:0 and letting a test wait for a state with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

T = TypeVar("T")


async def serve(app: web.Application, *, handler_cancellation: bool = False) -> tuple[web.AppRunner, int]:
    """Start `app` on a free loopback port; returns the runner (to clean up) and the port."""
    # shutdown_timeout: teardown must not wait for handlers a client abandoned.
    runner = web.AppRunner(app, handler_cancellation=handler_cancellation, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    return runner, server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]


class Changes:
    """A condition a fake notifies whenever it records something; tests wait on it, never sleep."""

    def __init__(self, name: str, describe: Callable[[], str], recheck_s: float | None = None) -> None:
        self._name = name
        self._describe = describe  # what the fake saw, for the failure message
        self._recheck_s = recheck_s  # also re-check now and then (for state the fake is not told about)
        self._condition = asyncio.Condition()

    async def notify(self) -> None:
        async with self._condition:
            self._condition.notify_all()

    async def wait_for(self, predicate: Callable[[], T], timeout: float) -> T:
        """Wait until `predicate()` is truthy and return its value; TimeoutError says what was seen."""
        try:
            async with asyncio.timeout(timeout), self._condition:
                while not (value := predicate()):
                    if self._recheck_s is None:
                        await self._condition.wait()
                    else:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._condition.wait(), self._recheck_s)
                return value
        except TimeoutError:
            seen = self._describe()
            raise TimeoutError(f"{self._name}: condition not met within {timeout} s; saw:\n{seen}") from None
