"""Serve the Slack app: HTTP on SLACK_HOST:SLACK_PORT at /slack/events, or Socket Mode with SLACK_APP_TOKEN."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from adapters.slack.app import build_slack_app, recover_unfinished
from adapters.slack.guard import (
    ARRIVAL_TIMEOUT_S,
    IDLE_TIMEOUT_S,
    MAX_CONNECTIONS,
    ConnectionGuard,
    arrival_middleware,
    quiet_accept_errors,
    raise_descriptor_limit,
    runner_options,
)
from bot.checks.preflight import port_error_sentence
from bot.conversation.service import ConversationService
from bot.observe.health import Health, add_status_routes
from bot.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"  # events, slash commands and interactivity all arrive here


class PortUnavailable(RuntimeError):
    """SLACK_PORT cannot be listened on; the message is the sentence for the operator."""


async def start_http(app: AsyncApp, host: str, port: int, health: Health | None = None, *,
                     max_connections: int = MAX_CONNECTIONS,
                     idle_timeout_s: float = IDLE_TIMEOUT_S,
                     arrival_timeout_s: float = ARRIVAL_TIMEOUT_S) -> tuple[web.AppRunner, int]:
    """Serve `app` over HTTP (port 0 picks a free one), with /healthz and /metrics when `health` is
    given; returns the runner and the bound port.

    Idle and half-open connections time out, a request must arrive within `arrival_timeout_s`, malformed
    ones get a 400, and open connections are capped (adapters/slack/guard.py).
    """
    raise_descriptor_limit()
    quiet_accept_errors()
    web_app = app.web_app(path=EVENTS_PATH, port=port)
    arriving: set[RequestHandler] = set()  # connections whose request body is still coming in
    web_app.middlewares.append(arrival_middleware(arrival_timeout_s, arriving))
    if health is not None:
        add_status_routes(web_app, health)
    runner = web.AppRunner(web_app, shutdown_timeout=1.0, access_log=None, **runner_options(idle_timeout_s))
    await runner.setup()
    assert runner.server is not None
    ConnectionGuard(runner.server, max_connections, arrival_timeout_s, arriving)
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as err:
        await runner.cleanup()
        raise PortUnavailable(port_error_sentence("SLACK_PORT", host, port, err)) from None
    sockets = getattr(site._server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, int(bound)


async def run_slack(settings: Settings, service: ConversationService, stop: asyncio.Event,
                    health: Health | None = None) -> None:
    """Run the Slack adapter until `stop` is set; `health` learns whether its connection is up."""
    app = build_slack_app(settings, service)
    notices = asyncio.create_task(recover_unfinished(app.client, service))
    if settings.slack_app_token:
        handler = AsyncSocketModeHandler(app, settings.slack_app_token)
        # slack_bolt's Socket Mode handler leaves connect_async/close_async unannotated
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("Slack: connected in Socket Mode")
        if health is not None:
            health.watch("slack", lambda: _socket_state(handler))
        try:
            await stop.wait()
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]
            await notices
        return
    runner, port = await start_http(app, settings.slack_host, settings.slack_port, health,
                                    arrival_timeout_s=settings.slack_arrival_timeout_s)
    log.info("Slack: listening on http://%s:%d%s", settings.slack_host, port, EVENTS_PATH)
    if health is not None:
        health.watch("slack", lambda: None)  # HTTP mode: Slack calls us; listening is being up
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await notices


def _socket_state(handler: AsyncSocketModeHandler) -> str | None:
    """None while the Socket Mode WebSocket is open, else why not."""
    client = handler.client
    session = getattr(client, "current_session", None)
    if client.closed:
        return "Socket Mode client closed"
    if session is None or session.closed:
        return "Socket Mode reconnecting"
    return None
