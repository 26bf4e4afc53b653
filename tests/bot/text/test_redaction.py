"""One redaction for everything a person sees: passwords in provider URLs and keys quoted back in a
provider's error body never reach the channel, the layer view, `doctor`, `moa-bot ask` or the logs."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from aiohttp import web

from bot.conversation.service import ConversationService
from bot.observe.logs import RedactSecrets
from bot.settings import Settings
from bot.text.redact import Redactor, redact
from bot.text.render import PLAIN, render_layers
from tests.bot.conversation.helpers import GENERAL, RecordingSurface, mention
from tests.bot.process import free_port
from tests.faults import process_env

LOCAL_KEY = "sk-local-Zq8rT2vW9xY4uP7mK3nB"


class QuotingProvider:
    """An OpenAI-compatible server that refuses every key with a 401 quoting the Authorization header."""

    def __init__(self) -> None:
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> QuotingProvider:
        async def refuse(request: web.Request) -> web.Response:
            quoted = request.headers.get("Authorization", "")
            body = {"error": {"message": f"Invalid credentials in header Authorization: {quoted}",
                              "type": "invalid_request_error", "code": "invalid_api_key"}}
            return web.json_response(body, status=401)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", refuse)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest_asyncio.fixture
async def quoting() -> AsyncIterator[QuotingProvider]:
    async with QuotingProvider() as provider:
        yield provider


def _local_config(tmp_path: Path) -> Path:
    agent = {"system_prompt": "Answer. {helper_response}", "model_name": "loc:llama"}
    path = tmp_path / "local.json"
    path.write_text(json.dumps({"main_model": "loc:llama", "cycles": 1,
                                "layer_agent_config": {"a": agent, "b": agent}}))
    return path


def test_the_redactor_hides_url_passwords_authorization_values_and_keys() -> None:
    assert redact("GET http://bob:PASS@127.0.0.1:9/v1 failed") == "GET http://bob:***@127.0.0.1:9/v1 failed"
    assert redact('{"authorization": "Bearer abc.def-123"}') == '{"authorization": "Bearer ***"}'
    assert redact("Authorization: Basic Ym9iOlBBU1M=") == "Authorization: Basic ***"
    assert "gsk_" not in redact("key gsk_0123456789abcdefXYZ refused")
    assert redact("my hunter2-token here", ["hunter2-token"]) == "my *** here"
    assert redact("see https://example.com/v1 and user@host") == "see https://example.com/v1 and user@host"


async def _ask_in_chat(env: dict[str, str], question: str) -> tuple[RecordingSurface, list[str]]:
    """Ask through the service; returns the surface and every text it and the layer view showed."""
    service = await ConversationService.create(Settings.load(env=env))
    try:
        surface = RecordingSurface()
        run_id = await service.handle_mention(mention(question), surface)
        shown = [repr(p) for _, p in surface.progress] + [surface.failure or ""]
        run = await service.reveal_layers(GENERAL, run_id=run_id) if run_id else None
        if run is not None:
            shown.append(render_layers(run, PLAIN))
    finally:
        await service.aclose()
    return surface, shown


def _chat_env(tmp_path: Path, providers: str, **extra: str) -> dict[str, str]:
    return {"MOA_PROVIDERS": providers, "MOA_CONFIG": str(_local_config(tmp_path)),
            "MOA_DB_PATH": str(tmp_path / "moa.db"), "MOA_CALL_TIMEOUT": "2", "MOA_RUN_DEADLINE": "10",
            "MOA_RETRY_ATTEMPTS": "1", "MOA_RETRY_BACKOFF": "0.01", **extra}


async def test_a_provider_url_password_never_reaches_progress_the_failure_or_the_layer_view(tmp_path: Path) -> None:
    env = _chat_env(tmp_path, f"loc=http://bob:PASS@127.0.0.1:{free_port()}/v1")
    surface, shown = await _ask_in_chat(env, "anyone home?")
    assert surface.failure is not None and "bob:***@127.0.0.1" in surface.failure  # named, password hidden
    assert not any("PASS" in text for text in shown), shown


def test_log_records_are_redacted_even_with_no_configured_secret() -> None:
    record = logging.LogRecord("moa", logging.WARNING, __file__, 1, "calling %s with %s", (
        "http://bob:PASS@host/v1", "Authorization: Bearer abcdef123456"), None)
    RedactSecrets(Redactor()).filter(record)
    assert record.getMessage() == "calling http://bob:***@host/v1 with Authorization: Bearer ***"


async def test_a_provider_401_quoting_the_key_never_reaches_chat(quoting: QuotingProvider, tmp_path: Path) -> None:
    env = _chat_env(tmp_path, f"loc=http://127.0.0.1:{quoting.port}/v1", MOA_PROVIDER_LOC_API_KEY=LOCAL_KEY)
    surface, shown = await _ask_in_chat(env, "let me in")
    assert surface.failure is not None
    assert not any(LOCAL_KEY in text or "Zq8rT2" in text for text in shown), shown


async def _printed(env: dict[str, str], cwd: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *args, env=env, cwd=cwd,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return out.decode() + err.decode()


async def test_doctor_and_ask_never_print_a_key_a_provider_quotes(quoting: QuotingProvider, tmp_path: Path) -> None:
    env = process_env(MOA_PROVIDERS=f"loc=http://127.0.0.1:{quoting.port}/v1", MOA_PROVIDER_LOC_API_KEY=LOCAL_KEY,
                      MOA_DB_PATH=str(tmp_path / "moa.db"), MOA_RETRY_ATTEMPTS="1", MOA_CALL_TIMEOUT="2",
                      COLUMNS="300")
    for args in (["doctor"], ["ask", "let me in", "--config", str(_local_config(tmp_path)), "--show-layers"]):
        printed = await _printed(env, tmp_path, *args)
        assert "Bearer ***" in printed or "401" in printed, printed  # the failure is shown…
        assert LOCAL_KEY not in printed and "Zq8rT2" not in printed, printed  # …without the key


async def test_ask_and_its_logs_never_print_a_password_in_a_provider_url(tmp_path: Path) -> None:
    env = process_env(MOA_PROVIDERS=f"loc=http://bob:PASS@127.0.0.1:{free_port()}/v1",
                      MOA_DB_PATH=str(tmp_path / "moa.db"), MOA_RETRY_ATTEMPTS="1", MOA_CALL_TIMEOUT="2",
                      MOA_LOG_LEVEL="DEBUG", COLUMNS="300")
    asked = await _printed(env, tmp_path, "ask", "anyone home?", "--config", str(_local_config(tmp_path)),
                           "--show-layers")
    assert "bob:***@127.0.0.1" in asked, asked  # the failing URL is named, its password is not
    checked = await _printed(env, tmp_path, "doctor")
    assert "PASS" not in asked + checked, asked + checked
