"""The console chat (`moa-bot run` on a terminal) on a self-hosted server that answers one call at a time,
as a newcomer without a Groq key uses it: the real process on a pseudo-terminal against the fake in
local mode."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from tests.bot.app.helpers import Terminal, clean_env, two_by_two
from tests.fakes.groq_server import FakeGroq


def console(tmp_path: Path, providers: str, config: Path) -> Terminal:
    env = clean_env(MOA_PROVIDERS=providers, MOA_CONFIG=str(config), MOA_DB_PATH=str(tmp_path / "moa.db"),
                    COLUMNS="200", TERM="dumb")
    return Terminal([sys.executable, "-m", "bot", "run"], tmp_path, env)


async def test_the_console_names_attached_files_times_agents_apart_and_prints_usage_without_fences(
        tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("the sky is blue\n", encoding="utf-8")
    async with FakeGroq.local(["tiny"], latency=0.3) as server:
        term = console(tmp_path, f"local={server.openai_base_url}", two_by_two(tmp_path))
        try:
            await term.expect("moa-bot console")
            term.type("what do my notes say? @notes.txt")
            await term.expect("📎 notes.txt attached (16 bytes).")
            screen = await term.expect("Done in")
            # Each layer's two agents go out together; the second waits while the server answers the first.
            assert re.search(r"✓ agent_\d · local:tiny · [\d.]+ s on the server \+ [\d.]+ s queued", screen), screen
            assert any("the sky is blue" in str(c.messages) for c in server.calls)  # the file reached the models
            term.type("/layers")  # the stored layer view keeps the wait apart too
            await term.expect("s queued · ")
            term.type("/moa usage")
            screen = await term.expect("By model")
            await term.expect("local:tiny", timeout=10)
            term.type("/quit")
            assert await asyncio.to_thread(term.proc.wait, 15) == 0
            assert "```" not in term.screen
        finally:
            term.close()

