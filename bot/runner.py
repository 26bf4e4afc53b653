"""`moa-bot run`: every configured adapter in one process, over one service, with a clean SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import Any

from bot.service import ConversationService
from bot.settings import Settings

log = logging.getLogger(__name__)

ADAPTER_STOP_TIMEOUT_S = 10.0


def _adapters(settings: Settings, service: ConversationService,
              stop: asyncio.Event) -> dict[str, Coroutine[Any, Any, None]]:
    adapters: dict[str, Coroutine[Any, Any, None]] = {}
    if settings.slack_enabled:
        from adapters.slack.server import run_slack

        adapters["slack"] = run_slack(settings, service, stop)
    if settings.discord_enabled:
        from adapters.discord.runner import run_discord

        adapters["discord"] = run_discord(settings, service, stop)
    return adapters


async def run_adapters(settings: Settings) -> int:
    """Serve until SIGTERM/SIGINT or an adapter fails; drain answers in flight, then stop."""
    service = await ConversationService.create(settings)
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, shutdown.set)

    stop_adapters = asyncio.Event()
    tasks = {asyncio.create_task(coro, name=name): name
             for name, coro in _adapters(settings, service, stop_adapters).items()}
    log.info("moa-bot running: %s", ", ".join(tasks.values()))
    waiter: asyncio.Task[object] = asyncio.create_task(shutdown.wait())
    done, _ = await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    exit_code = 0
    for task in [t for t in tasks if t in done]:
        name = tasks[task]
        err = task.exception()
        if err is not None:
            log.error("the %s adapter stopped: %s", name, err, exc_info=err)
        else:
            log.error("the %s adapter stopped unexpectedly", name)
        exit_code = 1
    waiter.cancel()

    log.info("shutting down: finishing %d answers in flight", service.busy)
    await service.drain()  # adapters stay up so answers in flight can still be posted
    stop_adapters.set()
    running = [t for t in tasks if not t.done()]
    if running:
        _, late = await asyncio.wait(running, timeout=ADAPTER_STOP_TIMEOUT_S)
        for task in late:
            task.cancel()
    await service.aclose()
    log.info("stopped")
    return exit_code
