"""What the bot listens to: mentions, follow-ups in its threads, 🔍 reactions, and `/moa` commands.

Listeners only translate: the service decides everything (config, history, queueing, permissions).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Coroutine
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from adapters.discord.files import discord_attachments
from adapters.discord.places import place_of
from adapters.discord.surface import NO_PINGS, DiscordSurface
from adapters.discord.thread import earlier_reader
from adapters.discord.views import MESSAGE_LIMIT, interaction_place, layers_page
from bot.commands.context import CommandContext
from bot.conversation.reading import FILES_ONLY
from bot.conversation.service import ConversationService, Mention
from bot.surface import ReplySurface
from bot.text.chunking import split_text
from moa.config.schema import PRESET_DESCRIPTIONS
from storage.errors import StorageError
from storage.models import UnfinishedRun

log = logging.getLogger(__name__)

REVEAL_EMOJI = frozenset({"🔍", "🔎"})
THREAD_NAME_LIMIT = 100
MAX_FOLLOWUPS = 3  # longer command replies arrive as one attached file
AUTOCOMPLETE_TIMEOUT_S = 2.0  # autocomplete must answer within 3 s or Discord shows an error
ANSWERED_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def thread_name(question: str) -> str:
    """A thread title from the question: one line, 1–100 characters."""
    name = " ".join(question.split()) or "Question"
    return name if len(name) <= THREAD_NAME_LIMIT else name[: THREAD_NAME_LIMIT - 1].rstrip() + "…"


async def _is_admin(interaction: discord.Interaction[Any]) -> bool:
    """Manage Channels where the command runs (Discord's resolved permissions); a DM is the user's own."""
    if interaction.guild_id is None:
        return True
    return interaction.permissions.manage_channels


# What an experiment's arm may be: a preset, or the channel's setup now.
_ARMS = [app_commands.Choice(name=name, value=name) for name in (*PRESET_DESCRIPTIONS, "current")]

class MoaCog(commands.Cog):
    moa = app_commands.Group(name="moa", description="Mixture-of-Agents: how answers in this channel are made")
    agents = app_commands.Group(name="agents", description="The proposer agents of this channel", parent=moa)
    experiment = app_commands.Group(name="experiment", description="Two setups answer in turn; 👍/👎 decide",
                                    parent=moa)

    def __init__(self, bot: commands.Bot, service: ConversationService) -> None:
        # Both injected (as discord.py's examples pass the bot): the cog never imports the client module.
        self.bot = bot
        self.service = service
        self._tasks: set[asyncio.Task[None]] = set()

    async def cog_unload(self) -> None:
        for task in self._tasks:
            task.cancel()

    # ---- messages ----------------------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or message.type not in ANSWERED_TYPES:
            return
        question = await self._question(message, me.id)
        if question is None:
            return
        # Discord may deliver a message again after a RESUME: answer each message once.
        if not await self.service.claim_event(f"discord:{message.id}"):
            return
        self._spawn(self._answer(message, question))

    async def _question(self, message: discord.Message, me: int) -> str | None:
        """The question this message asks the bot, or None when it isn't for us."""
        mention = re.compile(rf"<@!?{me}>")
        if isinstance(message.channel, discord.DMChannel) or any(u.id == me for u in message.mentions):
            return mention.sub("", message.content).strip()
        if isinstance(message.channel, discord.Thread) and message.content:
            # A follow-up in a thread the bot answered in (content needs the message-content intent).
            key, thread = place_of(message.channel)
            if await self.service.continues_thread(key, thread):
                return message.content.strip()
        return None

    async def _answer(self, message: discord.Message, question: str) -> None:
        files = discord_attachments(message.attachments)
        refusal = self.service.refusal(question or (FILES_ONLY if files else ""))
        if refusal is not None:  # say why right there, without starting a thread for it
            await message.reply(refusal, allowed_mentions=NO_PINGS, mention_author=False)
            return
        target: discord.abc.Messageable = message.channel
        if isinstance(message.channel, discord.TextChannel):
            try:
                target = await message.create_thread(name=thread_name(question), auto_archive_duration=1440)
            except discord.HTTPException:  # no Create Public Threads here: answer in the channel
                log.warning("could not start a thread in channel %s; answering there", message.channel.id)
        surface = DiscordSurface(target)
        await surface.typing()
        key, thread = place_of(target, message.guild.id if message.guild else None)
        await self.service.handle_mention(Mention(
            channel=key, thread=thread, message_id=str(message.id), author=str(message.author.id),
            text=question, author_name=message.author.display_name, attachments=files,
            earlier=earlier_reader(message, self.bot.user.id if self.bot.user else 0)), surface)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run off the gateway's event loop turn, keeping a reference until done."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("answering a Discord message failed", exc_info=task.exception())

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """After a crash, answer (or tell to ask again) each question the last process left, in place of
        its frozen status (once per process: the service hands them out once)."""
        self._spawn(self.service.recover("discord", self._rebuild))

    async def _rebuild(self, run: UnfinishedRun) -> ReplySurface | None:
        """The surface of a run a dead process left, its status message taken from the stored handle."""
        try:
            handle = json.loads(run.surface) if run.surface else {}
        except ValueError:
            handle = {}
        channel_id = int(handle.get("channel") or run.thread)
        channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return None
        status = None
        if handle.get("message") and isinstance(channel, discord.TextChannel | discord.Thread | discord.DMChannel):
            status = channel.get_partial_message(int(handle["message"]))
        return DiscordSurface(channel, status)

    @commands.Cog.listener()
    async def on_shard_ready(self, shard_id: int) -> None:
        """With shards, `on_ready` waits for every shard of the process; the notices go over REST, so the
        first shard ready is enough (`on_ready` then finds nothing left to tell)."""
        await self.on_ready()

    # ---- reactions ---------------------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        """🔍 / 🔎 on one of our answers posts that run's layers where the answer is (works on old answers)."""
        me = self.bot.user
        if me is None or payload.user_id == me.id or payload.emoji.is_custom_emoji() \
                or payload.emoji.name not in REVEAL_EMOJI:
            return
        channel = self.bot.get_channel(payload.channel_id)
        if channel is None:  # e.g. a DM after a restart: not cached yet
            try:
                channel = await self.bot.fetch_channel(payload.channel_id)
            except discord.HTTPException:
                return
        key, _ = place_of(channel, payload.guild_id)
        try:
            run = await self.service.reveal_layers(key, message_id=str(payload.message_id))
        except StorageError as err:  # storage is down: say so where the 🔍 was, as the button does
            await self._reply_to_reaction(channel, payload, str(err))
            return
        if run is None or not isinstance(channel, discord.abc.Messageable):
            return
        if not await self.service.claim_event(f"discord:reveal:{payload.message_id}:{payload.user_id}"):
            return
        content, view = layers_page(run, 0)
        await channel.send(content, view=view, allowed_mentions=NO_PINGS)

    async def _reply_to_reaction(self, channel: object, payload: discord.RawReactionActionEvent, text: str) -> None:
        """`text` as a reply to the reacted-to message. Not claimed: the member may well try again."""
        if isinstance(channel, discord.abc.Messageable):
            await channel.send(text, allowed_mentions=NO_PINGS, reference=discord.MessageReference(
                message_id=payload.message_id, channel_id=payload.channel_id, fail_if_not_exists=False))

    # ---- /moa --------------------------------------------------------------------------------------
    async def _command(self, interaction: discord.Interaction[Any], text: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # the 3 s deadline, before any I/O

        async def is_admin() -> bool:
            return await _is_admin(interaction)

        ctx = CommandContext(channel=interaction_place(interaction), user=str(interaction.user.id),
                             is_admin=is_admin)
        reply = await self.service.run_command(ctx, text)
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

    @moa.command(name="show", description="This channel's MoA setup")
    async def show(self, interaction: discord.Interaction[Any]) -> None:
        await self._command(interaction, "show")

    @moa.command(name="help", description="What /moa can do")
    @app_commands.describe(topic="A command to explain, e.g. agents")
    async def help(self, interaction: discord.Interaction[Any], topic: str = "") -> None:
        await self._command(interaction, f"help {topic}".strip())

    @moa.command(name="layers", description="Set how many proposer layers run before the aggregator (admins)")
    @app_commands.describe(count="Number of proposer layers")
    async def layers(self, interaction: discord.Interaction[Any], count: int) -> None:
        await self._command(interaction, f"layers {count}")

    @moa.command(name="early-exit", description="Skip the remaining layers once a layer's agents agree (admins)")
    async def early_exit(self, interaction: discord.Interaction[Any], switch: Literal["on", "off"]) -> None:
        await self._command(interaction, f"early-exit {switch}")

    @moa.command(name="early-answer", description="Start the final answer before the last layer ends (admins)")
    async def early_answer(self, interaction: discord.Interaction[Any], switch: Literal["on", "off"]) -> None:
        await self._command(interaction, f"early-answer {switch}")

    @moa.command(name="model", description="Set the aggregator model, which writes the final answer (admins)")
    @app_commands.describe(model="A live model id")
    async def model(self, interaction: discord.Interaction[Any], model: str) -> None:
        await self._command(interaction, f"model {model}")

    @model.autocomplete("model")
    async def _model_choices(self, interaction: discord.Interaction[Any],
                             current: str) -> list[app_commands.Choice[str]]:
        return await self._models(current)

    @agents.command(name="list", description="The proposer agents and their settings")
    async def agents_list(self, interaction: discord.Interaction[Any]) -> None:
        await self._command(interaction, "agents")

    @agents.command(name="add", description="Add a proposer agent (admins)")
    @app_commands.describe(name="A short name", model="A live model id", temperature="0–2 (default 0.7)")
    async def agents_add(self, interaction: discord.Interaction[Any], name: str, model: str,
                         temperature: float | None = None) -> None:
        text = f"agents add {name} {model}" + (f" {temperature:g}" if temperature is not None else "")
        await self._command(interaction, text)

    @agents_add.autocomplete("model")
    async def _agent_model_choices(self, interaction: discord.Interaction[Any],
                                   current: str) -> list[app_commands.Choice[str]]:
        return await self._models(current)

    @agents.command(name="remove", description="Remove a proposer agent (admins)")
    async def agents_remove(self, interaction: discord.Interaction[Any], name: str) -> None:
        await self._command(interaction, f"agents remove {name}")

    @agents.command(name="set", description="Change an agent's model, temperature, prompt or max_tokens (admins)")
    @app_commands.describe(name="The agent", setting="What to change", value="The new value")
    async def agents_set(self, interaction: discord.Interaction[Any], name: str,
                         setting: Literal["model", "temperature", "prompt", "max_tokens"], value: str) -> None:
        await self._command(interaction, f"agents set {name} {setting} {value}")

    @agents_set.autocomplete("value")
    async def _agent_value_choices(self, interaction: discord.Interaction[Any],
                                   current: str) -> list[app_commands.Choice[str]]:
        if getattr(interaction.namespace, "setting", None) != "model":
            return []
        return await self._models(current)

    @moa.command(name="preset", description="Switch to a built-in setup (admins)")
    @app_commands.choices(name=[app_commands.Choice(name=f"{k} — {d}"[:100], value=k)
                                for k, d in PRESET_DESCRIPTIONS.items()])
    async def preset(self, interaction: discord.Interaction[Any], name: str) -> None:
        await self._command(interaction, f"preset {name}")

    @moa.command(name="presets", description="The built-in setups")
    async def presets(self, interaction: discord.Interaction[Any]) -> None:
        await self._command(interaction, "presets")

    @moa.command(name="import", description="Replace the setup with a JSON config (admins)")
    @app_commands.describe(config="JSON: the seed article's format, the Groq demo's, or /moa export")
    async def import_(self, interaction: discord.Interaction[Any], config: str) -> None:
        await self._command(interaction, f"import {config}")

    @moa.command(name="export", description="This channel's setup as JSON")
    async def export(self, interaction: discord.Interaction[Any]) -> None:
        await self._command(interaction, "export")

    @moa.command(name="reset", description="Back to the default setup (admins)")
    async def reset(self, interaction: discord.Interaction[Any]) -> None:
        await self._command(interaction, "reset")

    @moa.command(name="forget", description="Delete this channel's stored conversation history (admins)")
    async def forget(self, interaction: discord.Interaction[Any]) -> None:
        await self._command(interaction, "forget")

    @moa.command(name="usage", description="What this channel spent today, in 7 and 30 days, and 👍/👎 per config")
    async def usage(self, interaction: discord.Interaction[Any]) -> None:
        await self._command(interaction, "usage")

    @moa.command(name="budget", description="Daily budgets: see them, or set answers per member / tokens (admins)")
    @app_commands.describe(setting="What to change (leave empty to see the budgets and today's use)",
                           amount="Answers per member per day, or tokens per channel per day; 0 = none")
    async def budget(self, interaction: discord.Interaction[Any],
                     setting: Literal["answers", "tokens", "off"] | None = None,
                     amount: app_commands.Range[int, 0, 1_000_000_000] | None = None) -> None:
        if setting is None or setting == "off":
            await self._command(interaction, f"budget {setting or ''}".strip())
        else:
            await self._command(interaction, f"budget {setting} {'' if amount is None else amount}".strip())

    @experiment.command(name="start", description="Alternate the next answers between two setups (admins)")
    @app_commands.describe(a="Arm A: a preset, or current (this channel's setup now)", b="Arm B")
    @app_commands.choices(a=_ARMS, b=_ARMS)
    async def experiment_start(self, interaction: discord.Interaction[Any], a: str, b: str) -> None:
        await self._command(interaction, f"experiment {a} {b}")

    @experiment.command(name="show", description="Each arm's answers, 👍/👎, time and cost, and if it is clear yet")
    async def experiment_show(self, interaction: discord.Interaction[Any]) -> None:
        await self._command(interaction, "experiment")

    @experiment.command(name="stop", description="End the experiment, adopting A or B if named (admins)")
    @app_commands.describe(adopt="The arm to keep as this channel's setup (leave empty to keep the setup as it is)")
    async def experiment_stop(self, interaction: discord.Interaction[Any],
                              adopt: Literal["A", "B"] | None = None) -> None:
        await self._command(interaction, f"experiment stop {adopt or ''}".strip())

    async def cog_app_command_error(self, interaction: discord.Interaction[Any],
                                    error: app_commands.AppCommandError) -> None:
        log.error("/moa failed", exc_info=error)
        text = "Something went wrong on my side; the details are in the bot's log."
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
