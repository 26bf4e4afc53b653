"""Slack's assistant pane (Agents & AI Apps), through bolt's `AsyncAssistant` middleware.

- `assistant_thread_started` → a greeting that says where settings live (`/moa` does not work in
  assistant threads) and suggested prompts (`MOA_ASSISTANT_PROMPTS`, else our own examples);
- a message in the pane → answered in its thread by the same service as a mention; the thread is titled
  after its first question, and `assistant.threads.setStatus` shows progress, set again every
  `MOA_ASSISTANT_STATUS_REFRESH` seconds (Slack clears it after two minutes) until the answer is done;
- the thread's context (which channel the person was viewing) lives in our database
  (`db.assistant_threads`), not one process's memory, so any replica can answer the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from slack_bolt.async_app import (
    AsyncApp,
    AsyncAssistant,
    AsyncBoltContext,
    AsyncSaveThreadContext,
    AsyncSay,
    AsyncSetStatus,
    AsyncSetSuggestedPrompts,
    AsyncSetTitle,
)
from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.async_store import AsyncAssistantThreadContextStore
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.files import slack_attachments
from adapters.slack.text import question_text
from bot.conversation.service import ConversationService, Mention
from bot.settings import Settings
from storage.db import Database
from storage.models import ChannelKey

log = logging.getLogger(__name__)

GREETING = ("Hi! Ask me anything: several models answer and one writes the final answer. "
            "`/moa` doesn't work in this pane — the setup here is the workspace default; see or change it "
            "with `/moa show` in any channel.")
EXAMPLE_PROMPTS = (
    ("Compare two options", "What are the trade-offs between PostgreSQL and SQLite for a small team?"),
    ("Check a claim", "Is 9.11 larger than 9.9? Explain step by step."),
    ("Explain simply", "Explain how a Mixture-of-Agents answer is made, in three sentences."),
)
THINKING = "is thinking…"
TITLE_LIMIT = 60


class DatabaseThreadContextStore(AsyncAssistantThreadContextStore):
    """bolt's thread context store, kept in our database (any replica finds it). An app serves one
    workspace; `team` names it in the rows ("" when not known)."""

    def __init__(self, db: Database, team: str = "") -> None:
        self._db = db
        self._team = team

    async def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        await self._db.assistant_threads.save(self._team, channel_id, thread_ts, context)

    async def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        found = await self._db.assistant_threads.find(self._team, channel_id, thread_ts)
        return AssistantThreadContext(found) if found else None


def suggested_prompts(env: Mapping[str, str]) -> list[dict[str, str]]:
    """MOA_ASSISTANT_PROMPTS ("title: message; title: message", at most four), else our examples."""
    raw = env.get("MOA_ASSISTANT_PROMPTS", "").strip()
    pairs = [p.partition(":") for p in raw.split(";") if p.strip()] if raw else []
    prompts = [(t.strip(), m.strip() or t.strip()) for t, _, m in pairs] or list(EXAMPLE_PROMPTS)
    return [{"title": title[:75], "message": message} for title, message in prompts[:4]]


def register_assistant(app: AsyncApp, service: ConversationService, settings: Settings, surfaces: Any) -> None:
    """Add the assistant middleware to `app`; `surfaces` builds the reply surface as for mentions."""
    assistant = AsyncAssistant(thread_context_store=DatabaseThreadContextStore(service.db))
    refresh_s = settings.assistant_status_refresh_s
    assistant.thread_started(partial(on_thread_started, prompts=suggested_prompts(settings.env)))
    assistant.user_message(partial(on_user_message, service=service, surfaces=surfaces, refresh_s=refresh_s))
    app.use(assistant)


async def on_thread_started(say: AsyncSay, set_suggested_prompts: AsyncSetSuggestedPrompts,
                            save_thread_context: AsyncSaveThreadContext, payload: dict[str, Any], *,
                            prompts: list[dict[str, str]]) -> None:
    """The pane opened: remember what the person views, greet, say where settings live, suggest prompts."""
    viewing = (payload.get("assistant_thread") or {}).get("context") or {}
    if viewing:
        await save_thread_context(dict(viewing))
    await say(GREETING)
    await set_suggested_prompts(prompts=prompts)


async def on_user_message(payload: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext,
                          client: AsyncWebClient, set_status: AsyncSetStatus, set_title: AsyncSetTitle, *,
                          service: ConversationService, surfaces: Any, refresh_s: float) -> None:
    """A question in the pane: answered in its thread, titled, with a status kept alive while it runs."""
    team = body.get("team_id") or context.team_id or ""
    channel, ts, thread = payload.get("channel"), payload.get("ts"), payload.get("thread_ts")
    if not channel or not ts or not thread or not payload.get("user"):
        return
    if not await service.claim_event(f"slack:msg:{team}:{channel}:{ts}"):
        return
    text = question_text(str(payload.get("text") or ""), context.bot_user_id)  # as a channel mention's
    key = ChannelKey("slack", team, channel)
    if not await service.continues_thread(key, thread):  # the thread's first question names it
        with contextlib.suppress(Exception):
            await set_title(" ".join(text.split())[:TITLE_LIMIT] or "Question")
    keeper = asyncio.create_task(_keep_status(set_status, refresh_s))
    try:
        mention = Mention(channel=key, thread=thread, message_id=ts, author=payload["user"], text=text,
                          attachments=slack_attachments(payload.get("files"), client.token or "",
                                                        client.base_url))
        await service.handle_mention(mention, surfaces(client, team, channel, thread, payload["user"]))
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        with contextlib.suppress(Exception):
            await set_status("")  # the answer is there: no status left behind


async def _keep_status(set_status: AsyncSetStatus, refresh_s: float) -> None:
    """Set the status now and again before Slack's two-minute expiry, until cancelled."""
    while True:
        try:
            await set_status(THINKING)
        except Exception as err:  # a status is a nicety (e.g. a DM thread outside the pane); the answer goes on
            log.info("assistant.threads.setStatus failed: %s", err)
        await asyncio.sleep(refresh_s)
