"""The MoA config: pydantic models, the seed article's JSON format, bounds and built-in presets.

The export format is the seed format plus our own keys, so `export` output imports verbatim and the
article's bare `{"layer_agent_1": {...}}` object imports too.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from moa.errors import ConfigError

HELPER_SLOT = "{helper_response}"
MOST_MAX_TOKENS = 32768  # the longest answer a config may ask of a model

# The paper's aggregate-and-synthesize instruction (Wang et al., 2024, arXiv 2406.04692).
AGGREGATE_AND_SYNTHESIZE = (
    "You have been provided with a set of responses from various open-source models to the latest user "
    "query. Your task is to synthesize these responses into a single, high-quality response. It is "
    "crucial to critically evaluate the information provided in these responses, recognizing that some "
    "of it may be biased or incorrect. Your response should not simply replicate the given answers but "
    "should offer a refined, accurate, and comprehensive reply to the instruction. Ensure your response "
    "is well-structured, coherent, and adheres to the highest standards of accuracy and reliability."
)

# The prompt layout a config without `prompt_layout` uses (moa.messages.prompts; docs/ARCHITECTURE.md has
# what `moa-bot eval` showed for it against classic).
PromptLayout = Literal["instruction_first", "classic", "shared_prefix"]
DEFAULT_LAYOUT: PromptLayout = "instruction_first"

DEFAULT_AGENT_PROMPT = "You are a helpful assistant. {helper_response}"
DEFAULT_MAIN_PROMPT = "You are a helpful assistant answering in a team chat. {helper_response}"


@dataclass(frozen=True)
class Limits:
    """Bounds an operator may tighten or loosen (MOA_MAX_LAYERS, MOA_MAX_AGENTS, MOA_MAX_CALLS)."""

    max_layers: int = 4
    max_agents: int = 6
    max_calls: int = 25  # proposer calls over all layers + the aggregator


AGENT_NAME_LIMIT = 40
# Unicode categories that draw nothing or reorder text: zero-width characters, bidi overrides, controls.
_INVISIBLE = ("Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp")


def check_agent_name(name: str) -> str:
    """Raise ValueError unless `name` is 1–40 visible characters, words separated by single spaces (so
    commands can name it: Discord's typed options as it is, `/moa` text in quotes)."""
    if not name.strip() or len(name) > AGENT_NAME_LIMIT:
        raise ValueError(f"agent name {name!r} must be 1–{AGENT_NAME_LIMIT} characters")
    if name != name.strip() or any(ch.isspace() and ch != " " for ch in name):
        raise ValueError(f"agent name {name!r} starts or ends with a space, or holds a tab, a line break or an "
                         "unusual space; commands could not name it — use plain spaces, _ or - between words")
    hidden = [ch for ch in name if unicodedata.category(ch) in _INVISIBLE]
    if hidden:
        codes = ", ".join(f"U+{ord(ch):04X}" for ch in dict.fromkeys(hidden))
        raise ValueError(f"agent name {name!r} contains invisible or direction-changing characters ({codes}); "
                         "use visible letters, digits, _ or -")
    return name


def name_key(name: str) -> str:
    """What a name looks like: two names with the same key cannot be told apart in progress or commands."""
    visible = "".join(ch for ch in name if unicodedata.category(ch) not in _INVISIBLE)
    return unicodedata.normalize("NFKC", visible).casefold()


class AgentConfig(BaseModel):
    """One proposer; it answers once in every layer."""

    model_config = ConfigDict(extra="forbid")

    system_prompt: str = Field(
        DEFAULT_AGENT_PROMPT,
        description="The agent's instruction; {helper_response} marks where the previous layer's answers go.",
    )
    model_name: str = Field(description="A Groq model id, or provider:model for an OpenAI-compatible one.")
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="Sampling temperature, 0–2.")
    max_tokens: int = Field(1024, ge=1, le=MOST_MAX_TOKENS, description="Longest answer, in tokens (1–32768).")

    @field_validator("system_prompt")
    @classmethod
    def _has_helper_slot(cls, value: str) -> str:
        if HELPER_SLOT not in value:
            raise ValueError(f"must contain {HELPER_SLOT}, where the previous layer's answers go")
        return value

    @field_validator("model_name")
    @classmethod
    def _model_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must name a model, e.g. openai/gpt-oss-20b")
        return value


class MoaConfig(BaseModel):
    """A whole Mixture-of-Agents setup: proposer layers of agents, then one aggregator."""

    # The JSON key is "cycles" (the Groq demo's spelling, in every stored and exported config); code says layers.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    main_model: str = Field(description="The aggregator, which writes the final answer; use the strongest.")
    layers: int = Field(3, ge=1, alias="cycles", description="Proposer layers before the aggregator.")
    layer_agent_config: dict[str, AgentConfig] = Field(
        description="The proposers, by name; each answers once per layer.",
    )
    system_prompt: str = Field(
        DEFAULT_MAIN_PROMPT,
        description="The aggregator's own instruction; {helper_response} marks where the answers go.",
    )
    aggregate_prompt: str = Field(
        AGGREGATE_AND_SYNTHESIZE,
        description="The aggregate-and-synthesize instruction placed before the numbered earlier answers.",
    )
    temperature: float = Field(0.5, ge=0.0, le=2.0, description="The aggregator's temperature, 0–2.")
    max_tokens: int = Field(2048, ge=1, le=MOST_MAX_TOKENS, description="The aggregator's longest answer, in tokens.")
    fallback_model: str | None = Field(
        None, description="Writes the answer when the aggregator fails; unset: the strongest proposer.")
    early_exit: bool = Field(
        False, description="Skip the remaining proposer layers once enough agents of a layer agree.")
    early_answer: bool = Field(
        False, description="Start the final answer before the last layer has finished; all its answers "
                           "still reach it.")
    prompt_layout: PromptLayout = Field(
        DEFAULT_LAYOUT, description="instruction_first: each agent's instruction first, then the thread and the "
        "question, then the earlier layer's answers in the last message (what providers cache repeats across "
        "layers and turns); classic: the earlier answers inside each agent's instruction, first; shared_prefix: "
        "the thread and question first, then each agent's instruction and the earlier answers.")

    @field_validator("layer_agent_config")
    @classmethod
    def _at_least_one_agent(cls, value: dict[str, AgentConfig]) -> dict[str, AgentConfig]:
        if not value:
            raise ValueError("needs at least one agent")
        seen: dict[str, str] = {}
        for name in value:
            check_agent_name(name)
            key = name_key(name)
            if key in seen:
                raise ValueError(f"agent names {seen[key]!r} and {name!r} look the same; give them different names")
            seen[key] = name
        return value

    @field_validator("system_prompt")
    @classmethod
    def _main_has_helper_slot(cls, value: str) -> str:
        return AgentConfig._has_helper_slot(value)

    @field_validator("main_model")
    @classmethod
    def _main_not_blank(cls, value: str) -> str:
        return AgentConfig._model_not_blank(value)

    @property
    def agents(self) -> list[tuple[str, AgentConfig]]:
        return list(self.layer_agent_config.items())

    @property
    def call_count(self) -> int:
        return self.layers * len(self.layer_agent_config) + 1

    def models(self) -> list[str]:
        """Every distinct model the config uses, the aggregator first."""
        seen = [self.main_model]
        for agent in self.layer_agent_config.values():
            if agent.model_name not in seen:
                seen.append(agent.model_name)
        return seen

    def export(self) -> dict[str, Any]:
        """The config as JSON-ready data that `parse_config` reads back unchanged."""
        data = self.model_dump(mode="json", by_alias=True)
        if data.get("fallback_model") is None:  # optional: left out unless set
            data.pop("fallback_model", None)
        for switch in ("early_exit", "early_answer"):  # off unless a channel chose otherwise
            if not data.get(switch):
                data.pop(switch, None)
        if data.get("prompt_layout") == DEFAULT_LAYOUT:  # the default: left out, so configs keep their label
            data.pop("prompt_layout", None)
        return data

    def fallback(self) -> str | None:
        """Who writes the answer when the aggregator fails: `fallback_model`, else the strongest proposer
        (the largest by the size in its name, e.g. 120b over 20b), never the aggregator itself."""
        if self.fallback_model and self.fallback_model != self.main_model:
            return self.fallback_model
        proposers = [m for m in self.models() if m != self.main_model]
        return max(proposers, key=_model_size, default=None)

    def export_json(self) -> str:
        return json.dumps(self.export(), indent=2, ensure_ascii=False)


def _model_size(model: str) -> float:
    """Billions of parameters named in a model id ("gpt-oss-120b" → 120); 0 when it names none."""
    sizes = [float(n) for n in re.findall(r"(\d+(?:\.\d+)?)b(?![a-z])", model.lower())]
    return max(sizes, default=0.0)


def check_limits(config: MoaConfig, limits: Limits) -> MoaConfig:
    """Raise ConfigError when the config exceeds the operator's bounds."""
    if config.layers > limits.max_layers:
        raise ConfigError(
            f"cycles is {config.layers}, but at most {limits.max_layers} layers are allowed: "
            f"use a number from 1 to {limits.max_layers}."
        )
    agents = len(config.layer_agent_config)
    if agents > limits.max_agents:
        raise ConfigError(
            f"layer_agent_config has {agents} agents, but at most {limits.max_agents} are allowed: "
            "remove some."
        )
    if config.call_count > limits.max_calls:
        raise ConfigError(
            f"{config.layers} layers × {agents} agents + the aggregator is {config.call_count} model calls "
            f"per answer, over the limit of {limits.max_calls}: use fewer layers or agents."
        )
    return config


# The article's config was posted with its keys translated; accept that spelling too.
_TRANSLATED_KEYS = {"系统提示": "system_prompt", "模型名称": "model_name", "温度": "temperature"}
_TRANSLATED_SLOT = "{助手回应}"


def _normalise_agent(raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        return raw
    agent = {_TRANSLATED_KEYS.get(k, k): v for k, v in raw.items()}
    prompt = agent.get("system_prompt")
    if isinstance(prompt, str):
        agent["system_prompt"] = prompt.replace(_TRANSLATED_SLOT, HELPER_SLOT)
    return agent


def json_keys(model: type[BaseModel]) -> list[str]:
    """A model's fields as a config's JSON spells them ("cycles", not the field name `layers`)."""
    return [field.alias or name for name, field in model.model_fields.items()]


def _normalise(data: Mapping[str, Any], base: MoaConfig | None) -> dict[str, Any]:
    """Turn any accepted shape (ours, the Groq demo's, the article's bare agent object) into ours."""
    ours = any(key in json_keys(MoaConfig) for key in data)  # possibly just some fields
    # …else the article's bare {"layer_agent_1": {...}, ...}: agents only, keep the rest.
    merged = dict(data) if ours else {"layer_agent_config": dict(data)}
    if base is not None:
        for key, value in base.export().items():
            merged.setdefault(key, value)
    agents = merged.get("layer_agent_config")
    if isinstance(agents, Mapping):
        merged["layer_agent_config"] = {str(k): _normalise_agent(v) for k, v in agents.items()}
    return merged


def _describe(err: ValidationError) -> str:
    lines = []
    for item in err.errors():
        field = ".".join(str(p) for p in item["loc"]) or "config"
        kind = item["type"]
        if kind == "extra_forbidden":
            known = ", ".join(json_keys(AgentConfig) if "layer_agent_config" in field else json_keys(MoaConfig))
            lines.append(f"{field}: unknown field (known fields: {known})")
        elif kind == "missing":
            lines.append(f"{field}: required, but missing")
        else:
            msg = item["msg"].removeprefix("Value error, ")
            lines.append(f"{field}: {msg}")
    return "Invalid MoA config — " + "; ".join(lines)


def parse_config(data: str | Mapping[str, Any], *, limits: Limits | None = None,
                 base: MoaConfig | None = None) -> MoaConfig:
    """Read a config from JSON text or data in any accepted shape; raise ConfigError naming the fix.

    `base` supplies fields the input leaves out (the article's bare agents object has no main model).
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as err:
            raise ConfigError(
                f"That is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}). "
                "Paste an object like {\"layer_agent_1\": {\"system_prompt\": \"… {helper_response}\", "
                "\"model_name\": \"openai/gpt-oss-20b\"}}."
            ) from None
        except RecursionError:
            raise ConfigError("That JSON is nested far too deeply to be a MoA config (a config is an object "
                              "of agents, two levels deep).") from None
        except ValueError:  # e.g. an integer of more than 4,300 digits
            raise ConfigError("That JSON holds a number far too large for any setting (temperature is 0–2, "
                              "max_tokens at most 32768).") from None
    if not isinstance(data, Mapping):
        raise ConfigError("A MoA config must be a JSON object, e.g. {\"main_model\": …, \"cycles\": 3, "
                          "\"layer_agent_config\": {…}}.")
    base = base if base is not None else default_config()
    try:
        # by_name=False: JSON names the layers "cycles" only, as it always has.
        config = MoaConfig.model_validate(_normalise(data, base), by_name=False)
    except ValidationError as err:
        raise ConfigError(_describe(err)) from None
    except RecursionError:
        raise ConfigError("That JSON is nested far too deeply to be a MoA config.") from None
    return check_limits(config, limits or Limits())


# ---- presets -------------------------------------------------------------------------------------
# Models Groq served in Oct 2026; availability is checked live before use, never assumed.
STRONG = "openai/gpt-oss-120b"
FAST = "openai/gpt-oss-20b"
QWEN = "qwen/qwen3.8-27b"

_ARTICLE_AGENTS = {
    "layer_agent_1": AgentConfig(system_prompt="Think through your response step by step. {helper_response}",
                                 model_name=FAST),
    "layer_agent_2": AgentConfig(
        system_prompt="Respond with a thought and then your response to the question. {helper_response}",
        model_name=QWEN, temperature=0.7),
    "layer_agent_3": AgentConfig(
        system_prompt="You are an expert at logic and reasoning. Always take a logical approach to the "
                      "answer. {helper_response}",
        model_name=FAST),
}

PRESET_DESCRIPTIONS: dict[str, str] = {
    "article": "the seed article's three agents on today's Groq models, 3 layers (10 calls)",
    "lite": "MoA-Lite: one proposer layer of two models, then the aggregator (3 calls)",
    "deep": "the paper's best shape: 3 layers × 6 diverse proposers (19 calls)",
    "self-moa": "Self-MoA: the strongest model sampled 4× at varied temperatures, 1 layer (5 calls)",
    "fast": "the article's agents with early exit and early answer: stops after layer 1 when they agree "
            "(4–11 calls)",
}


def preset(name: str) -> MoaConfig:
    """A built-in preset by name; ConfigError lists the names when it is unknown."""
    key = name.strip().lower()
    if key == "article":
        return MoaConfig(main_model=STRONG, layers=3, layer_agent_config=dict(_ARTICLE_AGENTS))
    if key == "lite":
        return MoaConfig(main_model=STRONG, layers=1, layer_agent_config={
            "fast": AgentConfig(model_name=FAST, temperature=0.7),
            "qwen": AgentConfig(model_name=QWEN, temperature=0.7),
        })
    if key == "deep":
        agents = {}
        for i, (model, temp) in enumerate([(STRONG, 0.7), (FAST, 0.7), (QWEN, 0.7),
                                           (STRONG, 1.0), (FAST, 1.0), (QWEN, 1.0)], start=1):
            agents[f"agent_{i}"] = AgentConfig(model_name=model, temperature=temp)
        return MoaConfig(main_model=STRONG, layers=3, layer_agent_config=agents)
    if key == "fast":
        return MoaConfig(main_model=STRONG, layers=3, layer_agent_config=dict(_ARTICLE_AGENTS),
                         early_exit=True, early_answer=True)
    if key in ("self-moa", "self_moa", "selfmoa"):
        return MoaConfig(main_model=STRONG, layers=1, layer_agent_config={
            f"sample_{i}": AgentConfig(model_name=STRONG, temperature=t)
            for i, t in enumerate((0.4, 0.7, 1.0, 1.2), start=1)
        })
    raise ConfigError(f"There is no preset called {name!r}. Presets: {', '.join(PRESET_DESCRIPTIONS)}.")


def load_config_file(path: str | Path, *, limits: Limits | None = None) -> MoaConfig:
    """A config from a JSON file in any accepted shape; ConfigError names the file and the fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"Cannot read the config file {path}: {err.strerror or err}.") from None
    try:
        return parse_config(text, limits=limits)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def default_config() -> MoaConfig:
    """The built-in default: the article's setup."""
    return preset("article")
