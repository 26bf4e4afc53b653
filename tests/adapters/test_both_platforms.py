"""One `moa-bot run` process with both tokens set answers on Slack and on Discord, and stops cleanly."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from tests.adapters.discord.conftest import bot_env
from tests.adapters.discord.helpers import answers
from tests.adapters.slack.helpers import SECRET, wait_for_port
from tests.bot.process import free_port
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.fixtures import fake_groq
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack, SlackSender

__all__ = ["fake_groq"]


async def test_one_process_answers_on_slack_and_discord(fake_groq: FakeGroq, tmp_path: Path) -> None:
    port = free_port()
    async with FakeDiscord() as discord, FakeSlack() as slack:
        env = bot_env(discord, fake_groq, tmp_path / "moa.db", SLACK_BOT_TOKEN=slack.token,
                      SLACK_SIGNING_SECRET=SECRET, SLACK_PORT=str(port), SLACK_HOST="127.0.0.1",
                      SLACK_API_URL=slack.api_url)
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
                                                    stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
        try:
            await wait_for_port(port, proc)
            await discord.wait_for(lambda f: f.identifies and f.connected, timeout=10)

            question = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} from Discord")
            ts = await sender.mention("from Slack")

            [answer] = await discord.wait_for(lambda f: answers(f, question["id"]), timeout=10)
            assert "says: from Discord" in answer["content"]
            await slack.wait_for(lambda s: any(m.buttons for m in s.thread("C0GENERAL", ts)), timeout=10)
            assert "says: from Slack" in slack.thread_answer("C0GENERAL", ts)

            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 15)
        finally:
            await sender.aclose()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, err.decode()[-2000:]
        assert "discord" in err.decode() and "slack" in err.decode()  # "moa-bot running: slack, discord"
