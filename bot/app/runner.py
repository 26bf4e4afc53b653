"""`moa-bot run`: every configured adapter in one process, over one service, with a clean SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from adapters.platforms import PLATFORMS
from bot.checks.preflight import startup_checks
from bot.conversation.service import ConversationService
from bot.observe import metrics
from bot.observe.health import Health, start_status_server
from bot.settings import Settings

log = logging.getLogger(__name__)

ADAPTER_STOP_TIMEOUT_S = 10.0


def _adapters(settings: Settings, service: ConversationService, stop: asyncio.Event,
              health: Health) -> dict[str, Coroutine[Any, Any, None]]:
    return {platform.name: platform.run(settings, service, stop, health)
            for platform in PLATFORMS if platform.enabled(settings)}


def _health(service: ConversationService) -> Health:
    return Health(service.db.probe)  # a real round trip that raises when storage fails


def _stopped_because(name: str, err: BaseException) -> str | None:
    """The sentence for an adapter failure the operator can fix (no traceback then), else None."""
    return next((p.fatal_sentence(err) for p in PLATFORMS if p.name == name), None)


async def run_adapters(settings: Settings) -> int:
    """Open the database, check tokens, ports and MOA_CONFIG; serve until SIGTERM/SIGINT or an adapter
    fails; drain answers in flight, then stop. Exit code 2 (and one sentence per problem) when a check fails."""
    # The database first: its problems are local and its lock keeps a second process from going further.
    service = await ConversationService.create(settings)
    problems, warnings = await startup_checks(settings)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        await service.aclose()
        return 2
    for warning in warnings:
        log.warning("%s", warning)
    health = _health(service)
    metrics.watch_queue(lambda: service.queued)
    status: web.AppRunner | None = None
    if settings.status_port:
        status = await start_status_server(health, settings.slack_host, settings.status_port)
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, shutdown.set)

    stop_adapters = asyncio.Event()
    tasks = {asyncio.create_task(coro, name=name): name
             for name, coro in _adapters(settings, service, stop_adapters, health).items()}
    log.info("moa-bot running: %s", ", ".join(tasks.values()))
    waiter: asyncio.Task[object] = asyncio.create_task(shutdown.wait())
    done, _ = await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    exit_code = 0
    for task in [t for t in tasks if t in done]:
        name = tasks[task]
        health.forget(name)
        err = task.exception()
        if err is not None and (sentence := _stopped_because(name, err)) is not None:
            log.error("%s", sentence)
            exit_code = 2
            continue
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
    if status is not None:
        await status.cleanup()
    await service.aclose()
    log.info("stopped")
    return exit_code
