"""SlackSurface: one answer's life in a Slack thread — status, layer progress, streamed answer, parts.

Where the workspace supports it, the status is a native stream (`chat.startStream`): layer progress
travels as `task_update` chunks and the final answer streams in as markdown. Otherwise (or when a
stream call fails) the status is an ordinary message edited with `chat.update`. Either way the final
answer is split into parts that fit Slack's limits, the first replacing the status, the rest posted in
order, the Show layers button on the last. Nothing here raises: a failed edit becomes a new message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack import blocks
from bot.surface import AgentProgress, FinalAnswer, Progress
from bot.text.chunking import MIN_LIMIT, split_text
from bot.text.render import SLACK, budget_wait_line, render_progress
from storage.models import UnfinishedRun

log = logging.getLogger(__name__)

MAX_RETRY_WAIT_S = 30.0  # longest Retry-After we wait out for the answer itself
ANSWER_RETRIES = 3
_TASK_STATUS = {"waiting": "pending", "running": "in_progress", "done": "complete", "failed": "error"}
_RESPLIT = {"msg_too_long", "invalid_blocks", "markdown_text_too_long"}


@dataclass
class StreamingSupport:
    """Whether this workspace takes `chat.startStream`; learnt from the first refusal, shared per app."""

    enabled: bool = True


@dataclass
class FeedbackSupport:
    """Whether this workspace takes the `feedback_buttons` element; plain 👍/👎 buttons after a refusal."""

    native: bool = True

    @property
    def style(self) -> str:
        return "native" if self.native else "plain"


def slack_error(err: SlackApiError) -> str:
    """Slack's error code (`ratelimited`, `msg_too_long`…), or the HTTP failure when there is none."""
    data = getattr(err.response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error", ""))
    return f"HTTP {getattr(err.response, 'status_code', '?')}"


def _retry_after(err: SlackApiError) -> float:
    headers = getattr(err.response, "headers", None) or {}
    try:
        return float(headers.get("Retry-After", headers.get("retry-after", 1)))
    except (TypeError, ValueError):
        return 1.0


class SlackSurface:
    """ReplySurface for one answer in one Slack thread."""

    min_update_interval = 1.0  # chat.update is Tier 3: about one edit per second per channel

    def __init__(self, client: AsyncWebClient, *, channel: str, thread_ts: str, team_id: str, user_id: str,
                 streaming: StreamingSupport | None = None,
                 part_limit: int = blocks.ANSWER_PART_LIMIT, feedback: FeedbackSupport | None = None) -> None:
        self._client = client
        self._channel = channel
        self._thread = thread_ts
        self._team = team_id
        self._user = user_id
        self._support = streaming if streaming is not None else StreamingSupport()
        self._feedback = feedback if feedback is not None else FeedbackSupport()
        self._part_limit = part_limit
        self._ts: str | None = None  # the status message, later the answer's first part
        self._stream_open = False  # chat.startStream succeeded and the stream is not stopped yet
        self._streaming = False  # …and it still works: progress and answer go through it
        self._streamed = ""  # answer text already appended to the stream (pings defused)
        self._tasks: dict[str, tuple[str, str]] = {}  # task id → (title, status) last sent
        self._plan_title = ""
        self._quiet_until = 0.0  # after a 429, progress edits wait until then

    @classmethod
    def resume(cls, client: AsyncWebClient, run: UnfinishedRun,
               streaming: StreamingSupport | None = None) -> SlackSurface:
        """The surface of a run a dead process left: its status message (from the stored handle) is
        replaced by whatever comes next — a native stream it left open is stopped first."""
        surface = cls(client, channel=run.channel.channel, thread_ts=run.thread, team_id=run.channel.workspace,
                      user_id=run.author, streaming=streaming)
        try:
            handle = json.loads(run.surface) if run.surface else {}
        except ValueError:
            handle = {}
        if isinstance(handle, dict) and handle.get("ts"):
            surface._ts = str(handle["ts"])
            surface._stream_open = bool(handle.get("stream"))  # open, but no longer ours to append to
        return surface

    def handle(self) -> str | None:
        if self._ts is None:
            return None
        return json.dumps({"channel": self._channel, "ts": self._ts, "stream": self._stream_open})

    # ---- ReplySurface ----------------------------------------------------------------------------
    async def show_progress(self, progress: Progress) -> None:
        if self._ts is None:
            await self._open(progress)
        elif self._streaming:
            await self._stream_progress(progress)
        else:
            await self._close_stale_stream()
            await self._soft(lambda: self._client.chat_update(
                channel=self._channel, ts=self._status_ts(), **blocks.status_message(self._status(progress))))

    async def stream_answer(self, partial: str) -> None:
        if self._streaming:
            # Only a prefix that surely stays in the first part is streamed; the rest comes with finish().
            safe = blocks.no_pings(partial)
            if len(partial) <= self._part_limit and safe.startswith(self._streamed):
                delta = safe[len(self._streamed):]
                if delta.strip():
                    sent = await self._soft(lambda: self._client.chat_appendStream(
                        channel=self._channel, ts=self._status_ts(), markdown_text=delta))
                    if sent:
                        self._streamed = safe
            return
        preview = (split_text(partial, self._part_limit) or [""])[0]
        if not preview:
            return
        message = blocks.answer_message(preview, [blocks.context("_writing…_")])
        await self._close_stale_stream()
        if self._ts is None:
            response = await self._soft(lambda: self._post(message))
            if response is not None:
                self._ts = str(response["ts"])
        else:
            await self._soft(lambda: self._client.chat_update(channel=self._channel, ts=self._status_ts(),
                                                              **message))

    async def finish(self, answer: FinalAnswer) -> list[str]:
        parts = split_text(answer.text, self._part_limit) or ["(the model returned an empty answer)"]
        tail = blocks.tail_blocks(answer.run_id, answer.warnings, feedback=self._feedback.style,
                                  verdict=answer.verdict)
        return await self._deliver(parts, tail)

    async def fail(self, message: str, run_id: int | None) -> None:
        text = message if message.lstrip().startswith(("❌", ":x:", "⚠️", ":warning:")) else f"⚠️ {message}"
        parts = split_text(text, self._part_limit) or [text]
        await self._deliver(parts, blocks.tail_blocks(run_id), failed=True)

    # ---- status ----------------------------------------------------------------------------------
    @staticmethod
    def _status(progress: Progress) -> str:
        return render_progress(progress, SLACK)

    def _status_ts(self) -> str:
        assert self._ts is not None
        return self._ts

    async def _open(self, progress: Progress) -> None:
        """Post the status: a native stream when the workspace has it, else a message."""
        if self._support.enabled:
            try:
                response = await self._client.chat_startStream(
                    channel=self._channel, thread_ts=self._thread, recipient_team_id=self._team,
                    recipient_user_id=self._user, task_display_mode="plan",
                    chunks=self._task_chunks(progress))
                self._ts = str(response["ts"])
                self._stream_open = self._streaming = True
                return
            except SlackApiError as err:
                if slack_error(err) != "ratelimited":
                    log.info("Slack streaming unavailable (%s); using message edits", slack_error(err))
                    self._support.enabled = False
            except (ClientError, TimeoutError) as err:
                log.warning("chat.startStream failed: %r", err)
            self._tasks, self._plan_title = {}, ""
        posted = await self._soft(lambda: self._post(blocks.status_message(self._status(progress))))
        if posted is not None:
            self._ts = str(posted["ts"])

    async def _stream_progress(self, progress: Progress) -> None:
        chunks = self._task_chunks(progress)
        if not chunks:
            return
        sent = await self._soft(lambda: self._client.chat_appendStream(
            channel=self._channel, ts=self._status_ts(), chunks=chunks))
        if not sent and not self._streaming:  # the stream broke: carry on with plain edits
            await self._soft(lambda: self._client.chat_update(
                channel=self._channel, ts=self._status_ts(), **blocks.status_message(self._status(progress))))

    async def _close_stale_stream(self) -> None:
        """A stream that broke (or a dead process left) is stopped before plain edits replace it."""
        if self._stream_open and not self._streaming:
            self._stream_open = False
            with contextlib.suppress(SlackApiError, ClientError, TimeoutError):
                await self._client.chat_stopStream(channel=self._channel, ts=self._status_ts())

    def _task_chunks(self, progress: Progress) -> list[dict[str, Any]]:
        """Native progress as plan/task chunks — only those that changed since the last call."""
        chunks: list[dict[str, Any]] = []
        title = render_progress(progress).splitlines()[0]
        if title != self._plan_title:
            chunks.append({"type": "plan_update", "title": blocks.no_pings(title)})
            self._plan_title = title
        tasks: list[tuple[str, str, str, str | None]] = []
        if progress.queued_ahead is None and not progress.reading:
            for agent in progress.agents:
                tasks.append(self._agent_task(progress, agent))
            if progress.aggregating:
                tasks.append(("aggregator", f"Final answer · {progress.aggregator_model}", "in_progress", None))
            tasks += self._budget_tasks(progress)
        for task_id, task_title, status, details in tasks:
            if self._tasks.get(task_id) != (task_title, status):
                chunk: dict[str, Any] = {"type": "task_update", "id": task_id,
                                         "title": blocks.no_pings(task_title), "status": status}
                if details:
                    chunk["details"] = blocks.no_pings(details)
                chunks.append(chunk)
                self._tasks[task_id] = (task_title, status)
        return chunks

    def _budget_tasks(self, progress: Progress) -> list[tuple[str, str, str, str | None]]:
        """A task per model whose rate limit holds a call back; complete once it no longer does."""
        tasks: list[tuple[str, str, str, str | None]] = [
            (f"budget:{note.model}", budget_wait_line(note).removeprefix("⏳ "), "in_progress", None)
            for note in progress.budget_waits]
        current = {task[0] for task in tasks}
        for task_id, (title, status) in self._tasks.items():
            if task_id.startswith("budget:") and task_id not in current and status != "complete":
                tasks.append((task_id, title, "complete", None))
        return tasks

    @staticmethod
    def _agent_task(progress: Progress, agent: AgentProgress) -> tuple[str, str, str, str | None]:
        layer = progress.total_layers if progress.aggregating else progress.layer
        title = f"Layer {layer}/{progress.total_layers} · {agent.name} ({agent.model})"
        details = agent.error if agent.state == "failed" else None
        return f"layer{layer}:{agent.name}", title, _TASK_STATUS[agent.state], details

    # ---- the answer ------------------------------------------------------------------------------
    async def _deliver(self, parts: list[str], tail: list[blocks.Block], *, failed: bool = False) -> list[str]:
        """Parts in order: the first replaces the status, the rest are new messages; `tail` on the last."""
        ids: list[str] = []
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            ids += await self._deliver_part(part, tail if last else [], replace=i == 0, failed=failed)
        return ids

    async def _deliver_part(self, part: str, tail: list[blocks.Block], *, replace: bool,
                            failed: bool = False) -> list[str]:
        if replace and self._ts is not None:
            if self._stream_open and await self._stop_stream(part, tail, "error" if failed else "complete"):
                return [self._status_ts()]
            try:
                await self._critical(lambda: self._client.chat_update(
                    channel=self._channel, ts=self._status_ts(), **blocks.answer_message(part, tail)))
                return [self._status_ts()]
            except SlackApiError as err:
                if slack_error(err) in _RESPLIT and blocks.has_native_feedback(tail):
                    return await self._without_native_feedback(part, tail, replace=True, failed=failed)
                if slack_error(err) in _RESPLIT:
                    return await self._resplit(part, tail, replace=True)
                log.warning("could not edit the status into the answer (%s); posting it anew", slack_error(err))
            except (ClientError, TimeoutError) as err:
                log.warning("chat.update failed (%r); posting the answer anew", err)
        try:
            response = await self._critical(lambda: self._post(blocks.answer_message(part, tail)))
            return [str(response["ts"])]
        except SlackApiError as err:
            if slack_error(err) in _RESPLIT and blocks.has_native_feedback(tail):
                return await self._without_native_feedback(part, tail, replace=False, failed=failed)
            if slack_error(err) in _RESPLIT:
                return await self._resplit(part, tail, replace=False)
            log.error("could not post an answer part to %s: %s", self._channel, slack_error(err))
        except (ClientError, TimeoutError) as err:
            log.error("could not post an answer part to %s: %r", self._channel, err)
        return []

    async def _without_native_feedback(self, part: str, tail: list[blocks.Block], *, replace: bool,
                                       failed: bool) -> list[str]:
        """Slack refused the message with `feedback_buttons` in it: send it with plain 👍/👎 buttons. When
        that goes through in one piece, the workspace lacks the element: later answers use plain buttons."""
        ids = await self._deliver_part(part, blocks.with_plain_feedback(tail), replace=replace, failed=failed)
        if len(ids) == 1 and self._feedback.native:
            log.info("Slack refused feedback_buttons; using plain 👍/👎 buttons")
            self._feedback.native = False
        return ids

    async def _resplit(self, part: str, tail: list[blocks.Block], *, replace: bool) -> list[str]:
        """Slack refused the part as too long: send it again in smaller pieces."""
        smaller = max(MIN_LIMIT, len(part) // 2)
        pieces = split_text(part, smaller)
        if len(pieces) < 2:
            log.error("Slack refused an answer part of %d characters that cannot be split", len(part))
            return []
        ids: list[str] = []
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            ids += await self._deliver_part(piece, tail if last else [], replace=replace and i == 0)
        return ids

    async def _stop_stream(self, part: str, tail: list[blocks.Block], open_tasks: str) -> bool:
        """End the native stream with `part` shown; False when the message needs an edit instead."""
        usable = self._streaming
        self._streaming = self._stream_open = False
        done = [{"type": "task_update", "id": task_id, "title": blocks.no_pings(title), "status": open_tasks}
                for task_id, (title, status) in self._tasks.items() if status in ("pending", "in_progress")]
        safe = blocks.no_pings(part)
        if usable and safe.startswith(self._streamed):
            rest = safe[len(self._streamed):]
            chunks = done + ([{"type": "markdown_text", "text": rest}] if rest else [])
            try:
                await self._critical(lambda: self._client.chat_stopStream(
                    channel=self._channel, ts=self._status_ts(), chunks=chunks or None, blocks=tail or None))
                return True
            except (SlackApiError, ClientError, TimeoutError) as err:
                log.warning("chat.stopStream failed (%r); editing the message instead", err)
        # The stream broke, what it shows is not a prefix of this part, or stopping failed: close it
        # (best effort, so Slack does not leave it "writing"), then the caller edits it.
        with contextlib.suppress(SlackApiError, ClientError, TimeoutError):
            await self._client.chat_stopStream(channel=self._channel, ts=self._status_ts(), chunks=done or None)
        return False

    # ---- calls -----------------------------------------------------------------------------------
    async def _post(self, message: dict[str, Any]) -> AsyncSlackResponse:
        return await self._client.chat_postMessage(channel=self._channel, thread_ts=self._thread,
                                                   unfurl_links=False, unfurl_media=False, **message)

    async def _soft(self, call: Callable[[], Awaitable[AsyncSlackResponse]]) -> AsyncSlackResponse | None:
        """A progress call: skipped while rate-limited, never raises; None when it did not happen."""
        if time.monotonic() < self._quiet_until:
            return None
        try:
            return await call()
        except SlackApiError as err:
            error = slack_error(err)
            if error == "ratelimited":
                self._quiet_until = time.monotonic() + _retry_after(err)
            else:
                log.warning("Slack progress update failed: %s", error)
                if self._streaming:  # e.g. the stream expired: later updates use chat.update
                    self._streaming = False
        except (ClientError, TimeoutError) as err:
            log.warning("Slack progress update failed: %r", err)
        return None

    async def _critical(self, call: Callable[[], Awaitable[AsyncSlackResponse]]) -> AsyncSlackResponse:
        """An answer call: waits out rate limits and retries network errors a few times."""
        for attempt in range(ANSWER_RETRIES + 1):
            try:
                wait = max(0.0, self._quiet_until - time.monotonic())
                if wait:
                    await asyncio.sleep(min(wait, MAX_RETRY_WAIT_S))
                return await call()
            except SlackApiError as err:
                if slack_error(err) != "ratelimited" or attempt == ANSWER_RETRIES:
                    raise
                self._quiet_until = time.monotonic() + min(_retry_after(err), MAX_RETRY_WAIT_S)
            except (ClientError, TimeoutError):
                if attempt == ANSWER_RETRIES:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")
