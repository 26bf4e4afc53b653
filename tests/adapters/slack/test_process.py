"""The real `moa-bot run`, configured only by environment: a signed mention in, an answer out, clean SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from tests.adapters.slack.helpers import SECRET, start_bot
from tests.bot.process import free_port
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeMessage, FakeSlack, SlackSender
from tests.faults import age_runs, wait_for_runs


async def test_moa_bot_run_answers_a_signed_mention_and_exits_cleanly_on_sigterm(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    port = free_port()
    async with FakeSlack() as slack:
        proc = await start_bot(slack, fake_groq, tmp_path, port)
        sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
        try:
            ts = await sender.mention("hello from a real process")

            def answered(s: FakeSlack) -> bool:
                msgs = s.thread("C0GENERAL", ts)
                return bool(msgs) and bool(msgs[-1].buttons) and not msgs[-1].streaming

            await slack.wait_for(answered, timeout=10)
            assert "says: hello from a real process" in slack.thread_answer("C0GENERAL", ts)
            proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), timeout=10)
        finally:
            await sender.aclose()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, stderr.decode()[-2000:]
        assert b"gsk_test" not in stderr and SECRET.encode() not in stderr and slack.token.encode() not in stderr


async def _crash_while_answering(slack: FakeSlack, sender: SlackSender, groq: FakeGroq, tmp_path: Path,
                                 port: int, question: str) -> tuple[str, FakeMessage]:
    """Start the bot, ask, kill -9 it mid-answer; returns the mention's ts and the status it left frozen."""
    groq.latency = 30.0  # the answer is still being written when the process dies
    proc = await start_bot(slack, groq, tmp_path, port)
    try:
        ts = await sender.mention(question)
        await groq.wait_for(lambda f: len(f.calls) >= 3)
        [status] = await slack.wait_for(lambda s: [
            m for m in s.thread("C0GENERAL", ts) if any(t["status"] == "in_progress" for t in m.tasks.values())])
    finally:
        proc.kill()  # no SIGTERM, no goodbye: nothing told the asker yet
        await proc.wait()
    assert status.streaming
    return ts, status


async def test_a_recent_question_cut_off_by_a_crash_is_answered_in_place_of_its_frozen_status(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    port = free_port()
    async with FakeSlack() as slack:
        sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
        try:
            ts, status = await _crash_while_answering(slack, sender, fake_groq, tmp_path, port, "cut me off")
            fake_groq.latency = 0.0
            proc = await start_bot(slack, fake_groq, tmp_path, port)

            def answered(s: FakeSlack) -> bool:
                return bool(s.messages[status.ts].buttons) and not s.messages[status.ts].streaming

            await slack.wait_for(answered, timeout=15)
            replies = slack.thread("C0GENERAL", ts)
            assert [m.ts for m in replies] == [status.ts]  # the old status became the answer: nothing beside it
            assert "says: cut me off" in replies[0].markdown
            assert "I restarted while answering this" in json.dumps(replies[0].blocks)
            assert not any(t["status"] == "in_progress" for t in replies[0].tasks.values())
        finally:
            await sender.aclose()
            await _stop(locals().get("proc"))


async def test_an_old_question_cut_off_by_a_crash_is_told_to_ask_again_in_place_of_its_status(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    port = free_port()
    async with FakeSlack() as slack:
        sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
        try:
            ts, status = await _crash_while_answering(slack, sender, fake_groq, tmp_path, port, "an old one")
            age_runs(tmp_path / "moa.db", 3600)  # the bot stayed down for an hour
            asked = len(fake_groq.calls)
            proc = await start_bot(slack, fake_groq, tmp_path, port)

            await slack.wait_for(lambda s: "please ask again" in s.messages[status.ts].markdown, timeout=15)
            replies = slack.thread("C0GENERAL", ts)
            assert [m.ts for m in replies] == [status.ts]
            assert not replies[0].streaming and not replies[0].buttons
            assert len(fake_groq.calls) == asked  # nothing was asked of the models again
        finally:
            await sender.aclose()
            await _stop(locals().get("proc"))


async def _stop(proc: asyncio.subprocess.Process | None) -> None:
    if proc is not None and proc.returncode is None:
        proc.kill()
        await proc.wait()


async def test_a_question_waiting_in_the_queue_when_the_process_is_killed_is_answered_after_restart(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    fake_groq.latency = 30.0  # the first answer holds the channel's only slot
    port = free_port()
    async with FakeSlack() as slack:
        sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
        proc: asyncio.subprocess.Process | None = await start_bot(slack, fake_groq, tmp_path, port)
        try:
            first = await sender.mention("first, slow")
            await fake_groq.wait_for(lambda f: len(f.calls) >= 3)
            waiting = await sender.mention("second, waiting its turn")
            [queued] = await slack.wait_for(lambda s: s.thread("C0GENERAL", waiting))
            assert proc is not None
            # The status is posted, then its place recorded: kill only once both happened.
            await wait_for_runs(tmp_path / "moa.db", lambda rows: all(r["surface"] for r in rows))
            proc.kill()
            await proc.wait()

            fake_groq.latency = 0.0
            proc = await start_bot(slack, fake_groq, tmp_path, port)
            for ts, words in ((first, "first, slow"), (waiting, "second, waiting its turn")):
                await slack.wait_for(_answered_in_one_message(ts), timeout=20)
                [answer] = slack.thread("C0GENERAL", ts)
                assert f"says: {words}" in answer.markdown
            assert slack.thread("C0GENERAL", waiting)[0].ts == queued.ts  # "queued" became the answer
        finally:
            await sender.aclose()
            await _stop(proc)


def _answered_in_one_message(ts: str):
    def check(slack: FakeSlack) -> bool:
        messages = slack.thread("C0GENERAL", ts)
        return len(messages) == 1 and bool(messages[0].buttons) and not messages[0].streaming
    return check
