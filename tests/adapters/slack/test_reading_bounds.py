"""What people bring, within bounds, through slack-bolt against a Slack-like fake: long threads read from
their newest end, stalled downloads and slow PDFs within the reading budgets (never holding another
channel's answer), thread authors looked up side by side, and odd event shapes answered anyway."""

from __future__ import annotations

from typing import Any

from adapters.slack.authors import CONCURRENCY
from bot.settings import Settings
from tests.adapters.slack.conftest import SlackWorld
from tests.adapters.slack.helpers import answered
from tests.fakes.files import slow_pdf


def sent_to_models(world: SlackWorld) -> str:
    return "\n".join(str(m.get("content")) for call in world.groq.calls for m in call.messages)


def seen(world: SlackWorld, channel: str, ts: str) -> str:
    return "\n".join(m.visible for m in world.slack.thread(channel, ts))


def status(world: SlackWorld, channel: str, ts: str) -> str:
    """The status a member sees in the thread now: the native plan's title, or the message text."""
    titles = [c["title"] for m in world.slack.thread(channel, ts) for c in m.streamed if c.get("type") == "plan_update"]
    return titles[-1] if titles else seen(world, channel, ts)


async def restart_with(world: SlackWorld, **env: str) -> None:
    world.env.update(env)
    world.settings = Settings.load(env=world.env)
    await world.restart()


async def mention_with_files(world: SlackWorld, text: str, files: Any, channel: str = "C0GENERAL") -> str:
    event = world.send.mention_event(text, channel=channel)
    event["files"] = files
    assert await world.send.event(event) == 200
    return str(event["ts"])


async def test_a_500_message_thread_reaches_the_models_from_its_newest_end(world: SlackWorld) -> None:
    slack = world.slack
    root = slack.said("incident channel for the outage", channel="C0GENERAL", user="U0BOB")
    for n in range(2, 500):
        said = "the root cause was an expired TLS certificate" if n == 499 else f"status update {n}: still looking"
        slack.said(said, channel="C0GENERAL", user="U0CAROL", thread_ts=root)
    await world.send.mention("so what was the root cause?", thread_ts=root)

    await slack.wait_for(answered("C0GENERAL", root), timeout=15)
    assert "the root cause was an expired TLS certificate" in sent_to_models(world)
    pages = slack.calls_to("conversations.replies")
    assert len(pages) == 3 and [bool(p.args.get("cursor")) for p in pages] == [False, True, True]
    note = seen(world, "C0GENERAL", root)
    assert "earlier messages in this thread fit the history budget" in note
    assert "of 499 earlier messages" in note  # counted truthfully: the whole thread, not one page


async def test_a_long_paste_before_the_mention_is_cut_not_the_reason_the_thread_is_dropped(
        world: SlackWorld) -> None:
    slack = world.slack
    root = slack.said("which port does staging use?", channel="C0GENERAL", user="U0BOB")
    slack.said("staging listens on port 8443", channel="C0GENERAL", user="U0CAROL", thread_ts=root)
    slack.said("here is the whole config:\n" + "key = value\n" * 4000, channel="C0GENERAL", user="U0DAN",
               thread_ts=root)
    await world.send.mention("so which port?", thread_ts=root)

    await slack.wait_for(answered("C0GENERAL", root), timeout=10)
    sent = sent_to_models(world)
    assert "staging listens on port 8443" in sent
    assert "[… cut: this message was too long to keep whole]" in sent
    assert "1 long earlier message was cut to fit." in seen(world, "C0GENERAL", root)


async def test_stalled_downloads_are_named_and_hold_no_other_channel_on_a_fresh_process(
        world: SlackWorld) -> None:
    await restart_with(world, MOA_FILE_DOWNLOAD_TIMEOUT="4")
    slack = world.slack
    logs = [slack.add_file(f"log{i}.txt", "text/plain", b"ERROR disk full", arrival="stall") for i in range(1, 6)]
    with_files = await mention_with_files(world, "what do these logs say?", logs)
    await slack.wait_for(lambda s: s.stalled == 5)
    other = await world.send.mention("what is 2+2?", channel="C0RANDOM")

    await slack.wait_for(answered("C0RANDOM", other), timeout=10)
    # The other channel's answer is in while every download of the first is still held open — and the
    # first shows what it is doing, not a place in a queue.
    assert slack.stalled == 5
    assert not answered("C0GENERAL", with_files)(slack)
    assert status(world, "C0GENERAL", with_files) == "📎 Reading log1.txt, log2.txt, log3.txt and 2 more…"
    assert not any("Queued" in c.get("title", "") for m in slack.thread("C0RANDOM", other) for c in m.streamed)

    await slack.wait_for(answered("C0GENERAL", with_files), timeout=15)
    answer = seen(world, "C0GENERAL", with_files)
    for i in range(1, 6):
        assert f"I could not read log{i}.txt: it did not arrive within 4.0 s." in answer
    assert "says: what do these logs say?" in answer


async def test_a_dripping_download_without_length_is_given_up_at_the_budget(world: SlackWorld) -> None:
    await restart_with(world, MOA_FILE_DOWNLOAD_TIMEOUT="1.5")
    drip = world.slack.add_file("slow.csv", "text/csv", b"a,b\n" * 100, arrival="drip")
    whole = world.slack.add_file("fast.csv", "text/csv", b"city,people\nOslo,709000\n", arrival="chunked")
    ts = await mention_with_files(world, "compare these", [drip, whole])

    await world.slack.wait_for(answered("C0GENERAL", ts), timeout=15)
    assert all("Oslo,709000" in call.question for call in world.groq.calls)
    assert "I could not read slow.csv: it did not arrive within 1.5 s." in seen(world, "C0GENERAL", ts)


async def test_a_download_redirected_to_another_host_is_not_followed_and_is_named(world: SlackWorld) -> None:
    elsewhere = world.slack.add_file("notes.txt", "text/plain", b"the secret plan")
    moved = world.slack.add_file("moved.txt", "text/plain", b"", arrival="redirect")
    world.slack.redirects[moved["id"]] = elsewhere["url_private"].replace("127.0.0.1", "localhost")
    ts = await mention_with_files(world, "what does it say?", [moved])

    await world.slack.wait_for(answered("C0GENERAL", ts), timeout=10)
    assert [path for path, _ in world.slack.downloads] == [moved["url_private"].removeprefix(world.slack.url)]
    assert "I could not read moved.txt: Slack answered a sign-in page instead of the file" in seen(
        world, "C0GENERAL", ts)


async def test_a_slow_pdf_is_answered_with_the_pages_read_in_time_and_a_note(world: SlackWorld) -> None:
    await restart_with(world, MOA_FILE_READ_TIMEOUT="3")
    report = world.slack.add_file("report.pdf", "application/pdf", slow_pdf(pages=15, text="quarterly figures p"))
    ts = await mention_with_files(world, "summarise the report", [report])

    await world.slack.wait_for(answered("C0GENERAL", ts), timeout=20)
    assert all("quarterly figures p 1" in call.question for call in world.groq.calls)
    assert not any("quarterly figures p 15" in call.question for call in world.groq.calls)
    answer = seen(world, "C0GENERAL", ts)
    assert "I read the first " in answer and " of 15 pages of report.pdf (it took too long: the rest did not " \
                                             "fit in 3.0 s)." in answer


async def test_150_thread_authors_are_looked_up_side_by_side_and_remembered(world: SlackWorld) -> None:
    slack = world.slack
    slack.method_latency["users.info"] = 0.3
    root = slack.said("who is coming to the offsite?", channel="C0GENERAL", user="U0BOB")
    for n in range(1, 151):
        slack.said("me", channel="C0GENERAL", user=f"U{n:04d}", thread_ts=root)
    await world.send.mention("how many said yes?", thread_ts=root)

    await slack.wait_for(answered("C0GENERAL", root), timeout=20)
    lookups = slack.calls_to("users.info")
    assert sorted(c.args["user"] for c in lookups) == sorted([f"U{n:04d}" for n in range(1, 151)] + ["U0BOB"])
    assert 1 < slack.most_at_once["users.info"] <= CONCURRENCY
    assert "u0150: me" in sent_to_models(world)  # users.info's name, not the id

    second = slack.said("and the dinner?", channel="C0GENERAL", user="U0001")
    slack.said("count me in", channel="C0GENERAL", user="U0150", thread_ts=second)
    await world.send.mention("who is in?", thread_ts=second)
    await slack.wait_for(answered("C0GENERAL", second), timeout=10)
    assert len(slack.calls_to("users.info")) == len(lookups)  # remembered: no second lookup


async def test_a_rate_limited_author_lookup_waits_as_long_as_slack_asks(world: SlackWorld) -> None:
    slack = world.slack
    root = slack.said("the build is red", channel="C0GENERAL", user="U0BOB")
    slack.fail("users.info", "ratelimited", retry_after=1)
    await world.send.mention("why?", thread_ts=root)

    await slack.wait_for(answered("C0GENERAL", root), timeout=10)
    limited, retried = slack.calls_to("users.info")
    assert limited.error == "ratelimited" and retried.ok
    assert retried.at - limited.at >= 1.0  # Retry-After obeyed (the fake's own clock)
    assert "u0bob: the build is red" in sent_to_models(world)


async def test_odd_files_shapes_are_left_out_and_the_mention_is_answered(world: SlackWorld) -> None:
    shapes: list[Any] = ["F0NOTALIST", [None], [{"id": "F0NOURL", "name": "ghost.txt", "mimetype": "text/plain"}]]
    asked = [await mention_with_files(world, f"question {n}", files) for n, files in enumerate(shapes)]

    for n, ts in enumerate(asked):
        await world.slack.wait_for(answered("C0GENERAL", ts), timeout=10)
        assert f"says: question {n}" in seen(world, "C0GENERAL", ts)
    assert world.slack.downloads == []
