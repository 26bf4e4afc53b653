"""`/moa` as slash commands: typed options, per-channel effect, server-side permission check, autocomplete."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.conversation.service import CommandReply
from moa.config.schema import preset
from storage.models import ChannelKey
from tests.adapters.discord.conftest import RunningBot
from tests.adapters.discord.helpers import replied
from tests.fakes.discord_server import MANAGE_CHANNELS, MEMBER_PERMISSIONS, FakeDiscord
from tests.fakes.groq_server import FakeGroq


async def test_layers_set_in_one_channel_does_not_touch_another(discord: FakeDiscord, bot: RunningBot) -> None:
    changed = await discord.slash(discord.general, discord.alice, "layers", options={"count": 2})
    assert "2" in await replied(discord, changed)

    here = await discord.slash(discord.general, discord.alice, "show")
    there = await discord.slash(discord.random, discord.alice, "show")

    assert "Layers: 2" in await replied(discord, here)
    assert "Layers: 3" in await replied(discord, there)


async def test_a_member_without_manage_channels_is_refused_and_nothing_changes(
        discord: FakeDiscord, bot: RunningBot) -> None:
    refused = await discord.slash(discord.general, discord.bob, "layers", options={"count": 1})
    assert "Only channel admins" in await replied(discord, refused)

    # Discord's own permission hint is bypassable: a forged-looking payload still counts only server perms.
    also = await discord.slash(discord.general, discord.bob, "preset", options={"name": "lite"},
                               permissions=MEMBER_PERMISSIONS & ~MANAGE_CHANNELS)
    assert "Only channel admins" in await replied(discord, also)

    shown = await discord.slash(discord.general, discord.bob, "show")
    assert "Layers: 3" in await replied(discord, shown)


async def test_replies_are_ephemeral_and_deferred_before_the_command_runs(
        discord: FakeDiscord, bot: RunningBot, monkeypatch: pytest.MonkeyPatch) -> None:
    assert bot.service is not None
    run_command, release = bot.service.run_command, asyncio.Event()

    async def slow_command(*args: Any, **kwargs: Any) -> CommandReply:
        await release.wait()  # the command's own work (storage, model checks) takes as long as the test says
        return await run_command(*args, **kwargs)

    monkeypatch.setattr(bot.service, "run_command", slow_command)
    inter = await discord.slash(discord.general, discord.bob, "help")
    await discord.wait_for(lambda f: inter.acknowledged_at is not None)  # no 3 s deadline can be missed
    assert inter.callbacks[0]["type"] == 5 and not inter.followups  # deferred while the work still waits
    release.set()
    await replied(discord, inter)
    assert inter.ephemeral
    assert "layers" in inter.text


async def test_agents_commands_take_typed_options(discord: FakeDiscord, bot: RunningBot) -> None:
    added = await discord.slash(discord.general, discord.alice, "agents", "add",
                                options={"name": "critic", "model": "openai/gpt-oss-20b", "temperature": 0.3})
    assert "critic" in await replied(discord, added)
    changed = await discord.slash(discord.general, discord.alice, "agents", "set",
                                  options={"name": "critic", "setting": "temperature", "value": "0.9"})
    await replied(discord, changed)

    listed = await discord.slash(discord.general, discord.alice, "agents", "list")
    text = await replied(discord, listed)
    assert "critic" in text and "0.9" in text


async def test_an_agent_name_and_prompt_with_spaces_and_quotes_arrive_as_typed(discord: FakeDiscord,
                                                                               bot: RunningBot) -> None:
    assert bot.service is not None
    name = 'my "odd" agent'
    prompt = 'Answer as a "careful" reviewer would; don\'t guess.\n\nEarlier answers: {helper_response}'
    added = await discord.slash(discord.general, discord.alice, "agents", "add",
                                options={"name": name, "model": "openai/gpt-oss-20b"})
    assert name in await replied(discord, added)
    changed = await discord.slash(discord.general, discord.alice, "agents", "set",
                                  options={"name": name, "setting": "prompt", "value": prompt})
    assert "prompt: updated" in await replied(discord, changed)

    stored = await bot.service.db.configs.get(ChannelKey("discord", discord.guild_id, discord.general))
    assert stored is not None
    agents = json.loads(stored.config_json)["layer_agent_config"]
    assert agents[name]["system_prompt"] == prompt
    assert agents[name]["model_name"] == "openai/gpt-oss-20b"

    removed = await discord.slash(discord.general, discord.alice, "agents", "remove", options={"name": name})
    assert f"Removed agent `{name}`" in await replied(discord, removed)


async def test_model_autocomplete_offers_live_models(discord: FakeDiscord, fake_groq: FakeGroq,
                                                     bot: RunningBot) -> None:
    inter = await discord.autocomplete(discord.general, discord.alice, "model", option="model", value="oss")

    await discord.wait_for(lambda f: inter.callbacks)
    assert inter.callbacks[0]["type"] == 8
    offered = [c["value"] for c in inter.callbacks[0]["data"]["choices"]]
    assert offered == [m for m in fake_groq.models if "oss" in m]


async def test_commands_sync_to_the_configured_guild_at_once(discord: FakeDiscord, start_bot) -> None:
    await start_bot(DISCORD_GUILD_ID=discord.guild_id)

    [moa] = discord.commands[discord.guild_id]
    subcommands = {o["name"] for o in moa["options"]}
    assert {"show", "layers", "model", "agents", "preset", "presets", "import", "export", "reset", "forget",
            "help"} <= subcommands


async def test_without_a_guild_commands_sync_globally(discord: FakeDiscord, bot: RunningBot) -> None:
    assert [c["name"] for c in discord.commands["global"]] == ["moa"]
    assert discord.guild_id not in discord.commands


async def test_a_long_export_arrives_whole_in_several_replies(discord: FakeDiscord, bot: RunningBot) -> None:
    config = preset("deep").export()
    for agent in config["layer_agent_config"].values():
        agent["system_prompt"] = "Answer carefully and cite what you rely on. " * 8 + "{helper_response}"
    imported = await discord.slash(discord.general, discord.alice, "import", options={"config": json.dumps(config)})
    await replied(discord, imported)

    inter = await discord.slash(discord.general, discord.alice, "export")

    await discord.wait_for(lambda f: "agent_6" in inter.text)
    assert len(inter.followups) > 1
    assert all(len(m["content"]) <= 2000 for m in inter.followups)


async def test_a_large_export_arrives_as_one_attached_file(discord: FakeDiscord, bot: RunningBot) -> None:
    assert bot.service is not None
    agents = {f"agent_{i}": {"system_prompt": "be thorough. " * 800 + "{helper_response}",
                             "model_name": "openai/gpt-oss-20b"} for i in range(1, 7)}
    config = json.dumps({"main_model": "openai/gpt-oss-120b", "cycles": 1, "layer_agent_config": agents})
    await bot.service.db.configs.put(ChannelKey("discord", discord.guild_id, discord.general), config, "u", "import")

    exported = await discord.slash(discord.general, discord.alice, "export")
    text = await replied(discord, exported)
    assert len(exported.followups) == 1 and "attached as a file" in text
    attached = [a.get("filename") for c in discord.calls if c.path.startswith("/webhooks/")
                for a in (c.json or {}).get("attachments", [])]
    assert attached == ["moa-reply.md"]


@pytest.mark.parametrize("word", ["early-exit", "early-answer"])
async def test_the_early_switches_are_slash_commands_for_admins_only(discord: FakeDiscord, bot: RunningBot,
                                                                     word: str) -> None:
    refused = await discord.slash(discord.general, discord.bob, word, options={"switch": "on"})
    assert "Only channel admins" in await replied(discord, refused)
    changed = await discord.slash(discord.general, discord.alice, word, options={"switch": "on"})
    assert f"{word.capitalize()}: on" in await replied(discord, changed)
    shown = await discord.slash(discord.general, discord.bob, "show")
    assert "• Early exit:" in await replied(discord, shown)
