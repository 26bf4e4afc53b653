"""Configs as people paste them: the seed article's JSON (also with its translated keys), the Groq
demo's shape, our export; and bad ones rejected with a message that names the fix."""

from __future__ import annotations

import json

import pytest

from moa.config.schema import (
    AGGREGATE_AND_SYNTHESIZE,
    HELPER_SLOT,
    Limits,
    MoaConfig,
    default_config,
    parse_config,
    preset,
)
from moa.errors import ConfigError
from tests.moa.helpers import SEED_EN

SEED_ZH = """{
  "层级代理_1": {"系统提示": "逐步思考你的回答。{助手回应}", "模型名称": "llama-3.1-8b-instant"},
  "层级代理_2": {"系统提示": "先给出一个想法,然后回答问题。{助手回应}", "模型名称": "gemma2-9b-it", "温度": 0.7},
  "层级代理_3": {"系统提示": "你是一位逻辑和推理方面的专家。始终采用逻辑方法来回答。{助手回应}",
                "模型名称": "llama-3.1-8b-instant"}
}"""


def test_the_seed_articles_json_imports() -> None:
    config = parse_config(SEED_EN)
    assert list(config.layer_agent_config) == ["layer_agent_1", "layer_agent_2", "layer_agent_3"]
    assert config.layer_agent_config["layer_agent_2"].model_name == "gemma2-9b-it"
    assert config.layer_agent_config["layer_agent_2"].temperature == 0.7
    assert config.main_model == default_config().main_model  # the bare agents object keeps the rest
    assert config.aggregate_prompt == AGGREGATE_AND_SYNTHESIZE


def test_the_seed_articles_translated_json_imports() -> None:
    config = parse_config(SEED_ZH)
    agents = list(config.layer_agent_config.values())
    assert [a.model_name for a in agents] == ["llama-3.1-8b-instant", "gemma2-9b-it", "llama-3.1-8b-instant"]
    assert all(HELPER_SLOT in a.system_prompt for a in agents)
    assert agents[1].temperature == 0.7


def test_the_groq_demo_shape_imports() -> None:
    data = {"main_model": "openai/gpt-oss-120b", "cycles": 2,
            "layer_agent_config": json.loads(SEED_EN)}
    config = parse_config(data)
    assert (config.main_model, config.layers, config.call_count) == ("openai/gpt-oss-120b", 2, 7)


def test_export_imports_verbatim() -> None:
    for name in ("article", "lite", "deep", "self-moa"):
        config = preset(name)
        assert parse_config(config.export_json()) == config


@pytest.mark.parametrize(("raw", "message"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"layer_agent_1": {"system_prompt": "no slot", "model_name": "m"}}', "must contain {helper_response}"),
    ('{"layer_agent_1": {"system_prompt": "{helper_response}"}}', "model_name: required"),
    ('{"layer_agent_1": {"model_name": "m", "temprature": 0.5}}', "unknown field"),
    ('{"layer_agent_1": {"model_name": "m", "temperature": 3}}', "temperature"),
    ('{"layer_agent_1": {"model_name": "  "}}', "must name a model"),
    ('{"main_model": "m", "cycles": 0, "layer_agent_config": {"a": {"model_name": "m"}}}', "cycles"),
    ('{"main_model": "m", "layer_agent_config": {}}', "needs at least one agent"),
    ('{"main_model": "m", "cycles": 9, "layer_agent_config": {"a": {"model_name": "m"}}}', "at most 4 layers"),
    ('{"main_model": "m", "layer_agent_config": {"a\\tb": {"model_name": "m"}}}', "holds a tab, a line break"),
    ('{"main_model": "m", "layer_agent_config": {" a": {"model_name": "m"}}}', "starts or ends with a space"),
])
def test_bad_configs_are_rejected_with_their_message(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
        parse_config(raw)


def test_an_agent_name_may_hold_spaces_and_quotes_as_typed() -> None:
    config = parse_config('{"main_model": "m", "layer_agent_config": {"my \\"odd\\" agent": {"model_name": "m"}}}')
    assert list(config.layer_agent_config) == ['my "odd" agent']


def test_limits_bound_the_number_of_calls() -> None:
    agents = {f"a{i}": {"model_name": "m"} for i in range(6)}
    with pytest.raises(ConfigError, match="model calls per answer"):
        parse_config({"main_model": "m", "cycles": 4, "layer_agent_config": agents}, limits=Limits(max_calls=20))
    assert isinstance(parse_config({"main_model": "m", "cycles": 1, "layer_agent_config": agents}), MoaConfig)


def test_the_json_key_stays_cycles_though_the_code_says_layers() -> None:
    config = parse_config({"main_model": "m", "cycles": 2, "layer_agent_config": {"a": {"model_name": "m"}}})
    assert config.layers == 2 and config.export()["cycles"] == 2 and "layers" not in config.export()
    with pytest.raises(ConfigError, match=r"layers: unknown field \(known fields: main_model, cycles, "):
        parse_config({"main_model": "m", "layers": 2, "layer_agent_config": {"a": {"model_name": "m"}}})
