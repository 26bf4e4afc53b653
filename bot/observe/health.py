"""`GET /healthz` and `GET /metrics`: on SLACK_PORT in Slack HTTP mode, else on MOA_STATUS_PORT.

/healthz answers 200 when storage answers a query and at least one platform connection is up, else 503
with the reason; /metrics is `bot.observe.metrics` in Prometheus' text format.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.observe import metrics

log = logging.getLogger(__name__)

# A platform's probe: None when its connection is up, else why not.
Probe = Callable[[], str | None]


class Health:
    """The process's health: a storage check and one probe per platform adapter."""

    def __init__(self, storage: Callable[[], Awaitable[object]]) -> None:
        self._storage = storage
        self._platforms: dict[str, Probe] = {}

    def watch(self, platform: str, probe: Probe) -> None:
        """Ask `probe` about `platform` at every health check."""
        self._platforms[platform] = probe

    def forget(self, platform: str) -> None:
        self._platforms.pop(platform, None)

    async def report(self) -> tuple[bool, dict[str, object]]:
        """(healthy, what each part says)."""
        try:
            await self._storage()
            storage = "ok"
        except Exception as err:  # any storage failure is the answer, not a crash of the endpoint
            storage = f"failing: {err}"
        platforms = {name: probe() or "up" for name, probe in self._platforms.items()}
        up = [name for name, state in platforms.items() if state == "up"]
        reasons = []
        if storage != "ok":
            reasons.append(f"storage is {storage}")
        if not up:
            reasons.append("no platform connection is up" + (
                "" if platforms else " (no adapter has started)"))
        body: dict[str, object] = {"status": "ok" if not reasons else "unhealthy", "storage": storage,
                                   "platforms": platforms}
        if reasons:
            body["reason"] = "; ".join(reasons)
        return not reasons, body


def add_status_routes(app: web.Application, health: Health) -> None:
    """Serve /healthz and /metrics from `app`."""

    async def healthz(request: web.Request) -> web.Response:
        healthy, body = await health.report()
        return web.Response(text=json.dumps(body) + "\n", status=200 if healthy else 503,
                            content_type="application/json")

    async def metrics_page(request: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), headers={"Content-Type": metrics.CONTENT_TYPE})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)


async def start_status_server(health: Health, host: str, port: int) -> web.AppRunner:
    """/healthz and /metrics on their own port (MOA_STATUS_PORT)."""
    app = web.Application()
    add_status_routes(app, health)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("health and metrics on http://%s:%d/healthz and /metrics", host, port)
    return runner
