"""Files on a Slack mention, through slack-bolt: read with the bot token from Slack's file host only."""

from __future__ import annotations

from typing import Any

from bot.settings import Settings
from tests.adapters.slack.conftest import SlackWorld
from tests.adapters.slack.helpers import answered
from tests.fakes.files import tiny_png


async def mention_with(world: SlackWorld, text: str, files: list[dict[str, Any]]) -> str:
    event = world.send.mention_event(text)
    event["files"] = files
    assert await world.send.event(event) == 200
    await world.slack.wait_for(answered("C0GENERAL", event["ts"]), timeout=10)
    return str(event["ts"])


def seen(world: SlackWorld, ts: str) -> str:
    return "\n".join(m.visible for m in world.slack.thread("C0GENERAL", ts))


async def test_a_text_files_content_reaches_every_model(world: SlackWorld) -> None:
    notes = world.slack.add_file("notes.txt", "text/plain", b"The launch moved to Thursday 14:00.")
    await mention_with(world, "when is the launch?", [notes])

    assert world.groq.calls
    assert all("The launch moved to Thursday 14:00." in call.question for call in world.groq.calls)
    assert world.slack.downloads == [(notes["url_private_download"].split("?")[0].removeprefix(world.slack.url),
                                      f"Bearer {world.slack.token}")]


async def test_an_image_reaches_only_the_agents_that_read_images(world: SlackWorld) -> None:
    world.env["MOA_VISION_MODELS"] = "qwen/qwen3.8-27b"
    world.settings = Settings.load(env=world.env)
    await world.restart()
    photo = world.slack.add_file("photo.png", "image/png", tiny_png())
    ts = await mention_with(world, "what colour is this?", [photo])

    for call in world.groq.calls:
        content = call.messages[-1]["content"]
        if call.model == "qwen/qwen3.8-27b":
            assert isinstance(content, list) and content[1]["image_url"]["url"].startswith("data:image/png")
        else:
            assert isinstance(content, str) and "photo.png" in content and "data:image" not in content
    assert {c.model for c in world.groq.calls} >= {"qwen/qwen3.8-27b", "openai/gpt-oss-20b"}
    answer = seen(world, ts)
    assert "photo.png was not shown to openai/gpt-oss-120b and openai/gpt-oss-20b, which read no images" in answer


async def test_an_unreadable_file_is_named_in_the_answer(world: SlackWorld) -> None:
    archive = world.slack.add_file("logs.zip", "application/zip", b"PK\x03\x04...")
    ts = await mention_with(world, "what went wrong?", [archive])

    answer = seen(world, ts)
    assert "says: what went wrong?" in answer  # the answer still came
    assert "I could not read logs.zip: it is an archive" in answer


async def test_an_oversized_file_is_refused_without_being_downloaded(world: SlackWorld) -> None:
    big = world.slack.add_file("dump.log", "text/plain", b"tiny", size=80_000_000)
    ts = await mention_with(world, "summarise the dump", [big])

    assert world.slack.downloads == []
    assert "I could not read dump.log: it is 80.0 MB, over the 8.0 MB limit" in seen(world, ts)


async def test_a_file_url_on_another_host_is_never_fetched_with_the_token(world: SlackWorld) -> None:
    port = world.slack.url.rsplit(":", 1)[1]
    # Same server, another host name: a URL an event names is trusted only on Slack's own file host.
    elsewhere = world.slack.add_file("notes.txt", "text/plain", b"secret plans", host=f"localhost:{port}")
    ts = await mention_with(world, "read this", [elsewhere])

    assert world.slack.downloads == []
    assert not any("secret plans" in call.question for call in world.groq.calls)
    assert "I could not read notes.txt: its address is not on Slack's file host" in seen(world, ts)


async def test_a_sign_in_page_is_not_taken_for_the_file(world: SlackWorld) -> None:
    world.slack.files_scope = False
    notes = world.slack.add_file("notes.txt", "text/plain", b"the real content")
    ts = await mention_with(world, "what does it say?", [notes])

    assert len(world.slack.downloads) == 1
    assert not any("Sign in" in call.question for call in world.groq.calls)
    assert "I could not read notes.txt: Slack answered a sign-in page instead of the file (does the app have " \
           "the files:read scope?)" in seen(world, ts)
