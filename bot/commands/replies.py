"""Replies to the read-only commands (help, show, agents, presets, export); anyone may ask, nothing changes."""

from __future__ import annotations

from bot.commands.context import CommandReply
from bot.commands.current import current_config, describe_source, mention, when
from bot.commands.deps import CommandDeps
from bot.commands.grammar import (
    FIELD_WORDS,
    USAGE_ADD,
    USAGE_REMOVE,
    USAGE_SET,
    Command,
    Export,
    Help,
    ListAgents,
    ListPresets,
    Show,
)
from bot.text.redact import redact
from bot.text.render import Style, describe_budget, render_config, style_for
from moa.config.labels import config_label
from moa.config.schema import PRESET_DESCRIPTIONS, AgentConfig, Limits, MoaConfig, preset
from storage.models import ChannelKey


def redact_secrets(text: str) -> str:
    """Configs hold no secrets by design, but a key pasted into a prompt must not be echoed back."""
    return redact(text)


async def reply(command: Command, channel: ChannelKey, deps: CommandDeps) -> CommandReply:
    """The answer to a read-only command about `channel`."""
    style = style_for(channel.platform)
    match command:
        case Help(topic):
            return CommandReply(help_text(topic, deps.limits, style))
        case Show():
            return CommandReply(await show_text(channel, deps, style))
        case ListAgents():
            config, _ = await current_config(deps, channel)
            return CommandReply(agents_text(config, style))
        case ListPresets():
            config, _ = await current_config(deps, channel)
            return CommandReply(presets_text(config, style))
        case Export():
            config, stored = await current_config(deps, channel)
            body = redact_secrets(config.export_json())
            return CommandReply(f"{style.bold('MoA setup')} — {describe_source(stored, channel, deps)}. Paste it after "
                                f"`/moa import` to use it elsewhere.\n```json\n{body}\n```")
    raise AssertionError(f"not a reading command: {command!r}")


async def show_text(channel: ChannelKey, deps: CommandDeps, style: Style) -> str:
    """The channel's setup, where it comes from, its last few changes and how to change it."""
    config, stored = await current_config(deps, channel)
    lines = [redact_secrets(render_config(config, describe_source(stored, channel, deps), style))]
    lines += [f"• {line}" for line in describe_budget(config, deps.pacer)]
    lines.append(f"`/moa usage` counts its answers as `{config_label(config)}`.")
    running = await deps.experiments.running(channel) if deps.experiments is not None else None
    if running is not None:  # the setup above is not what answers while it runs
        lines.append(f"🧪 An experiment runs here: answers alternate between A `{running.arm_a}` and B "
                     f"`{running.arm_b}`, not the setup above; `/moa experiment` shows the standing.")
    changes = await deps.configs.changes(channel, limit=3)
    if changes:
        lines.append("Recent changes: " + "; ".join(
            f"{c.summary} by {mention(c.changed_by, channel)} ({when(c.changed_at)})" for c in changes))
    lines.append("Admins change it with `/moa layers N`, `/moa model MODEL`, `/moa agents …`, "
                 "`/moa preset NAME` — `/moa help` lists everything.")
    return "\n".join(lines)


def agents_text(config: MoaConfig, style: Style) -> str:
    """One line per agent: model, temperature, max tokens and the start of its prompt."""
    lines = [f"{style.bold('Agents')} ({len(config.layer_agent_config)}, each answers once per layer):"]
    for name, agent in config.agents:
        prompt = " ".join(agent.system_prompt.split())
        if len(prompt) > 100:  # the whole prompt is one `/moa export` away
            prompt = prompt[:99] + "…"
        lines.append(f"• {style.bold(name)}: `{agent.model_name}`, temperature {agent.temperature:g}, "
                     f"max {agent.max_tokens:,} tokens — “{redact_secrets(prompt)}”")
    lines.append(f"Change them with {USAGE_ADD}, {USAGE_REMOVE} or {USAGE_SET}.")
    return "\n".join(lines)


def presets_text(config: MoaConfig, style: Style) -> str:
    """The built-in presets, marking the one `config` is."""
    lines = [style.bold("Presets") + " (use one with `/moa preset NAME`):"]
    for name, description in PRESET_DESCRIPTIONS.items():
        in_use = " ← in use here" if preset(name).export() == config.export() else ""
        lines.append(f"• `{name}` — {description}{in_use}")
    return "\n".join(lines)


def help_text(topic: str, limits: Limits, style: Style) -> str:
    """Every command on one line each with this bot's limits; `help agents` explains the agent fields."""
    if topic.startswith("agent"):
        lines = [style.bold("Agent settings") + " (`/moa agents set NAME FIELD VALUE`):"]
        for name, word in FIELD_WORDS.items():
            lines.append(f"• `{word}` — {AgentConfig.model_fields[name].description}")
        lines.append('A name with spaces goes in quotes: `/moa agents remove "my agent"`.')
        return "\n".join(lines)
    # The config fields' own descriptions, so help and the schema cannot drift apart.
    fields = {name: (f.description or "").rstrip(".") for name, f in MoaConfig.model_fields.items()}
    admin = " (admins)"
    return "\n".join([
        style.bold("/moa commands"),
        "• `show` — this channel's MoA setup and where it comes from",
        f"• `layers N` — {fields['layers']} (1–{limits.max_layers}){admin}",
        f"• `model MODEL` — {fields['main_model']}{admin}",
        "• `agents` — list the proposers; `agents add NAME MODEL [TEMPERATURE]`, `agents remove NAME`, "
        f"`agents set NAME model|temperature|prompt|max_tokens VALUE`{admin} (`/moa help agents` for details)",
        f"• `presets` — the built-in setups; `preset NAME` uses one{admin}",
        f"• `import JSON` — use a pasted config (the article's format or an export){admin}; "
        "`export` — this setup as JSON",
        f"• `reset` — back to the workspace or built-in default{admin}",
        f"• `forget` — delete this channel's stored conversation history and runs{admin}",
        "• `usage` — what this channel spent today, in 7 and 30 days: answers, calls, tokens, cost, answer "
        "times, failures and 👍/👎, by config and by model",
        "• `budget` — this channel's daily budgets and what today used; `budget answers N` (per member), "
        f"`budget tokens N` (for the channel), `budget off`{admin}. Budgets apply to everyone, admins too; "
        "days are UTC",
        f"• `experiment A B` — answers alternate between two setups (presets, or `current`){admin}; "
        f"`experiment` — the standing: answers, 👍/👎, time and cost per arm; `experiment stop [A|B]`{admin} "
        "ends it, adopting A or B if named",
        f"• `early-exit on|off` — {fields['early_exit']} (default off){admin}",
        f"• `early-answer on|off` — {fields['early_answer']} (default off){admin}",
        "• `help` — this list",
        f"Limits here: up to {limits.max_layers} layers, {limits.max_agents} agents and "
        f"{limits.max_calls} model calls per answer.",
    ])
