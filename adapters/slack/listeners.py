"""Bolt listeners: each acks (bolt acks events itself), translates, and hands over to the service.

- `on_mention` (`app_mention`) and `on_message` (thread follow-ups, DMs) → `service.handle_mention` with a
  SlackSurface;
- `on_show_layers` (the **Show layers** button) → that run's layers, ephemerally, to the presser;
- `on_reaction` (`:mag:` / `:mag_right:` on an answer) → its layers posted in the thread;
- `on_command` (`/moa …`) → `service.run_command`, the reply ephemeral.

Slack redelivers events (retries carry `X-Slack-Retry-Num`, and a message can come again under a new
event id), so every answer is claimed twice: by event id and by the message itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import blocks
from adapters.slack.assistant import register_assistant
from adapters.slack.authors import AuthorNames
from adapters.slack.feedback import register_feedback
from adapters.slack.files import slack_attachments
from adapters.slack.surface import FeedbackSupport, SlackSurface, StreamingSupport, slack_error
from adapters.slack.text import mentions_bot, question_text, unescape
from adapters.slack.thread import earlier_reader
from bot.commands.context import CommandContext
from bot.conversation.service import ConversationService, Mention
from bot.settings import Settings
from bot.text.render import SLACK, render_layers_pages
from storage.errors import StorageError
from storage.models import ChannelKey, RunRecord

log = logging.getLogger(__name__)

REVEAL_REACTIONS = frozenset({"mag", "mag_right"})
# Plain messages and these subtypes are people talking; edits, deletions, joins and bots are not.
_HUMAN_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
RESPONSES_PER_COMMAND = 5  # Slack accepts five posts to one command's response URL
NOT_FOUND = "I can't find the layers of that answer here (it may have been forgotten with `/moa forget`)."


def register_listeners(app: AsyncApp, service: ConversationService, settings: Settings) -> None:
    """Wire every Slack event, action and command the bot answers to `service`."""
    surfaces = SurfaceFactory()
    app.event("app_mention")(partial(on_mention, service=service, surfaces=surfaces))
    app.event("message")(partial(on_message, service=service, surfaces=surfaces))
    app.event("reaction_added")(partial(on_reaction, service=service))
    app.action(blocks.SHOW_LAYERS_ACTION)(partial(on_show_layers, service=service))
    app.command("/moa")(partial(on_command, service=service, settings=settings))
    register_feedback(app, service)
    register_assistant(app, service, settings, surfaces)


# Listeners take bolt's arguments by name and the bot's own as keyword-only ones, bound with `partial` in
# `register_listeners` (bolt injects only positional-or-keyword parameters). Bolt acks events itself;
# actions and commands ack first.


@dataclass(frozen=True)
class SurfaceFactory:
    """Builds the SlackSurface of one answer; what the workspace supports (and who its members are) is
    learnt once for all answers."""

    streaming: StreamingSupport = field(default_factory=StreamingSupport)
    feedback: FeedbackSupport = field(default_factory=FeedbackSupport)
    names: AuthorNames = field(default_factory=AuthorNames)  # thread authors' names, cached for all threads

    def __call__(self, client: AsyncWebClient, team: str, channel: str, thread: str, user: str) -> SlackSurface:
        return SlackSurface(client, channel=channel, thread_ts=thread, team_id=team, user_id=user,
                            streaming=self.streaming, feedback=self.feedback)


async def on_mention(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext,
                     client: AsyncWebClient, *, service: ConversationService, surfaces: SurfaceFactory) -> None:
    """An @mention: answer it in its thread."""
    await _answer(event, body, context, client, service=service, surfaces=surfaces)


async def on_message(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext,
                     client: AsyncWebClient, *, service: ConversationService, surfaces: SurfaceFactory) -> None:
    """A DM, or a follow-up in a thread the bot answered: answer it; any other message is not for us."""
    if event.get("subtype") not in _HUMAN_SUBTYPES or event.get("bot_id") or not event.get("user"):
        return
    if event.get("channel_type") == "im":  # a DM is always a question for us
        await _answer(event, body, context, client, service=service, surfaces=surfaces)
        return
    thread = event.get("thread_ts")
    if not thread or mentions_bot(str(event.get("text") or ""), context.bot_user_id):
        return  # not a follow-up, or `app_mention` brings it
    if event.get("channel") and await service.continues_thread(
            ChannelKey("slack", _team(body, context), event["channel"]), thread):
        await _answer(event, body, context, client, service=service, surfaces=surfaces)


async def on_reaction(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext,
                      client: AsyncWebClient, *, service: ConversationService) -> None:
    """A `:mag:` on an answer: post its layers in the thread."""
    item = event.get("item") or {}
    if event.get("reaction") not in REVEAL_REACTIONS or item.get("type") != "message" \
            or not item.get("channel") or not item.get("ts"):
        return
    team = _team(body, context)
    key = f"slack:reaction:{team}:{item['channel']}:{item['ts']}:{event.get('user')}:{event.get('event_ts')}"
    if not await _claim(service, body, key):
        return
    try:
        run = await service.reveal_layers(ChannelKey("slack", team, item["channel"]), message_id=item["ts"])
    except StorageError as err:  # storage is down: say so to the reacting member, as the button does
        await client.chat_postEphemeral(channel=item["channel"], user=event.get("user", ""), text=str(err))
        return
    if run is None:
        return  # not one of our answers
    for message in _layer_messages(run):
        await client.chat_postMessage(channel=item["channel"], thread_ts=run.thread, unfurl_links=False,
                                      **message)


async def on_show_layers(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext,
                         client: AsyncWebClient, respond: AsyncRespond, *, service: ConversationService) -> None:
    """The Show layers button: that run's layers, ephemerally, to the presser."""
    await ack()
    channel = (body.get("channel") or {}).get("id", "")
    user = (body.get("user") or {}).get("id", "")
    try:
        run_id = int(body["actions"][0]["value"])
    except (KeyError, IndexError, ValueError):
        return
    try:
        run = await service.reveal_layers(ChannelKey("slack", _team(body, context), channel), run_id=run_id)
    except StorageError as err:  # storage is down: say so rather than nothing
        await respond(text=str(err), response_type="ephemeral", replace_original=False)
        return
    if run is None:
        await respond(text=NOT_FOUND, response_type="ephemeral", replace_original=False)
        return
    thread = (body.get("message") or {}).get("thread_ts") or run.thread
    for message in _layer_messages(run):
        try:
            await client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread, **message)
        except SlackApiError:  # e.g. the bot left the channel: the response URL still works
            await respond(response_type="ephemeral", replace_original=False, **message)


async def on_command(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext,
                     client: AsyncWebClient, respond: AsyncRespond, *, service: ConversationService,
                     settings: Settings) -> None:
    """`/moa …`: run it, the reply ephemeral."""
    await ack()
    user = command.get("user_id", "")
    channel = ChannelKey("slack", command.get("team_id") or context.team_id or "", command.get("channel_id", ""))
    is_admin = partial(_is_admin, client, settings, user)
    try:
        reply = await service.run_command(CommandContext(channel=channel, user=user, is_admin=is_admin),
                                          unescape(command.get("text", "")))
        text = reply.text
    except Exception:  # the person who typed it must hear something
        log.exception("/moa %r failed", command.get("text", ""))
        text = "Something went wrong running that command; the details are in the bot's log."
    await _reply_to_command(client, respond, command.get("channel_id", ""), user, blocks.pack_markdown(text))


async def _answer(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient,
                  *, service: ConversationService, surfaces: SurfaceFactory) -> None:
    team = _team(body, context)
    channel, ts = event.get("channel"), event.get("ts")
    if not channel or not ts:  # a malformed (or future-shaped) event: nowhere to answer
        log.warning("ignoring a Slack message event without a channel or ts")
        return
    if not await _claim(service, body, f"slack:msg:{team}:{channel}:{ts}"):
        return
    thread = event.get("thread_ts") or ts
    files = slack_attachments(event.get("files"), client.token or "", client.base_url)
    bot_user = context.bot_user_id
    mention = Mention(channel=ChannelKey("slack", team, channel), thread=thread, message_id=ts,
                      author=event.get("user", ""), text=question_text(str(event.get("text") or ""), bot_user),
                      attachments=files,
                      earlier=earlier_reader(client, channel, thread, ts, bot_user,
                                             partial(question_text, bot_user=bot_user),
                                             surfaces.names) if thread != ts else None)
    await service.handle_mention(mention, surfaces(client, team, channel, thread, mention.author))


async def _is_admin(client: AsyncWebClient, settings: Settings, user: str) -> bool:
    if user in settings.slack_admin_users:
        return True
    try:
        info = (await client.users_info(user=user)).get("user") or {}
    except SlackApiError as err:
        log.warning("users.info failed for a /moa command: %s", slack_error(err))
        return False
    return bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))


async def _reply_to_command(client: AsyncWebClient, respond: AsyncRespond, channel: str, user: str,
                            messages: list[dict[str, Any]]) -> None:
    """Ephemeral replies; Slack takes at most RESPONSES_PER_COMMAND through the response URL, so a longer
    reply (a large `export`) goes out as ephemeral messages instead — or says how much was left out."""
    if len(messages) <= RESPONSES_PER_COMMAND:
        for message in messages:
            await respond(response_type="ephemeral", **message)
        return
    try:
        for message in messages:
            await client.chat_postEphemeral(channel=channel, user=user, **message)
        return
    except SlackApiError as err:  # e.g. the bot is not in this channel
        log.warning("could not post a long command reply ephemerally: %s", slack_error(err))
    shown = messages[:RESPONSES_PER_COMMAND - 1]
    for message in shown:
        await respond(response_type="ephemeral", **message)
    await respond(response_type="ephemeral", text=(
        f"This reply needs {len(messages)} messages, more than the {RESPONSES_PER_COMMAND} Slack allows per "
        f"command, so only the first {len(shown)} are shown. Invite me to this channel (`/invite @moa`) and "
        "run the command again to get all of it."))


def _team(body: dict[str, Any], context: AsyncBoltContext) -> str:
    team = body.get("team_id") or (body.get("team") or {}).get("id") or context.team_id
    return str(team or "")


async def _claim(service: ConversationService, body: dict[str, Any], message_key: str) -> bool:
    """True only for the first delivery: by event id (retries) and by `message_key` (redeliveries)."""
    event_id = body.get("event_id")
    if event_id and not await service.claim_event(f"slack:event:{event_id}"):
        return False
    return await service.claim_event(message_key)


def _layer_messages(run: RunRecord) -> list[dict[str, Any]]:
    pages = render_layers_pages(run, blocks.SECTION_LIMIT, SLACK)
    return blocks.pack_sections(pages, title=f"Intermediate answers of run {run.id}")
