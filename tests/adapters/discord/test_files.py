"""Attachments on a Discord mention, through real discord.py: fetched from the CDN, read, or named."""

from __future__ import annotations

from tests.adapters.discord.conftest import RunningBot
from tests.adapters.discord.helpers import answers
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.files import pdf_with_text
from tests.fakes.groq_server import FakeGroq


async def test_an_attached_pdf_and_log_reach_the_models_and_an_archive_is_named(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    files = [discord.attachment(discord.general, "q3.pdf", "application/pdf", pdf_with_text("Revenue rose 12 percent")),
             discord.attachment(discord.general, "app.log", "text/plain", b"ERROR disk full on /var"),
             discord.attachment(discord.general, "backup.zip", "application/zip", b"PK\x03\x04")]
    question = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} what happened?",
                                 attachments=files)

    await discord.wait_for(lambda f: answers(f, question["id"]), timeout=10)
    assert fake_groq.calls
    for call in fake_groq.calls:
        assert "Revenue rose 12 percent" in call.question and "ERROR disk full on /var" in call.question
    texts = "\n".join(m["content"] for m in discord.bot_messages(thread_id=question["id"]))
    assert "I could not read backup.zip: it is an archive" in texts
    # downloaded from the CDN without the bot token; the archive not at all
    assert sorted(path.rsplit("/", 1)[1] for path, _ in discord.cdn_requests) == ["app.log", "q3.pdf"]
    assert all(auth == "" for _, auth in discord.cdn_requests)


async def test_a_mention_with_only_a_file_is_answered(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    notes = discord.attachment(discord.general, "todo.md", "text/markdown", b"- buy milk\n- call Ada")
    question = await discord.say(discord.general, discord.alice, discord.bot_mention, attachments=[notes])

    await discord.wait_for(lambda f: answers(f, question["id"]), timeout=10)
    assert all("- call Ada" in call.question for call in fake_groq.calls)
