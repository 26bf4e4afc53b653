"""Discord shards: two bots, each running one shard of two, split the guilds and answer each mention once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import discord as dpy
import pytest

from adapters.discord.places import channel_key
from adapters.discord.shards import IDENTIFY_WINDOW_S, IdentifyPacer, ShardingRequired
from tests.adapters.discord.conftest import RunningBot
from tests.adapters.discord.helpers import answers, inter_text
from tests.fakes.discord_server import FakeDiscord, FakeGuild, shard_of
from tests.fakes.groq_server import FakeGroq


@pytest.fixture
def second_guild(discord: FakeDiscord) -> FakeGuild:
    """A guild on shard 1 of 2, beside the fake's default guild on shard 0."""
    return discord.add_guild("Second Guild", shard=1, shard_count=2)


async def start_shard(start_bot: Callable[..., Any], tmp_path: Path, shard: int) -> RunningBot:
    """A bot running shard `shard` of 2 on its own database, as its own process would."""
    bot: RunningBot = await start_bot(DISCORD_SHARD_COUNT="2", DISCORD_SHARD_IDS=str(shard),
                                      MOA_DB_PATH=str(tmp_path / f"shard{shard}.db"))
    return bot


async def mention(fake: FakeDiscord, channel: str, question: str) -> dict[str, Any]:
    return await fake.say(channel, fake.alice, f"{fake.bot_mention} {question}")


async def test_each_guilds_mention_is_answered_once_by_the_bot_running_its_shard(
        discord: FakeDiscord, fake_groq: FakeGroq, second_guild: FakeGuild, start_bot: Callable[..., Any],
        tmp_path: Path) -> None:
    first = await start_shard(start_bot, tmp_path, 0)
    second = await start_shard(start_bot, tmp_path, 1)
    assert [i["shard"] for i in discord.identifies] == [[0, 2], [1, 2]]

    here = await mention(discord, discord.general, "asked in the first guild")
    there = await mention(discord, second_guild.general, "asked in the second guild")

    [answer_here] = await discord.wait_for(lambda f: answers(f, here["id"]))
    [answer_there] = await discord.wait_for(lambda f: answers(f, there["id"]))
    await discord.wait_for(lambda f: first.idle and second.idle)
    assert "asked in the first guild" in answer_here["content"]
    assert "asked in the second guild" in answer_there["content"]
    assert (discord.deliveries(here["id"], shard=0), discord.deliveries(here["id"], shard=1)) == (1, 0)
    assert (discord.deliveries(there["id"], shard=0), discord.deliveries(there["id"], shard=1)) == (0, 1)
    # Each answer was made and recorded by the bot whose shard owns the guild, and only by it.
    assert first.service and second.service
    key_here = channel_key(int(discord.guild_id), int(discord.general))
    key_there = channel_key(int(second_guild.id), int(second_guild.general))
    assert await first.service.reveal_layers(key_here, message_id=answer_here["id"]) is not None
    assert await second.service.reveal_layers(key_here, message_id=answer_here["id"]) is None
    assert await second.service.reveal_layers(key_there, message_id=answer_there["id"]) is not None
    assert await first.service.reveal_layers(key_there, message_id=answer_there["id"]) is None
    assert [len(answers(discord, q["id"])) for q in (here, there)] == [1, 1]


async def test_slash_commands_work_in_the_guilds_of_both_shards(
        discord: FakeDiscord, second_guild: FakeGuild, start_bot: Callable[..., Any], tmp_path: Path) -> None:
    await start_shard(start_bot, tmp_path, 0)
    await start_shard(start_bot, tmp_path, 1)

    changed = await discord.slash(second_guild.general, discord.alice, "layers", options={"count": 2})
    await discord.wait_for(lambda f: changed.followups)
    here = await discord.slash(discord.general, discord.alice, "show")
    there = await discord.slash(second_guild.general, discord.alice, "show")

    assert "Layers: 3" in await discord.wait_for(lambda f: inter_text(here))
    assert "Layers: 2" in await discord.wait_for(lambda f: inter_text(there))
    for inter in (changed, here, there):
        assert len(inter.callbacks) == 1 and len(inter.followups) == 1  # one bot answered, once


async def test_show_layers_and_the_magnifier_in_a_shard_1_guild_are_answered_by_that_shards_bot(
        discord: FakeDiscord, second_guild: FakeGuild, start_bot: Callable[..., Any], tmp_path: Path) -> None:
    await start_shard(start_bot, tmp_path, 0)
    second = await start_shard(start_bot, tmp_path, 1)
    question = await mention(discord, second_guild.general, "what is MoA?")
    [answer] = await discord.wait_for(lambda f: second.idle and answers(f, question["id"]))

    pressed = await discord.press(answer["id"], discord.bob)

    text = await discord.wait_for(lambda f: inter_text(pressed))
    assert "what is MoA?" in text and "Layer 1 of 3" in text
    await discord.react(answer["id"], discord.bob, "🔍")
    posted = await discord.wait_for(
        lambda f: [m for m in f.bot_messages(thread_id=question["id"]) if "Intermediate" in m["content"]])
    assert len(posted) == 1 and "what is MoA?" in posted[0]["content"]


async def test_a_dm_is_answered_once_by_the_bot_running_shard_0(
        discord: FakeDiscord, start_bot: Callable[..., Any], tmp_path: Path) -> None:
    first = await start_shard(start_bot, tmp_path, 0)
    await start_shard(start_bot, tmp_path, 1)
    dm = await discord.open_dm(discord.bob)

    question = await discord.say(dm, discord.bob, "hello in a DM")

    [answer] = await discord.wait_for(lambda f: first.idle and answers(f, dm))
    assert "hello in a DM" in answer["content"]
    assert (discord.deliveries(question["id"], shard=0), discord.deliveries(question["id"], shard=1)) == (1, 0)


async def test_a_dropped_shard_resumes_on_its_own_while_the_other_stays_connected(
        discord: FakeDiscord, second_guild: FakeGuild, start_bot: Callable[..., Any], tmp_path: Path) -> None:
    await start_shard(start_bot, tmp_path, 0)
    second = await start_shard(start_bot, tmp_path, 1)

    await discord.drop(4000, shard=1)
    question = await mention(discord, second_guild.general, "still there?")

    await discord.wait_for(lambda f: f.resumes and f.connected_shards() == [0, 1])
    [answer] = await discord.wait_for(lambda f: second.idle and answers(f, question["id"]))
    assert "still there?" in answer["content"]
    assert [i["shard"] for i in discord.identifies] == [[0, 2], [1, 2]]  # resumed, no new sessions
    assert discord.sessions[(1, 2)].id == discord.resumes[0]["session_id"]
    assert discord.deliveries(question["id"], shard=1) == 1


async def test_one_bot_running_both_shards_answers_in_both_guilds(
        discord: FakeDiscord, second_guild: FakeGuild, start_bot: Callable[..., Any]) -> None:
    discord.max_concurrency = 2  # Discord lets two shards IDENTIFY at once: no 5 s pause between them
    bot = await start_bot(DISCORD_SHARD_COUNT="2")
    await discord.wait_for(lambda f: f.connected_shards() == [0, 1])

    here = await mention(discord, discord.general, "first guild")
    there = await mention(discord, second_guild.general, "second guild")

    await discord.wait_for(lambda f: bot.idle and answers(f, here["id"]) and answers(f, there["id"]))
    assert [len(answers(discord, q["id"])) for q in (here, there)] == [1, 1]
    assert shard_of(discord.guild_id, 2) == 0 and shard_of(second_guild.id, 2) == 1
    assert [dpy.Intents._from_value(i["intents"]).guilds for i in discord.identifies] == [True, True]
    assert len(discord.calls_to("GET", "/gateway/bot")) == 1  # max_concurrency, from Discord


class FakeClock:
    """Time that moves only when the pacer sleeps: what it waited for, without waiting."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_shards_in_different_buckets_identify_together_and_a_shared_bucket_waits_5_s() -> None:
    clock = FakeClock()
    pacer = IdentifyPacer(2, clock=clock, sleep=clock.sleep)

    for shard in (0, 1, 2, 3):  # buckets 0, 1, 0, 1
        await pacer.wait(shard)

    # Shards 0 and 1 went at once; shard 2 waited for bucket 0's window, by when bucket 1's had passed too.
    assert clock.sleeps == [IDENTIFY_WINDOW_S]


async def test_with_max_concurrency_1_every_shard_after_the_first_waits_its_turn() -> None:
    clock = FakeClock()
    pacer = IdentifyPacer(1, clock=clock, sleep=clock.sleep)

    for shard in (0, 1, 2):
        await pacer.wait(shard)
        clock.now += 1.0  # connecting takes a second

    assert clock.sleeps == [IDENTIFY_WINDOW_S - 1.0, IDENTIFY_WINDOW_S - 1.0]


async def test_a_process_starting_more_shards_than_discord_recommends_warns_once_at_start(
        discord: FakeDiscord, start_bot: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    discord.recommended_shards = 4
    discord.max_concurrency = 2
    with caplog.at_level(logging.WARNING, logger="adapters.discord.shards"):
        await start_bot(DISCORD_SHARD_COUNT="2")
        await discord.wait_for(lambda f: f.connected_shards() == [0, 1])

    assert len(discord.calls_to("GET", "/gateway/bot")) == 1
    [warning] = [r.getMessage() for r in caplog.records if r.name == "adapters.discord.shards"]
    assert "Discord recommends 4 shards for this bot; DISCORD_SHARD_COUNT=2" in warning


async def test_without_shard_settings_the_bot_keeps_one_plain_connection(
        discord: FakeDiscord, second_guild: FakeGuild, bot: RunningBot) -> None:
    question = await mention(discord, second_guild.general, "unsharded")

    await discord.wait_for(lambda f: bot.idle and answers(f, question["id"]))
    [identify] = discord.identifies
    assert "shard" not in identify  # Discord then sends every guild's events over this one connection
    assert discord.calls_to("GET", "/gateway/bot") == []


@pytest.mark.parametrize(("shard_settings", "asked"), [
    ({}, "one connection (no DISCORD_SHARD_COUNT)"),
    ({"DISCORD_SHARD_COUNT": "2"}, "DISCORD_SHARD_COUNT=2"),
])
async def test_a_bot_in_too_many_servers_for_its_shards_stops_with_what_to_set(
        discord: FakeDiscord, start_bot: Callable[..., Any], shard_settings: dict[str, str], asked: str) -> None:
    discord.required_shards = 4  # Discord closes such sessions with 4011 "Sharding required"
    discord.max_concurrency = 2

    with pytest.raises(ShardingRequired) as stopped:
        await start_bot(**shard_settings)

    assert f"Discord refuses to serve this bot on {asked}" in str(stopped.value)
    assert "Set DISCORD_SHARD_COUNT to about one shard per 1,000 servers" in str(stopped.value)
