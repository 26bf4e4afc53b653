"""`/moa` as Discord subcommands: a `GroupCog` whose typed options build the grammar's command objects
directly, so a name or prompt with spaces and quotes reaches the service exactly as typed (Slack and the
console type the same commands as text, which bot/commands/grammar.py parses)."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from adapters.discord.surface import NO_PINGS
from adapters.discord.views import MESSAGE_LIMIT, interaction_place
from bot.commands.context import CommandContext
from bot.commands.grammar import (
    AGENT_FIELDS,
    SWITCHES,
    AddAgent,
    Command,
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
    SetBudget,
    SetLayers,
    SetSwitch,
    Show,
    ShowBudget,
    ShowExperiment,
    ShowUsage,
    StartExperiment,
    StopExperiment,
    UsePreset,
)
from bot.conversation.service import ConversationService
from bot.text.chunking import split_text
from moa.config.schema import PRESET_DESCRIPTIONS

log = logging.getLogger(__name__)

MAX_FOLLOWUPS = 3  # longer command replies arrive as one attached file
AUTOCOMPLETE_TIMEOUT_S = 2.0  # autocomplete must answer within 3 s or Discord shows an error

# What an experiment's arm may be: a preset, or the channel's setup now.
_ARMS = [app_commands.Choice(name=name, value=name) for name in (*PRESET_DESCRIPTIONS, "current")]


async def _is_admin(interaction: discord.Interaction[Any]) -> bool:
    """Manage Channels where the command runs (Discord's resolved permissions); a DM is the user's own."""
    if interaction.guild_id is None:
        return True
    return interaction.permissions.manage_channels


class MoaCommands(commands.GroupCog, group_name="moa",
                  group_description="Mixture-of-Agents: how answers in this channel are made"):
    agents = app_commands.Group(name="agents", description="The proposer agents of this channel")
    experiment = app_commands.Group(name="experiment", description="Two setups answer in turn; 👍/👎 decide")

    def __init__(self, service: ConversationService) -> None:
        self.service = service

    async def _run(self, interaction: discord.Interaction[Any], command: Command | str) -> None:
        """Defer first (Discord's 3 s deadline, before any I/O), run `command`, reply privately. Text only
        where the options cannot make a command, so the grammar's usage sentence answers."""
        await interaction.response.defer(ephemeral=True, thinking=True)

        async def is_admin() -> bool:
            return await _is_admin(interaction)

        ctx = CommandContext(channel=interaction_place(interaction), user=str(interaction.user.id),
                             is_admin=is_admin)
        reply = await self.service.run_command(ctx, command)
        parts = split_text(reply.text, MESSAGE_LIMIT) or ["Done."]
        if len(parts) > MAX_FOLLOWUPS:  # e.g. a large `export`: one file instead of a wall of messages
            attachment = discord.File(io.BytesIO(reply.text.encode("utf-8")), filename="moa-reply.md")
            await interaction.followup.send(
                f"This reply is {len(reply.text):,} characters, so it is attached as a file.", file=attachment,
                ephemeral=True, allowed_mentions=NO_PINGS)
            return
        for part in parts:
            await interaction.followup.send(part, ephemeral=True, allowed_mentions=NO_PINGS)

    async def _models(self, current: str) -> list[app_commands.Choice[str]]:
        try:
            models = await asyncio.wait_for(self.service.live_models(), AUTOCOMPLETE_TIMEOUT_S)
        except Exception:  # a slow or failing provider: offer nothing rather than an error
            log.warning("model autocomplete failed", exc_info=True)
            return []
        wanted = current.lower().strip()
        return [app_commands.Choice(name=m[:100], value=m) for m in models if wanted in m.lower()][:25]

    @app_commands.command(name="show", description="This channel's MoA setup")
    async def show(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, Show())

    @app_commands.command(name="help", description="What /moa can do")
    @app_commands.describe(topic="A command to explain, e.g. agents")
    async def help(self, interaction: discord.Interaction[Any], topic: str = "") -> None:
        await self._run(interaction, Help(topic.strip().lower()))

    @app_commands.command(name="layers", description="Set how many proposer layers run before the aggregator "
                                                     "(admins)")
    @app_commands.describe(count="Number of proposer layers")
    async def layers(self, interaction: discord.Interaction[Any], count: int) -> None:
        await self._run(interaction, SetLayers(str(count)))

    @app_commands.command(name="early-exit", description="Skip the remaining layers once a layer's agents agree "
                                                         "(admins)")
    async def early_exit(self, interaction: discord.Interaction[Any], switch: Literal["on", "off"]) -> None:
        await self._run(interaction, SetSwitch(SWITCHES["early-exit"], switch))

    @app_commands.command(name="early-answer", description="Start the final answer before the last layer ends "
                                                           "(admins)")
    async def early_answer(self, interaction: discord.Interaction[Any], switch: Literal["on", "off"]) -> None:
        await self._run(interaction, SetSwitch(SWITCHES["early-answer"], switch))

    @app_commands.command(name="model", description="Set the aggregator model, which writes the final answer "
                                                    "(admins)")
    @app_commands.describe(model="A live model id")
    async def model(self, interaction: discord.Interaction[Any], model: str) -> None:
        await self._run(interaction, SetAggregator(model.strip()))

    @model.autocomplete("model")
    async def _model_choices(self, interaction: discord.Interaction[Any],
                             current: str) -> list[app_commands.Choice[str]]:
        return await self._models(current)

    @agents.command(name="list", description="The proposer agents and their settings")
    async def agents_list(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, ListAgents())

    @agents.command(name="add", description="Add a proposer agent (admins)")
    @app_commands.describe(name="A short name", model="A live model id", temperature="0–2 (default 0.7)")
    async def agents_add(self, interaction: discord.Interaction[Any], name: str, model: str,
                         temperature: float | None = None) -> None:
        await self._run(interaction, AddAgent(name, model.strip(),
                                              None if temperature is None else repr(temperature)))

    @agents_add.autocomplete("model")
    async def _agent_model_choices(self, interaction: discord.Interaction[Any],
                                   current: str) -> list[app_commands.Choice[str]]:
        return await self._models(current)

    @agents.command(name="remove", description="Remove a proposer agent (admins)")
    async def agents_remove(self, interaction: discord.Interaction[Any], name: str) -> None:
        await self._run(interaction, RemoveAgent(name))

    @agents.command(name="set", description="Change an agent's model, temperature, prompt or max_tokens (admins)")
    @app_commands.describe(name="The agent", setting="What to change", value="The new value")
    async def agents_set(self, interaction: discord.Interaction[Any], name: str,
                         setting: Literal["model", "temperature", "prompt", "max_tokens"], value: str) -> None:
        await self._run(interaction, SetAgentField(name, AGENT_FIELDS[setting], value))

    @agents_set.autocomplete("value")
    async def _agent_value_choices(self, interaction: discord.Interaction[Any],
                                   current: str) -> list[app_commands.Choice[str]]:
        if getattr(interaction.namespace, "setting", None) != "model":
            return []
        return await self._models(current)

    @app_commands.command(name="preset", description="Switch to a built-in setup (admins)")
    @app_commands.choices(name=[app_commands.Choice(name=f"{k} — {d}"[:100], value=k)
                                for k, d in PRESET_DESCRIPTIONS.items()])
    async def preset(self, interaction: discord.Interaction[Any], name: str) -> None:
        await self._run(interaction, UsePreset(name))

    @app_commands.command(name="presets", description="The built-in setups")
    async def presets(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, ListPresets())

    @app_commands.command(name="import", description="Replace the setup with a JSON config (admins)")
    @app_commands.describe(config="JSON: the seed article's format, the Groq demo's, or /moa export")
    async def import_(self, interaction: discord.Interaction[Any], config: str) -> None:
        await self._run(interaction, Import(config))

    @app_commands.command(name="export", description="This channel's setup as JSON")
    async def export(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, Export())

    @app_commands.command(name="reset", description="Back to the default setup (admins)")
    async def reset(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, Reset())

    @app_commands.command(name="forget", description="Delete this channel's stored conversation history (admins)")
    async def forget(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, Forget())

    @app_commands.command(name="usage", description="What this channel spent today, in 7 and 30 days, and 👍/👎 "
                                                    "per config")
    async def usage(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, ShowUsage())

    @app_commands.command(name="budget", description="Daily budgets: see them, or set answers per member / tokens "
                                                     "(admins)")
    @app_commands.describe(setting="What to change (leave empty to see the budgets and today's use)",
                           amount="Answers per member per day, or tokens per channel per day; 0 = none")
    async def budget(self, interaction: discord.Interaction[Any],
                     setting: Literal["answers", "tokens", "off"] | None = None,
                     amount: app_commands.Range[int, 0, 1_000_000_000] | None = None) -> None:
        if setting is None:
            await self._run(interaction, ShowBudget())
        elif setting == "off":
            await self._run(interaction, SetBudget("off"))
        elif amount is None:  # a budget to set, but no amount: the grammar says how
            await self._run(interaction, f"budget {setting}")
        else:
            await self._run(interaction, SetBudget(setting, str(amount)))

    @experiment.command(name="start", description="Alternate the next answers between two setups (admins)")
    @app_commands.describe(a="Arm A: a preset, or current (this channel's setup now)", b="Arm B")
    @app_commands.choices(a=_ARMS, b=_ARMS)
    async def experiment_start(self, interaction: discord.Interaction[Any], a: str, b: str) -> None:
        await self._run(interaction, StartExperiment(a, b))

    @experiment.command(name="show", description="Each arm's answers, 👍/👎, time and cost, and if it is clear yet")
    async def experiment_show(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, ShowExperiment())

    @experiment.command(name="stop", description="End the experiment, adopting A or B if named (admins)")
    @app_commands.describe(adopt="The arm to keep as this channel's setup (leave empty to keep the setup as it is)")
    async def experiment_stop(self, interaction: discord.Interaction[Any],
                              adopt: Literal["A", "B"] | None = None) -> None:
        await self._run(interaction, StopExperiment(adopt))

    async def cog_app_command_error(self, interaction: discord.Interaction[Any],
                                    error: app_commands.AppCommandError) -> None:
        log.error("/moa failed", exc_info=error)
        text = "Something went wrong on my side; the details are in the bot's log."
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
