"""The changing commands. Each edit builds the whole new config and validates it against the schema, the
operator's limits and the live model list; only then is it stored, with a change-log line."""

from __future__ import annotations

from typing import Any

from bot.commands.context import CommandContext, CommandReply
from bot.commands.current import current_config, describe_source
from bot.commands.deps import CommandDeps
from bot.commands.grammar import (
    FIELD_WORDS,
    USAGE_ADD,
    USAGE_REMOVE,
    AddAgent,
    Command,
    CommandError,
    Forget,
    Import,
    RemoveAgent,
    Reset,
    SetAgentField,
    SetAggregator,
    SetLayers,
    SetSwitch,
    UsePreset,
)
from bot.commands.live import live_spelling, require_live
from bot.commands.values import import_json, real, token, unquote, whole
from bot.text.render import describe_calls, plural
from moa.config.schema import (
    HELPER_SLOT,
    PRESET_DESCRIPTIONS,
    AgentConfig,
    MoaConfig,
    check_limits,
    parse_config,
    preset,
)

# (new config, change-log summary, reply sentence), or a reply when there is nothing to change
Edit = tuple[MoaConfig, str, str] | str


async def change(command: Command, ctx: CommandContext, deps: CommandDeps) -> CommandReply:
    """Apply one changing command to `ctx.channel` and say what changed; CommandError/ConfigError change nothing."""
    match command:
        case Reset():
            return await _reset(ctx, deps)
        case Forget():
            removed = await deps.history.forget(ctx.channel)
            if not removed:
                return CommandReply("There is no stored history for this channel; nothing to forget.")
            return CommandReply(f"🧹 Forgot this channel's history: {plural(removed, 'stored item')} "
                                "(messages and runs) deleted. The MoA setup is unchanged.", changed=True)
    config, _ = await current_config(deps, ctx.channel)
    result = await _edit(config, command, deps)
    if isinstance(result, str):
        return CommandReply(result)
    new, summary, note = result
    await deps.configs.put(ctx.channel, new.export_json(), ctx.user, summary)
    return CommandReply(f"✅ {note} Now {describe_calls(new)}.", changed=True)


async def _reset(ctx: CommandContext, deps: CommandDeps) -> CommandReply:
    removed = await deps.configs.delete(ctx.channel, ctx.user)
    config, stored = await current_config(deps, ctx.channel)
    source = describe_source(stored, ctx.channel, deps)
    if not removed:
        return CommandReply(f"This channel has no setup of its own; it already uses {source}. Nothing to reset.")
    return CommandReply(f"✅ Reset: this channel now uses {source}: "
                        f"{plural(config.layers, 'layer')}, aggregator `{config.main_model}`, "
                        f"{plural(len(config.layer_agent_config), 'agent')}. Now {describe_calls(config)}.",
                        changed=True)


async def _edit(config: MoaConfig, command: Command, deps: CommandDeps) -> Edit:
    data = config.export()
    agents: dict[str, dict[str, Any]] = data["layer_agent_config"]
    limits = deps.limits
    match command:
        case SetLayers(raw):
            layers = whole(raw)
            if layers is None:
                raise CommandError(f"`{raw[:40]}` is not a number of layers. Use a whole number from 1 to "
                                   f"{limits.max_layers}, e.g. `/moa layers 3`.")
            if not 1 <= layers <= limits.max_layers:
                raise CommandError(f"{layers} layers is out of range: use a number from 1 to "
                                   f"{limits.max_layers}, e.g. `/moa layers 3`.")
            if layers == config.layers:
                return f"This channel already uses {plural(config.layers, 'layer')}; nothing to change."
            data["cycles"] = layers
            new = parse_config(data, limits=limits, base=config)
            return new, f"layers {layers}", f"Layers: {config.layers} → {layers}."
        case SetAggregator(model):
            model = await live_spelling(deps.models, model, config)
            if model == config.main_model:
                return f"The aggregator is already `{model}`; nothing to change."
            data["main_model"] = model
            new = parse_config(data, limits=limits, base=config)
            return new, f"model {model}", f"Aggregator: `{config.main_model}` → `{model}`."
        case AddAgent(name, model, raw_temperature):
            if _find(config, name, must_exist=False) is not None:
                raise CommandError(f"There is already an agent called `{name}`; pick another name or change "
                                   f"it with `/moa agents set {name} model MODEL`.")
            if len(name) > 40:
                raise CommandError("Agent names are at most 40 characters; pick a shorter one.")
            if len(agents) >= limits.max_agents:
                raise CommandError(f"This channel already has {len(agents)} agents, the most allowed; remove "
                                   f"one first with {USAGE_REMOVE}.")
            temperature = 0.7 if raw_temperature is None else _temperature(raw_temperature)
            model = await live_spelling(deps.models, model, config)
            agents[name] = AgentConfig.model_validate(
                {"model_name": model, "temperature": temperature}).model_dump(mode="json")
            new = parse_config(data, limits=limits, base=config)
            return (new, f"agents add {name}",
                    f"Added agent `{name}`: `{model}`, temperature {temperature:g}, the default prompt.")
        case RemoveAgent(name):
            name = _find(config, name) or name
            if len(agents) == 1:
                raise CommandError(f"`{name}` is the only agent, and a MoA setup needs at least one. Add "
                                   f"another first with {USAGE_ADD}.")
            del agents[name]
            new = parse_config(data, limits=limits, base=config)
            return new, f"agents remove {name}", f"Removed agent `{name}`."
        case SetAgentField(name, key, raw):
            name = _find(config, name) or name
            return await _set_field(config, data, name, key, raw, deps)
        case UsePreset(name):
            new = check_limits(preset(name), limits)
            await require_live(deps.models, new)
            key = name.strip().lower()
            return new, f"preset {key}", f"Preset `{key}`: {PRESET_DESCRIPTIONS.get(key, key)}."
        case Import(payload):
            new = parse_config(import_json(payload), limits=limits, base=config)
            await require_live(deps.models, new)
            return (new, "import", f"Imported: {plural(new.layers, 'layer')}, aggregator `{new.main_model}`, "
                                   f"agents {', '.join(f'{n} (`{a.model_name}`)' for n, a in new.agents)}.")
        case SetSwitch(key, raw):
            return _switch(config, data, key, raw, deps)
    raise AssertionError(f"not a changing command: {command!r}")


_ON, _OFF = ("on", "true", "yes", "1"), ("off", "false", "no", "0")


def _switch(config: MoaConfig, data: dict[str, Any], key: str, raw: str, deps: CommandDeps) -> Edit:
    """Turn `early_exit` / `early_answer` on or off."""
    word = key.replace("_", "-")
    if raw.lower() not in (*_ON, *_OFF):
        raise CommandError(f"`/moa {word}` takes on or off (not `{raw[:40]}`), e.g. `/moa {word} on`.")
    value = raw.lower() in _ON
    shown = "on" if value else "off"
    if getattr(config, key) == value:
        return f"{word} is already {shown} here; nothing to change."
    data[key] = value
    new = parse_config(data, limits=deps.limits, base=config)
    return new, f"{word} {shown}", f"{word.capitalize()}: {shown}."


async def _set_field(config: MoaConfig, data: dict[str, Any], name: str, key: str, raw: str,
                     deps: CommandDeps) -> Edit:
    agent: dict[str, Any] = data["layer_agent_config"][name]
    note = ""
    value: Any
    if key == "model_name":
        value = await live_spelling(deps.models, token(raw), config)
        shown = f"`{value}`"
    elif key == "temperature":
        value = _temperature(raw)
        shown = f"{value:g}"
    elif key == "max_tokens":
        value = whole(raw)
        if value is None or not 1 <= value <= 32768:
            raise CommandError(f"max_tokens must be a whole number from 1 to 32768, e.g. 1024 (not "
                               f"`{raw[:40]}`).")
        shown = f"{value:,}"
    else:
        value = unquote(raw)
        # The article's translated slot counts too: parse_config turns it into HELPER_SLOT.
        if HELPER_SLOT not in value and "{助手回应}" not in value:
            value += f" {HELPER_SLOT}"
            note = f" I added {HELPER_SLOT} at the end: that is where the previous layer's answers go."
        shown = "updated"
    if agent[key] == value:
        return f"`{name}` already has that {key.replace('_name', '')}; nothing to change."
    agent[key] = value
    new = parse_config(data, limits=deps.limits, base=config)
    word = FIELD_WORDS[key]
    return new, f"agents set {name} {word}", f"Agent `{name}` {word}: {shown}.{note}"


def _find(config: MoaConfig, name: str, *, must_exist: bool = True) -> str | None:
    """The agent's exact name (case-forgiving), or CommandError naming the agents there are."""
    if name in config.layer_agent_config:
        return name
    folded = [n for n in config.layer_agent_config if n.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    if not must_exist:
        return None
    raise CommandError(f"There is no agent called `{name[:40]}`. Agents here: "
                       f"{', '.join(f'`{n}`' for n in config.layer_agent_config)}.")


def _temperature(raw: str) -> float:
    value = real(raw)
    if value is None or not 0 <= value <= 2:
        raise CommandError(f"Temperature must be a number from 0 to 2, e.g. 0.7 (not `{raw[:40]}`).")
    return value
