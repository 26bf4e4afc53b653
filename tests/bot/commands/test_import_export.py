"""`/moa import JSON` in every shape people paste, and `/moa export` that imports back."""

from __future__ import annotations

import json

import pytest

from bot.commands import CommandDeps
from bot.conversation.service import CommandReply
from moa.config.schema import MoaConfig, default_config
from storage.db import Database
from tests.bot.commands.helpers import LIVE_LIST, OTHER, run, state, stored

SEED = """```json
{
  “layer_agent_1”: {“system_prompt”: “Think step by step. {helper_response}”, “model_name”: “openai/gpt-oss-20b”},
  “layer_agent_2”: {“system_prompt”: “Be critical. {helper_response}”, “model_name”: “qwen/qwen3.8-27b”,
                    “temperature”: 0.3}
}
```"""


async def test_import_takes_the_seed_format_pasted_with_fences_and_smart_quotes(
        db: Database, deps: CommandDeps) -> None:
    await run(deps, "layers 2")
    reply = await run(deps, "import " + SEED)
    assert reply == CommandReply(
        "✅ Imported: 2 layers, aggregator `openai/gpt-oss-120b`, agents layer_agent_1 (`openai/gpt-oss-20b`), "
        "layer_agent_2 (`qwen/qwen3.8-27b`). Now 5 model calls per answer (2 layers × 2 agents + the aggregator).",
        changed=True)
    config = await stored(db)
    assert config is not None and config.layers == 2  # the bare agents object keeps the rest
    assert config.layer_agent_config["layer_agent_2"].temperature == 0.3


async def test_import_reads_the_demo_format_and_the_articles_translated_keys(db: Database, deps: CommandDeps) -> None:
    demo = {"main_model": "openai/gpt-oss-20b", "cycles": 1, "layer_agent_config": {
        "a": {"系统提示": "逐步思考。{助手回应}", "模型名称": "qwen/qwen3.8-27b", "温度": 0.5}}}
    reply = await run(deps, "import " + json.dumps(demo, ensure_ascii=False))
    assert reply.changed
    config = await stored(db)
    assert config is not None and config.main_model == "openai/gpt-oss-20b"
    assert config.layer_agent_config["a"].system_prompt == "逐步思考。{helper_response}"


@pytest.mark.parametrize(("payload", "expected"), [
    ('{"layer_agent_1": {"model_name": "openai/gpt-oss-20b"', "That is not valid JSON (Expecting ',' delimiter at "
     "line 1, column 54). Paste an object like {\"layer_agent_1\": {\"system_prompt\": \"… {helper_response}\", "
     "\"model_name\": \"openai/gpt-oss-20b\"}}. Nothing changed."),
    ("[1, 2]", "A MoA config must be a JSON object, e.g. {\"main_model\": …, \"cycles\": 3, \"layer_agent_config\": "
     "{…}}. Nothing changed."),
    ('{"cycles": 0}', "Invalid MoA config — cycles: Input should be greater than or equal to 1. Nothing changed."),
    ('{"a": {"model_name": "openai/gpt-oss-20b", "api_key": "gsk_x"}}',
     "Invalid MoA config — layer_agent_config.a.api_key: unknown field (known fields: system_prompt, model_name, "
     "temperature, max_tokens). Nothing changed."),
    ('{"a": {"system_prompt": "no slot", "model_name": "openai/gpt-oss-20b"}}',
     "Invalid MoA config — layer_agent_config.a.system_prompt: must contain {helper_response}, where the previous "
     "layer's answers go. Nothing changed."),
    ('{"a": {"model_name": "llama-3.1-8b-instant"}}', f"Unknown model `llama-3.1-8b-instant`. {LIVE_LIST} "
     "Nothing changed."),
    ('{"main_model": "llama-3.3-70b-versatile", "cycles": 2, "layer_agent_config": {"a": {"model_name": '
     '"openai/gpt-oss-20b"}}}', f"Unknown model `llama-3.3-70b-versatile`. {LIVE_LIST} Nothing changed."),
    ('{"cycles": 99}', "cycles is 99, but at most 4 layers are allowed: use a number from 1 to 4. Nothing changed."),
])
async def test_bad_imports_say_what_is_wrong_and_change_nothing(
        db: Database, deps: CommandDeps, payload: str, expected: str) -> None:
    assert await run(deps, "import " + payload) == CommandReply(expected)
    assert await state(db) == (None, [], [])


async def test_import_without_json_shows_an_example(db: Database, deps: CommandDeps) -> None:
    reply = await run(deps, "import")
    assert reply.text.startswith("Paste the JSON after `/moa import`, e.g. `/moa import {\"layer_agent_1\"")
    assert reply.text.endswith("`/moa export` shows the current setup as JSON.")
    assert await state(db) == (None, [], [])


async def test_export_is_json_in_a_code_block_that_imports_back_unchanged(
        db: Database, deps: CommandDeps) -> None:
    await run(deps, "preset self-moa")
    await run(deps, "agents set sample_1 prompt Vary your angle. {helper_response}")
    reply = await run(deps, "export", admin=False)
    head, _, rest = reply.text.partition("\n```json\n")
    assert head.startswith("*MoA setup* — this channel's own setup (set by <@U1>, ")
    assert head.endswith("Paste it after `/moa import` to use it elsewhere.")
    body = rest.removesuffix("\n```")
    exported = MoaConfig.model_validate_json(body)
    assert exported == await stored(db)
    assert await run(deps, "import " + reply.text.partition("\n")[2], channel=OTHER) == CommandReply(
        "✅ Imported: 1 layer, aggregator `openai/gpt-oss-120b`, agents sample_1 (`openai/gpt-oss-120b`), sample_2 "
        "(`openai/gpt-oss-120b`), sample_3 (`openai/gpt-oss-120b`), sample_4 (`openai/gpt-oss-120b`). Now 5 model "
        "calls per answer (1 layer × 4 agents + the aggregator).", changed=True)
    assert await stored(db, OTHER) == exported


async def test_export_never_shows_a_secret(db: Database, deps: CommandDeps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk_" + "A1b2" * 10)
    key = "gsk_" + "A1b2" * 10
    await run(deps, f"agents set layer_agent_1 prompt Use key {key} please. {{helper_response}}")
    for text in ("export", "show", "agents"):
        reply = await run(deps, text)
        assert key not in reply.text and "gsk_" not in reply.text
    assert "Use key *** please" in (await run(deps, "export")).text
    assert set(json.loads(default_config().export_json())) == {
        "main_model", "cycles", "layer_agent_config", "system_prompt", "aggregate_prompt", "temperature",
        "max_tokens"}
