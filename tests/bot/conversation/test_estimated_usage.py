"""A server that streams no usage despite include_usage, from end to end through the real SDK: the run's
tokens are estimated from the text, stored as estimated, and marked ≈ in the layer view, in `/moa usage`
and in `moa-bot usage` (tables and JSON)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from bot.commands.usage import ESTIMATE_NOTE
from bot.conversation.service import CommandContext, ConversationService
from bot.text.render import PLAIN, render_layers
from tests.bot.app.helpers import clean_env
from tests.bot.conversation.helpers import GENERAL, RecordingSurface, admin, mention, settings_for
from tests.fakes.groq_server import FakeGroq


def local_config(tmp_path: Path) -> Path:
    """A MOA_CONFIG file: one layer of two agents and the aggregator, all on the local server."""
    agents = {f"agent_{i}": {"model_name": "local:tiny", "system_prompt": f"You are agent {i}. {{helper_response}}"}
              for i in (1, 2)}
    path = tmp_path / "moa.json"
    path.write_text(json.dumps({"main_model": "local:tiny", "cycles": 1, "layer_agent_config": agents}))
    return path


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeGroq]:
    async with FakeGroq.local(["tiny"], usage_mode="never") as fake:
        yield fake


@pytest_asyncio.fixture
async def service(server: FakeGroq, tmp_path: Path) -> AsyncIterator[ConversationService]:
    svc = await ConversationService.create(settings_for(
        server, tmp_path / "moa.db", MOA_PROVIDERS=f"local={server.openai_base_url}",
        MOA_CONFIG=str(local_config(tmp_path))))
    yield svc
    await svc.aclose()


async def _usage_command(db: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "usage", *args, cwd=db.parent,
        env=clean_env(MOA_DB_PATH=str(db), COLUMNS="200"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)  # a hang guard, not a bound
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_an_answer_whose_server_counted_nothing_is_marked_estimated_everywhere(
        service: ConversationService, server: FakeGroq, tmp_path: Path) -> None:
    surface = RecordingSurface()
    run_id = await service.handle_mention(mention("why is the sky blue?"), surface)
    assert run_id is not None and surface.final is not None
    streamed = [c for c in server.calls if c.stream]
    assert streamed and all(c.body.get("stream_options", {}).get("include_usage") for c in streamed)

    run = await service.db.runs.get(run_id, GENERAL)
    assert run is not None and run.usage_estimated and run.completion_tokens
    # The proposers' calls were not streamed: their server counted them, so they are not marked.
    assert run.proposers and not any(p.usage_estimated for p in run.proposers)
    shown = render_layers(run, PLAIN)
    [final] = [line for line in shown.splitlines() if "Final answer by" in line]
    assert f"≈{run.prompt_tokens:,} → ≈{run.completion_tokens:,} tokens in all" in final
    assert shown.count("≈") == 2  # only the total; each proposer's count is the server's own

    reply = await service.run_command(CommandContext(GENERAL, "U1", admin), "usage")
    [tokens_out] = [line.split() for line in reply.text.splitlines() if line.startswith("tokens out")]
    assert all(cell.startswith("≈") for cell in tokens_out[2:]), tokens_out  # today, 7 and 30 days
    assert ESTIMATE_NOTE in reply.text
    await service.aclose()  # `moa-bot usage` reads the file the bot wrote

    tables = await _usage_command(tmp_path / "moa.db")
    assert "≈" in tables and ESTIMATE_NOTE in tables
    report = json.loads(await _usage_command(tmp_path / "moa.db", "--json"))
    assert report["periods"]["today"]["answers_estimated"] == 1
    assert {m["model"]: m["calls_estimated"] for m in report["models"]} == {"local:tiny": 1}  # the aggregator


async def test_an_answer_whose_server_counted_everything_has_no_mark(tmp_path: Path) -> None:
    async with FakeGroq.local(["tiny"]) as server:
        svc = await ConversationService.create(settings_for(
            server, tmp_path / "moa.db", MOA_PROVIDERS=f"local={server.openai_base_url}",
            MOA_CONFIG=str(local_config(tmp_path))))
        try:
            run_id = await svc.handle_mention(mention("why is the sky blue?"), RecordingSurface())
            assert run_id is not None
            run = await svc.db.runs.get(run_id, GENERAL)
            assert run is not None and not run.usage_estimated and run.completion_tokens
            assert "≈" not in render_layers(run, PLAIN)
            reply = await svc.run_command(CommandContext(GENERAL, "U1", admin), "usage")
            assert "≈" not in reply.text
        finally:
            await svc.aclose()


async def test_impossible_usage_figures_are_estimated_from_the_text_never_zero(tmp_path: Path) -> None:
    for wrong in ({"prompt_tokens": -5, "completion_tokens": 12}, {"prompt_tokens": 10, "completion_tokens": 1e30},
                  {"prompt_tokens": "many", "completion_tokens": "few"}):
        async with FakeGroq.local(["tiny"]) as server:
            server.reported_usage = wrong
            svc = await ConversationService.create(settings_for(
                server, tmp_path / f"moa{len(server.calls)}-{id(wrong)}.db",
                MOA_PROVIDERS=f"local={server.openai_base_url}", MOA_CONFIG=str(local_config(tmp_path))))
            try:
                run_id = await svc.handle_mention(mention("why is the sky blue?"), RecordingSurface())
                assert run_id is not None
                run = await svc.db.runs.get(run_id, GENERAL)
                assert run is not None and run.usage_estimated, wrong
                assert 0 < run.prompt_tokens < 10**6 and 0 < run.completion_tokens < 10**6, wrong
                assert all(p.usage_estimated and p.completion_tokens > 0 for p in run.proposers), wrong
                assert "≈" in render_layers(run, PLAIN)
            finally:
                await svc.aclose()
