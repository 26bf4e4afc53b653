"""`/moa help` and `/moa show`: read by anyone, exact text."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.commands import CommandDeps, execute
from moa.config.schema import preset
from moa.pace.limits import parse_limits
from moa.pace.pacer import Pacer
from storage.db import Database
from storage.models import ChannelKey
from tests.bot.commands.helpers import CHANNEL, DEFAULT_CALLS, Asker, run


@pytest.mark.parametrize("text", ["", "help", "HELP", "/moa help"])
async def test_help_lists_every_command_one_line_each(deps: CommandDeps, text: str) -> None:
    asker = Asker(admin=False)
    reply = await execute(asker.ctx, text, deps)
    lines = reply.text.split("\n")
    assert lines[0] == "*/moa commands*"
    for command in ("`show`", "`layers N`", "`model MODEL`", "`agents`", "`presets`", "`preset NAME`",
                    "`import JSON`", "`export`", "`reset`", "`forget`", "`help`"):
        assert sum(command in line for line in lines) == 1, command
    assert "• `layers N` — Proposer layers before the aggregator (1–4) (admins)" in lines
    assert lines[-1] == "Limits here: up to 4 layers, 6 agents and 25 model calls per answer."
    assert not reply.changed and asker.admin_checks == 0


async def test_help_agents_explains_each_agent_field(deps: CommandDeps) -> None:
    reply = await run(deps, "help agents")
    assert "• `temperature` — Sampling temperature, 0–2." in reply.text
    assert "• `prompt` — The agent's instruction; {helper_response} marks where" in reply.text


async def test_show_tells_everyone_the_builtin_default_with_call_count(deps: CommandDeps) -> None:
    asker = Asker(admin=False)
    reply = await execute(asker.ctx, "show", deps)
    assert reply.text.startswith(
        "*MoA setup* — the built-in default\n"
        "• Layers: 3\n"
        "• Aggregator: `openai/gpt-oss-120b` (temperature 0.5, max 2,048 tokens)\n"
        "• Agents (3):\n"
        "    – *layer_agent_1*: `openai/gpt-oss-20b`, temperature 0.7, max 1,024 tokens\n")
    assert f"• {DEFAULT_CALLS[:-1]}\n" in reply.text
    assert asker.admin_checks == 0 and not reply.changed


async def test_show_names_who_set_the_channel_setup_and_recent_changes(deps: CommandDeps) -> None:
    await run(deps, "layers 2")
    reply = await run(deps, "show", admin=False)
    assert "*MoA setup* — this channel's own setup (set by <@U1>, " in reply.text
    assert "Recent changes: layers 2 by <@U1> (" in reply.text


async def test_show_falls_back_to_the_workspace_default(db: Database, deps: CommandDeps) -> None:
    await db.configs.put(CHANNEL.workspace_default(), preset("lite").export_json(), "UADMIN", "preset lite")
    reply = await run(deps, "show")
    assert reply.text.startswith("*MoA setup* — the workspace default (set by <@UADMIN>, ")
    assert "• 3 model calls per answer (1 layer × 2 agents + the aggregator)" in reply.text


async def test_discord_replies_use_discord_bold(deps: CommandDeps) -> None:
    reply = await run(deps, "show", channel=ChannelKey("discord", "111111111111111111", "222222222222222222"))
    assert reply.text.startswith("**MoA setup** — the built-in default")


async def test_show_tells_tokens_per_answer_and_once_limits_are_known_the_pace(deps: CommandDeps) -> None:
    reply = await execute(Asker(admin=False).ctx, "show", deps)
    assert "• About " in reply.text and " tokens per answer count against rate limits (prompt − cached + " \
        "max_tokens): openai/gpt-oss-20b " in reply.text
    assert "are expected from the providers' prefix cache (prompt_layout instruction_first)" in reply.text
    assert "Known limits" not in reply.text  # nothing known yet: nothing claimed
    limited = replace(deps, pacer=Pacer(parse_limits("openai/gpt-oss-20b=30rpm+4000tpm")))
    reply = await execute(Asker(admin=False).ctx, "show", limited)
    assert "• Known limits make one answer take at least about " in reply.text
    assert "(openai/gpt-oss-20b: 4,000 tokens a minute)" in reply.text


async def test_show_tells_the_cached_share_of_a_shared_prefix_config(db: Database, deps: CommandDeps) -> None:
    shared = preset("article").model_copy(update={"prompt_layout": "shared_prefix"})
    await db.configs.put(CHANNEL, shared.export_json(), "UADMIN", "layout")
    reply = await execute(Asker(admin=False).ctx, "show", deps)
    assert " tokens per answer count against rate limits (prompt − cached + max_tokens): " in reply.text
    assert "are expected from the providers' prefix cache (prompt_layout shared_prefix)" in reply.text
