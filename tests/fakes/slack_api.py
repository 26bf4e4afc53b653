"""A fake Slack Web API on 127.0.0.1 for driving the real slack-sdk / slack-bolt in tests.

It answers the methods the bot uses (`POST /api/<method>`), keeps the messages it was asked to write
(posts, edits, streams, ephemerals) and records every call. It is stricter than Slack where Slack's
limits matter to us: `text` over `max_text_chars` is `msg_too_long`, a section over 3,000 characters,
markdown blocks over 12,000 in total or more than 50 blocks are `invalid_blocks`.

Usage::

    async with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        slack.streaming = False                  # the workspace lacks chat.startStream
        slack.fail("chat.update", "ratelimited", retry_after=0.2)
        ...
        await slack.wait_for(lambda s: s.thread_answer("C1", "1.0") != "", timeout=2)

`response_url`s for slash commands and buttons are `slack.response_url(name)`; what bolt's `respond()`
sends there lands in `slack.responses`.

Files: `slack.add_file(name, mimetype, data)` returns the file object an event carries; its `url_private`
serves the bytes only with the bot token in `Authorization` — without it, as Slack does, a 200 HTML login
page. Every download attempt is kept in `slack.downloads` (path, Authorization header). People's messages
in threads (`slack.said(...)`) are what `conversations.replies` returns, with the bot's own — paged as
Slack pages them: oldest first, at most `limit` (default 200) a page, `has_more` and
`response_metadata.next_cursor`. `method_latency` slows one method (`users.info` can take a third of a
second); `most_at_once` records how many calls of a method were in flight together. `add_file(...,
arrival=...)` makes a download stall after its headers ("stall"), come a byte a second ("drip"), come
without Content-Length ("chunked") or redirect to `redirects[file id]` ("redirect"); `stalled` counts the
downloads the fake holds open.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web

from tests.fakes.local import Changes, serve

T = TypeVar("T")

SECTION_LIMIT = 3000
MARKDOWN_TOTAL_LIMIT = 12000
BLOCKS_LIMIT = 50


@dataclass
class SlackCall:
    """One Web API request the fake received."""

    method: str
    args: dict[str, Any]
    token: str
    at: float  # time.monotonic()
    ok: bool = True
    error: str | None = None


@dataclass
class FakeMessage:
    """A message as a channel member would see it."""

    channel: str
    ts: str
    thread_ts: str | None
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    streamed: list[dict[str, Any]] = field(default_factory=list)  # stream chunks, in order
    streaming: bool = False  # between chat.startStream and chat.stopStream
    edits: int = 0
    posted_at: float = 0.0  # time.monotonic()

    @property
    def markdown(self) -> str:
        """The text shown: streamed markdown, else block text, else the plain `text`."""
        streamed = "".join(c.get("text", "") for c in self.streamed if c.get("type") == "markdown_text")
        if streamed:
            return streamed
        block_text = "".join(_block_text(b) for b in self.blocks)
        return block_text or self.text

    @property
    def visible(self) -> str:
        """Everything a reader sees: the streamed text and every block's text (notes included)."""
        streamed = "".join(c.get("text", "") for c in self.streamed if c.get("type") == "markdown_text")
        return "\n".join(part for part in (streamed, *(_block_text(b) for b in self.blocks)) if part) or self.text

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        """Latest task_update chunk per task id (native progress)."""
        latest: dict[str, dict[str, Any]] = {}
        for c in self.streamed:
            if c.get("type") == "task_update":
                latest[str(c.get("id"))] = c
        return latest

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [el for b in self.blocks if b.get("type") == "actions" for el in b.get("elements", [])]

    @property
    def feedback(self) -> dict[str, Any] | None:
        """The `feedback_buttons` element of a `context_actions` block, if the message has one."""
        for b in self.blocks:
            if b.get("type") == "context_actions":
                for el in b.get("elements", []):
                    if el.get("type") == "feedback_buttons":
                        return dict(el)
        return None


@dataclass
class _Failure:
    error: str
    retry_after: float | None


def _block_text(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "markdown":
        return str(block.get("text", ""))
    if kind in ("section", "header"):
        text = block.get("text") or {}
        return str(text.get("text", "")) if isinstance(text, dict) else str(text)
    if kind == "context":
        return "".join(str(e.get("text", "")) for e in block.get("elements", []) if isinstance(e, dict))
    return ""


def _blocks_error(blocks: list[dict[str, Any]]) -> str | None:
    if len(blocks) > BLOCKS_LIMIT:
        return "invalid_blocks"
    markdown_total = 0
    for b in blocks:
        if b.get("type") == "section" and len(_block_text(b)) > SECTION_LIMIT:
            return "invalid_blocks"
        if b.get("type") == "markdown":
            markdown_total += len(_block_text(b))
    return "invalid_blocks" if markdown_total > MARKDOWN_TOTAL_LIMIT else None


@dataclass
class FakeSlack:
    team_id: str = "T0TEAM"
    bot_user_id: str = "UBOT"
    bot_id: str = "BBOT"
    token: str = "xoxb-test-token"
    app_token: str = "xapp-test-token"  # Socket Mode: apps.connections.open
    streaming: bool = True  # whether chat.startStream & co. work in this workspace
    streaming_error: str = "unknown_method"
    feedback_buttons: bool = True  # False: blocks with `context_actions` are refused as `invalid_blocks`
    max_text_chars: int = 4000
    admins: set[str] = field(default_factory=set)  # users.info says is_admin
    owners: set[str] = field(default_factory=set)  # users.info says is_owner
    latency: float = 0.0  # added to every Web API answer
    method_latency: dict[str, float] = field(default_factory=dict)  # added to one method's answers

    def __post_init__(self) -> None:
        self.calls: list[SlackCall] = []
        self.messages: dict[str, FakeMessage] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []  # bodies POSTed to response_urls
        self.socket_acks: list[dict[str, Any]] = []  # Socket Mode: what the app answered to envelopes
        self._sockets: list[web.WebSocketResponse] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._counter = 0
        self._runner: web.AppRunner | None = None
        self._changes = Changes("fake Slack", lambda: repr([(c.method, c.error) for c in self.calls]))
        self.url = ""
        self.files: dict[str, tuple[str, bytes]] = {}  # file id -> (mimetype, bytes)
        self.downloads: list[tuple[str, str]] = []  # (path, Authorization header) of every file request
        self.people: list[dict[str, Any]] = []  # people's messages, as conversations.replies returns them
        self.files_scope = True  # False: the app lacks files:read, so downloads get the sign-in page
        self.arrivals: dict[str, str] = {}  # file id -> "stall" | "drip" | "chunked" | "redirect"
        self.redirects: dict[str, str] = {}  # file id -> where a "redirect" arrival sends the client
        self.stalled = 0  # downloads held open after their headers right now
        self._released = asyncio.Event()  # set at stop: held downloads end
        self._at_once: dict[str, int] = {}
        self.most_at_once: dict[str, int] = {}  # method -> most calls in flight together

    # ---- control & inspection -------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """The Web API base for `AsyncWebClient(base_url=...)` / SLACK_API_URL."""
        return f"{self.url}/api/"

    def response_url(self, name: str = "r") -> str:
        return f"{self.url}/respond/{name}"

    def fail(self, method: str, error: str, times: int = 1, retry_after: float | None = None) -> None:
        """Make the next `times` calls of `method` answer `error` ("ratelimited" is an HTTP 429)."""
        self._failures.setdefault(method, []).extend(_Failure(error, retry_after) for _ in range(times))

    def calls_to(self, method: str) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method]

    def thread(self, channel: str, thread_ts: str) -> list[FakeMessage]:
        """The bot's messages in a thread (including a status posted as the thread root's reply), in order."""
        found = [m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts]
        return sorted(found, key=lambda m: float(m.ts))

    def thread_answer(self, channel: str, thread_ts: str) -> str:
        """The text of the bot's messages in a thread, joined in order."""
        return "".join(m.markdown for m in self.thread(channel, thread_ts))

    def bot_messages(self, channel: str | None = None) -> list[FakeMessage]:
        found = [m for m in self.messages.values() if channel is None or m.channel == channel]
        return sorted(found, key=lambda m: float(m.ts))

    async def wait_for(self, predicate: Callable[[FakeSlack], T], timeout: float = 3.0) -> T:
        """Wait until `predicate(self)` holds (checked after every call the fake answers)."""
        return await self._changes.wait_for(lambda: predicate(self), timeout)

    def add_file(self, name: str, mimetype: str, data: bytes, *, size: int | None = None,
                 host: str | None = None, arrival: str | None = None) -> dict[str, Any]:
        """A file as an event's `files` lists it; `host` (e.g. "localhost:PORT") puts its URL elsewhere;
        `arrival` "stall", "drip" or "chunked" serves it as a slow or odd server would."""
        self._counter += 1
        file_id = f"F{self._counter:08d}"
        self.files[file_id] = (mimetype, data)
        if arrival is not None:
            self.arrivals[file_id] = arrival
        base = f"http://{host}" if host else self.url
        url = f"{base}/files-pri/{self.team_id}-{file_id}/{name}"
        return {"id": file_id, "name": name, "title": name, "mimetype": mimetype,
                "size": len(data) if size is None else size, "url_private": url,
                "url_private_download": url + "?download=1"}

    def said(self, text: str, *, channel: str, user: str = "U0BOB", thread_ts: str | None = None,
             files: list[dict[str, Any]] | None = None) -> str:
        """A person's message (no event is sent): `conversations.replies` will list it."""
        ts = self._next_ts()
        message: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": ts,
                                   "thread_ts": thread_ts or ts, "channel": channel}
        if files:
            message["files"] = files
        self.people.append(message)
        return ts

    # ---- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # e.g. users.info is a GET in slack-sdk
        app.router.add_get("/link", self._socket)
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_get("/files-pri/{team_file}/{name}", self._file)
        self._runner, port = await serve(app)
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self._released.set()
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _notify(self) -> None:
        await self._changes.notify()

    # ---- Socket Mode ----------------------------------------------------------------------------
    @property
    def socket_connected(self) -> bool:
        return any(not ws.closed for ws in self._sockets)

    async def push(self, kind: str, payload: dict[str, Any]) -> str:
        """Send an envelope ("events_api", "slash_commands", "interactive") over Socket Mode."""
        self._counter += 1
        envelope_id = f"env-{self._counter}"
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload, "retry_attempt": 0,
                    "retry_reason": "", "accepts_response_payload": kind != "events_api"}
        live = [ws for ws in self._sockets if not ws.closed]
        assert live, "no Socket Mode connection"
        await live[-1].send_json(envelope)
        return envelope_id

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)  # pongs echo the SDK's "sdk-ping-pong:<t>" pings
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "connection_info": {"app_id": "A0MOA"}, "debug_info": {"host": "fake"}})
        await self._notify()
        async for message in ws:
            if message.type == web.WSMsgType.TEXT:
                self.socket_acks.append(json.loads(message.data))
                await self._notify()
        await self._notify()
        return ws

    # ---- handlers -------------------------------------------------------------------------------
    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        body["_url"] = request.match_info["name"]
        self.responses.append(body)
        await self._notify()
        return web.Response(text="ok")

    async def _file(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        self.downloads.append((request.path, auth))
        await self._notify()
        if auth != f"Bearer {self.token}" or not self.files_scope:  # as Slack does: a login page, status 200
            return web.Response(text="<html><body>Sign in to Slack</body></html>", content_type="text/html")
        file_id = request.match_info["team_file"].rsplit("-", 1)[-1]
        if file_id not in self.files:
            return web.Response(status=404, text="file_not_found")
        mimetype, data = self.files[file_id]
        arrival = self.arrivals.get(file_id)
        if arrival is None:
            return web.Response(body=data, content_type=mimetype)
        if arrival == "redirect":  # e.g. to another host, which must never see the bot token
            raise web.HTTPFound(self.redirects[file_id])
        response = web.StreamResponse(headers={"Content-Type": mimetype})
        if arrival == "chunked":
            response.enable_chunked_encoding()  # no Content-Length, as some servers send files
        await response.prepare(request)
        if arrival == "stall":  # the headers came; the body never does
            self.stalled += 1
            await self._notify()
            try:
                await self._released.wait()
            finally:
                self.stalled -= 1
            return response
        for i in range(len(data)) if arrival == "drip" else [0]:
            await response.write(data[i:i + 1] if arrival == "drip" else data)
            if arrival == "drip":
                await asyncio.sleep(1.0)  # a byte a second: the way a congested link serves it
        await response.write_eof()
        return response

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        else:
            args.update(dict(await request.post()))
        for key in ("blocks", "chunks"):  # form-encoded calls send these as JSON strings
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        call = SlackCall(method, args, token, time.monotonic())
        self.calls.append(call)
        self._at_once[method] = self._at_once.get(method, 0) + 1
        self.most_at_once[method] = max(self.most_at_once.get(method, 0), self._at_once[method])
        try:
            delay = self.latency + self.method_latency.get(method, 0.0)
            if delay:
                await asyncio.sleep(delay)
        finally:
            self._at_once[method] -= 1
        status, payload, headers = self._answer(method, args, token)
        call.ok = bool(payload.get("ok"))
        call.error = payload.get("error")
        await self._notify()
        return web.json_response(payload, status=status, headers=headers)

    def _answer(self, method: str, args: dict[str, Any], token: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        if token != (self.app_token if method == "apps.connections.open" else self.token):
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        queue = self._failures.get(method)
        if queue:
            failure = queue.pop(0)
            if failure.error == "ratelimited":
                retry = f"{failure.retry_after or 1:g}"
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": retry}
            return 200, {"ok": False, "error": failure.error}, {}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        result: dict[str, Any] = handler(args)
        return 200, result, {}

    def _next_ts(self) -> str:
        self._counter += 1
        return f"{1_700_000_000 + self._counter}.{self._counter:06d}"

    def _content_error(self, args: dict[str, Any]) -> str | None:
        if len(str(args.get("text") or "")) > self.max_text_chars:
            return "msg_too_long"
        blocks = args.get("blocks") or []
        if not blocks and not args.get("text"):
            return "no_text"
        return self._refused(blocks) or _blocks_error(blocks)

    def _refused(self, blocks: list[dict[str, Any]]) -> str | None:
        """A workspace without the feedback buttons element refuses the whole message."""
        if not self.feedback_buttons and any(b.get("type") == "context_actions" for b in blocks):
            return "invalid_blocks"
        return None

    # Web API methods: each returns the JSON body Slack would.
    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://fake.slack.com/", "team": "Fake", "user": "moa",
                "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id}

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.url.replace("http://", "ws://") + "/link"}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user", ""))
        return {"ok": True, "user": {
            "id": user, "team_id": self.team_id, "name": user.lower(), "is_bot": False,
            "is_admin": user in self.admins or user in self.owners, "is_owner": user in self.owners,
            "is_primary_owner": False}}

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, thread = str(args.get("channel", "")), str(args.get("ts", ""))
        found = [m for m in self.people if m["channel"] == channel and m["thread_ts"] == thread]
        found += [{"type": "message", "bot_id": self.bot_id, "user": self.bot_user_id, "text": m.text,
                   "ts": m.ts, "thread_ts": m.thread_ts} for m in self.thread(channel, thread)]
        if not found:
            return {"ok": False, "error": "thread_not_found"}
        found.sort(key=lambda m: float(m["ts"]))
        if args.get("latest"):  # only messages before it (Slack's default: `inclusive` false)
            found = [m for m in found if float(m["ts"]) < float(args["latest"])]
        limit = min(int(args.get("limit") or 200), 1000)
        start = int(base64.b64decode(str(args["cursor"])).decode().removeprefix("next_ts:")) \
            if args.get("cursor") else 0
        page, more = found[start:start + limit], start + limit < len(found)
        cursor = base64.b64encode(f"next_ts:{start + limit}".encode()).decode() if more else ""
        return {"ok": True, "messages": page, "has_more": more, "response_metadata": {"next_cursor": cursor}}

    # Slack's assistant pane: what the app set is kept as calls (`calls_to("assistant.threads.setStatus")`).
    def _m_assistant_threads_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _m_assistant_threads_setTitle(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _m_assistant_threads_setSuggestedPrompts(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _m_reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        if (error := self._content_error(args)) is not None:
            return {"ok": False, "error": error}
        channel = str(args["channel"])
        ts = self._next_ts()
        self.messages[ts] = FakeMessage(channel, ts, args.get("thread_ts"), str(args.get("text") or ""),
                                        list(args.get("blocks") or []), posted_at=time.monotonic())
        return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts, "text": args.get("text", "")}}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self.messages.get(str(args.get("ts")))
        if msg is None or msg.channel != args.get("channel"):
            return {"ok": False, "error": "message_not_found"}
        if (error := self._content_error(args)) is not None:
            return {"ok": False, "error": error}
        msg.text = str(args.get("text") or "")
        msg.blocks = list(args.get("blocks") or [])
        msg.streamed = []  # an edit replaces what a stream wrote
        msg.streaming = False
        msg.edits += 1
        return {"ok": True, "channel": msg.channel, "ts": msg.ts, "text": msg.text}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if (error := self._content_error(args)) is not None:
            return {"ok": False, "error": error}
        self.ephemerals.append(args)
        return {"ok": True, "message_ts": self._next_ts()}

    def _stream_chunks(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        chunks = list(args.get("chunks") or [])
        if args.get("markdown_text"):
            chunks.append({"type": "markdown_text", "text": args["markdown_text"]})
        return chunks

    def _m_chat_startStream(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self.streaming:
            return {"ok": False, "error": self.streaming_error}
        channel = str(args.get("channel", ""))
        if not channel.startswith("D") and not (args.get("recipient_user_id") and args.get("recipient_team_id")):
            return {"ok": False, "error": "invalid_arguments"}
        if not args.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        ts = self._next_ts()
        self.messages[ts] = FakeMessage(channel, ts, args["thread_ts"], streamed=self._stream_chunks(args),
                                        streaming=True, posted_at=time.monotonic())
        return {"ok": True, "channel": channel, "ts": ts}

    def _streaming_message(self, args: dict[str, Any]) -> FakeMessage | str:
        if not self.streaming:
            return self.streaming_error
        msg = self.messages.get(str(args.get("ts")))
        if msg is None or msg.channel != args.get("channel"):
            return "message_not_found"
        if not msg.streaming:
            return "message_not_in_streaming_state"
        return msg

    def _m_chat_appendStream(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._streaming_message(args)
        if isinstance(msg, str):
            return {"ok": False, "error": msg}
        chunks = self._stream_chunks(args)
        if not chunks:
            return {"ok": False, "error": "no_text"}
        if any(len(str(c.get("text", ""))) > MARKDOWN_TOTAL_LIMIT for c in chunks):
            return {"ok": False, "error": "msg_too_long"}
        msg.streamed.extend(chunks)
        msg.edits += 1
        return {"ok": True, "channel": msg.channel, "ts": msg.ts}

    def _m_chat_stopStream(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._streaming_message(args)
        if isinstance(msg, str):
            return {"ok": False, "error": msg}
        blocks = list(args.get("blocks") or [])
        if (error := self._refused(blocks) or _blocks_error(blocks)) is not None:
            return {"ok": False, "error": error}
        msg.streamed.extend(self._stream_chunks(args))
        msg.blocks = blocks
        msg.streaming = False
        msg.edits += 1
        return {"ok": True, "channel": msg.channel, "ts": msg.ts, "message": {"ts": msg.ts}}


class SlackSender:
    """Plays Slack's side of the Events API: signed events, slash commands and button presses.

    Each method POSTs to the bot's `/slack/events` URL and returns the HTTP status (bolt acks first
    and runs listeners in the background: wait on the fake Web API for the outcome).
    """

    def __init__(self, slack: FakeSlack, url: str, signing_secret: str) -> None:
        self.slack = slack
        self.url = url
        self.signing_secret = signing_secret
        self._session: Any = None
        self._counter = 0

    def next_ts(self) -> str:
        return self.slack._next_ts()  # one clock for people's messages and the bot's, as in Slack

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def sign(self, body: bytes, timestamp: int | None = None, secret: str | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        base = f"v0:{ts}:".encode() + body
        digest = hmac.new((secret or self.signing_secret).encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}

    async def post(self, body: bytes, content_type: str, *, headers: dict[str, str] | None = None,
                   timestamp: int | None = None, secret: str | None = None) -> int:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession()
        all_headers = {"Content-Type": content_type, **self.sign(body, timestamp, secret), **(headers or {})}
        async with self._session.post(self.url, data=body, headers=all_headers) as response:
            await response.read()
            return int(response.status)

    def event_body(self, event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        """An Events API `event_callback` wrapping `event`."""
        self._counter += 1
        return {"token": "legacy", "team_id": self.slack.team_id, "api_app_id": "A0MOA",
                "type": "event_callback", "event": event, "event_id": event_id or f"Ev{self._counter:08d}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": self.slack.team_id, "user_id": self.slack.bot_user_id,
                                    "is_bot": True}]}

    def mention_event(self, text: str, *, channel: str = "C0GENERAL", user: str = "U0ALICE",
                      ts: str | None = None, thread_ts: str | None = None) -> dict[str, Any]:
        ts = ts or self.next_ts()
        event = {"type": "app_mention", "user": user, "text": f"<@{self.slack.bot_user_id}> {text}",
                 "ts": ts, "channel": channel, "event_ts": ts, "client_msg_id": f"cm-{ts}"}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return event

    async def event(self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None,
                    **kwargs: Any) -> int:
        body = self.event_body(event, event_id)
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return await self.post(json.dumps(body).encode(), "application/json", headers=headers, **kwargs)

    async def mention(self, text: str, *, channel: str = "C0GENERAL", user: str = "U0ALICE",
                      ts: str | None = None, thread_ts: str | None = None, **kwargs: Any) -> str:
        """@-mention the bot; returns the mention's ts (the thread the answer goes to unless in a thread)."""
        event = self.mention_event(text, channel=channel, user=user, ts=ts, thread_ts=thread_ts)
        status = await self.event(event, **kwargs)
        assert status == 200, status
        return str(event["ts"])

    async def message(self, text: str, *, channel: str = "C0GENERAL", user: str = "U0ALICE",
                      thread_ts: str | None = None, channel_type: str = "channel", ts: str | None = None,
                      **extra: Any) -> str:
        ts = ts or self.next_ts()
        event = {"type": "message", "user": user, "text": text, "ts": ts, "channel": channel,
                 "event_ts": ts, "channel_type": channel_type, **extra}
        if thread_ts:
            event["thread_ts"] = thread_ts
        status = await self.event(event)
        assert status == 200, status
        return ts

    async def react(self, channel: str, ts: str, reaction: str = "mag", user: str = "U0ALICE") -> int:
        event_ts = self.next_ts()
        return await self.event({"type": "reaction_added", "user": user, "reaction": reaction,
                                 "item": {"type": "message", "channel": channel, "ts": ts},
                                 "item_user": self.slack.bot_user_id, "event_ts": event_ts})

    async def command(self, text: str, *, channel: str = "C0GENERAL", user: str = "U0ALICE",
                      response: str = "cmd") -> int:
        form = {"token": "legacy", "team_id": self.slack.team_id, "team_domain": "fake",
                "channel_id": channel, "channel_name": "general", "user_id": user, "user_name": user.lower(),
                "command": "/moa", "text": text, "api_app_id": "A0MOA",
                "response_url": self.slack.response_url(response), "trigger_id": "1.2.3"}
        return await self.post(urlencode(form).encode(), "application/x-www-form-urlencoded")

    async def press(self, message: FakeMessage, *, user: str = "U0ALICE", response: str = "press") -> int:
        """Press the Show layers button on one of the bot's messages."""
        button = message.buttons[0]
        return await self._action(message, {"type": "button", "action_id": button["action_id"], "block_id": "b",
                                            "value": button["value"]}, user=user, response=response)

    async def vote(self, message: FakeMessage, up: bool, *, user: str = "U0ALICE", response: str = "vote") -> int:
        """Press 👍 (up) or 👎 on an answer: the feedback_buttons element, else the plain button."""
        native = message.feedback
        if native is not None:
            side = native["positive_button" if up else "negative_button"]
            action = {"type": "feedback_buttons", "action_id": native["action_id"], "block_id": "fb",
                      "value": side["value"], "text": side["text"]}
        else:
            [button] = [b for b in message.buttons if str(b.get("value", "")).startswith("up:" if up else "down:")]
            action = {"type": "button", "action_id": button["action_id"], "block_id": "b", "value": button["value"]}
        return await self._action(message, action, user=user, response=response)

    async def _action(self, message: FakeMessage, action: dict[str, Any], *, user: str, response: str) -> int:
        payload = {
            "type": "block_actions", "team": {"id": self.slack.team_id, "domain": "fake"},
            "user": {"id": user, "team_id": self.slack.team_id}, "api_app_id": "A0MOA", "token": "legacy",
            "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel,
                          "is_ephemeral": False, "thread_ts": message.thread_ts},
            "trigger_id": "1.2.3", "channel": {"id": message.channel, "name": "general"},
            "message": {"type": "message", "ts": message.ts, "thread_ts": message.thread_ts,
                        "text": message.text, "blocks": message.blocks, "bot_id": self.slack.bot_id},
            "response_url": self.slack.response_url(response),
            "actions": [{**action, "action_ts": str(time.time())}],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, "application/x-www-form-urlencoded")
