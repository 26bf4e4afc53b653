"""A self-hosted server that streams no usage, seen from Slack: Show layers marks the answer's token total
(counted from the text) with ≈, and `/moa usage` marks its totals and says what ≈ means."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from bot.commands.usage import ESTIMATE_NOTE
from bot.settings import Settings
from tests.adapters.slack.conftest import SlackWorld
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack


@pytest_asyncio.fixture
async def local_world(tmp_path: Path) -> AsyncIterator[SlackWorld]:
    agents = {f"agent_{i}": {"model_name": "local:tiny", "system_prompt": f"You are agent {i}. {{helper_response}}"}
              for i in (1, 2)}
    config = tmp_path / "moa.json"
    config.write_text(json.dumps({"main_model": "local:tiny", "cycles": 1, "layer_agent_config": agents}))
    async with FakeGroq.local(["tiny"], usage_mode="never") as server, FakeSlack() as slack:
        world = SlackWorld(server, slack, tmp_path / "moa.db")
        world.env |= {"MOA_PROVIDERS": f"local={server.openai_base_url}", "MOA_CONFIG": str(config)}
        world.settings = Settings.load(env=world.env)
        await world.start()
        try:
            yield world
        finally:
            await world.send.aclose()
            await world.stop()


def _sections(message: dict[str, Any]) -> str:
    return "\n".join(b["text"]["text"] for b in message.get("blocks", []) if b.get("type") == "section")


async def test_show_layers_and_moa_usage_mark_tokens_the_server_did_not_count(local_world: SlackWorld) -> None:
    world = local_world
    ts = await world.send.mention("why is the sky blue?")

    def answered(slack: FakeSlack) -> bool:
        msgs = slack.thread("C0GENERAL", ts)
        return bool(msgs) and bool(msgs[-1].buttons) and not msgs[-1].streaming

    await world.slack.wait_for(answered)
    answer = world.slack.thread("C0GENERAL", ts)[-1]
    assert await world.send.press(answer, user="U0BOB") == 200
    await world.slack.wait_for(lambda s: bool(s.ephemerals))
    layers = "\n".join(_sections(e) for e in world.slack.ephemerals)
    [final] = [line for line in layers.splitlines() if "Final answer by" in line]
    assert "≈" in final and "tokens in all" in final, final

    assert await world.send.command("usage", user="U0BOB", response="usage") == 200
    await world.slack.wait_for(lambda s: any(r["_url"] == "usage" for r in s.responses))
    reply = "\n".join(r["text"] for r in world.slack.responses if r["_url"] == "usage")
    [tokens_out] = [line.split() for line in reply.splitlines() if line.startswith("tokens out")]
    assert all(cell.startswith("≈") for cell in tokens_out[2:]), reply  # today, 7 and 30 days
    assert ESTIMATE_NOTE in reply
