"""What people type after `/moa`, read into typed commands; a mistyped command gets the closest one."""

from __future__ import annotations

import pytest

from bot.commands import CommandDeps
from bot.commands.grammar import (
    AddAgent,
    Command,
    CommandError,
    Export,
    Forget,
    Help,
    Import,
    ListAgents,
    ListPresets,
    RemoveAgent,
    Reset,
    SetAgentField,
    SetAggregator,
    SetLayers,
    Show,
    UsePreset,
    parse,
)
from bot.conversation.service import CommandReply
from storage.db import Database
from tests.bot.commands.helpers import run, state


async def test_unknown_command_suggests_the_closest_and_lists_what_works(db: Database, deps: CommandDeps) -> None:
    before = await state(db)
    reply = await run(deps, "lyers 2")
    assert reply == CommandReply(
        "Unknown command `lyers`. Did you mean `layers`? Try: `show`, `layers N`, `model MODEL`, `agents`, "
        "`presets`, `preset NAME`, `import JSON`, `export`, `reset`, `forget`, `usage`, `budget`, `experiment A B`, "
        "`early-exit on|off`, `early-answer on|off`, `help`.")
    assert (await run(deps, "frobnicate")).text.startswith("Unknown command `frobnicate`. Try: `show`")
    assert await state(db) == before


@pytest.mark.parametrize(("text", "command"), [
    ("", Help()),
    ("/moa ? agents", Help("agents")),
    ("status", Show()),
    ("/MOA Layers “3”", SetLayers("3")),
    ("main_model `groq/compound`", SetAggregator("groq/compound")),
    ("agent", ListAgents()),
    ("agents new critic 'qwen/qwen3.8-27b' 0,3", AddAgent("critic", "qwen/qwen3.8-27b", "0,3")),
    ("agents del “critic”", RemoveAgent("critic")),
    ("agents set critic temp 0.2", SetAgentField("critic", "temperature", "0.2")),
    ('agents add "my odd agent" openai/gpt-oss-20b 0.3', AddAgent("my odd agent", "openai/gpt-oss-20b", "0.3")),
    ("agents remove 'my \"odd\" agent'", RemoveAgent('my "odd" agent')),
    ('agents set “my agent” prompt Say "hi". {helper_response}',
     SetAgentField("my agent", "system_prompt", 'Say "hi". {helper_response}')),
    ("agents set critic prompt Line one.\nLine two {helper_response}",
     SetAgentField("critic", "system_prompt", "Line one.\nLine two {helper_response}")),
    ("presets", ListPresets()),
    ("preset Lite", UsePreset("Lite")),
    ("import  {\"a\": 1}\n", Import("{\"a\": 1}")),
    ("export", Export()),
    ("reset", Reset()),
    ("forget", Forget()),
])
def test_parse_reads_verbs_aliases_and_quoted_names(text: str, command: Command) -> None:
    assert parse(text) == command


@pytest.mark.parametrize(("text", "expected"), [
    ("forget all", "`/moa forget` takes nothing after it."),
    ("preset a b", "Name a preset, e.g. `/moa preset lite`. Presets: article, lite, deep, self-moa, fast."),
    ("agents remove", "Usage: `/moa agents remove NAME`."),
    ("agents remove my odd agent", "Usage: `/moa agents remove NAME`."),
])
def test_parse_says_what_would_work(text: str, expected: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse(text)
    assert str(caught.value) == expected
