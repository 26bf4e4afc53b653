"""A fake Discord (REST API + gateway) on 127.0.0.1, for driving the real discord.py in tests.

One aiohttp app serves both halves: REST under `/api/v10/...` and the gateway websocket at `/gateway`.
discord.py is pointed at it through its two process-global seams (`install()` sets and restores them)::

    async with FakeDiscord() as fake, fake.install():
        ...                                    # build and start the bot
        await fake.wait_for_ready()
        msg = await fake.say(fake.general, fake.alice, f"{fake.bot_mention} why is the sky blue?")
        await fake.wait_for(lambda f: f.bot_messages(thread_id=msg["id"]))

The world: one guild with two text channels (`general`, `random`), a moderator `alice` (Manage
Channels through the "mod" role), a member `bob` (no Manage Channels) and the bot. Threads started from a
message take the message's id, as on Discord. Everything the bot does over REST is in `calls`; the
current state of every message is in `messages`. The fake behaves like Discord where the bot can tell:
it echoes the bot's own messages back over the gateway, blanks `content` of messages that do not
mention the bot when the MESSAGE_CONTENT intent is missing, replays missed events on RESUME, and
answers 429 with `Via` + `retry_after` when told to.

Shards: each IDENTIFY opens a session for its `shard: [id, count]` (`[0, 1]` without one), and a guild's
events go only to the sessions whose shard owns it, by Discord's rule `(guild_id >> 22) % count == id`
(DMs to shard 0). The default guild is on shard 0 of 2; `add_guild(shard=1)` makes one on shard 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from tests.fakes.local import Changes, serve

API_PREFIX = "/api/v10"
MESSAGE_CONTENT_INTENT = 1 << 15

# Permission bits (discord.Permissions values) used to build roles.
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
READ_MESSAGE_HISTORY = 1 << 16
ADD_REACTIONS = 1 << 6
MANAGE_CHANNELS = 1 << 4
MENTION_EVERYONE = 1 << 17
USE_APPLICATION_COMMANDS = 1 << 31
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
MEMBER_PERMISSIONS = (VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | ADD_REACTIONS | EMBED_LINKS
                      | USE_APPLICATION_COMMANDS | CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS
                      | MENTION_EVERYONE)  # members may @everyone: the bot must still never ping

T = TypeVar("T")
_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py only parses a body whose Content-Type is exactly "application/json" (no charset).
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


@dataclass
class RestCall:
    """One REST request the bot made."""

    method: str
    path: str  # without the /api/v10 prefix, e.g. "/channels/123/messages"
    json: Any
    query: dict[str, str]
    at: float  # time.monotonic()
    status: int = 0


@dataclass
class FakeUser:
    id: str
    name: str
    bot: bool = False
    roles: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.name, "discriminator": "0", "global_name": self.name,
                "avatar": None, "bot": self.bot, "public_flags": 0}


@dataclass
class FakeInteraction:
    """An interaction the test sent, and everything the bot answered to it."""

    id: str
    token: str
    payload: dict[str, Any]
    callbacks: list[dict[str, Any]] = field(default_factory=list)  # POST …/callback bodies
    followups: list[dict[str, Any]] = field(default_factory=list)  # follow-up message payloads
    original: dict[str, Any] | None = None  # the @original response message, after edits

    @property
    def acknowledged_at(self) -> float | None:
        return self._ack_at

    _ack_at: float | None = None
    created_at: float = field(default_factory=time.monotonic)

    @property
    def replies(self) -> list[dict[str, Any]]:
        """Every message the user sees in answer: the original response, then the follow-ups."""
        return ([self.original] if self.original and self.original.get("content") is not None
                and not self.original.get("_deferred") else []) + self.followups

    @property
    def text(self) -> str:
        """All reply text (content and embed descriptions) joined, as the user reads it."""
        parts: list[str] = []
        for msg in self.replies:
            if msg.get("content"):
                parts.append(msg["content"])
            parts.extend(e.get("description") or "" for e in msg.get("embeds") or [])
        return "\n".join(parts)

    @property
    def ephemeral(self) -> bool:
        flags = [c.get("data", {}).get("flags", 0) or 0 for c in self.callbacks]
        return bool(flags) and all(f & 64 for f in flags) and all(
            (m.get("flags", 0) or 0) & 64 for m in self.followups)


def shard_of(guild_id: str | None, shard_count: int) -> int:
    """The shard that receives a guild's events (Discord's rule); DMs go to shard 0."""
    return 0 if guild_id is None else (int(guild_id) >> 22) % shard_count


@dataclass
class GatewaySession:
    """One IDENTIFYed session: the shard it is, its connection, and what it was sent (replayed on RESUME)."""

    id: str
    shard: tuple[int, int]  # (shard id, shard count) from IDENTIFY
    ws: web.WebSocketResponse | None
    seq: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed

    def serves(self, guild_id: str | None) -> bool:
        return shard_of(guild_id, self.shard[1]) == self.shard[0]


@dataclass(frozen=True)
class FakeGuild:
    id: str
    name: str
    general: str  # its #general channel


class FakeDiscord:
    """Discord's REST API and gateway, small enough to read, faithful where discord.py looks."""

    def __init__(self, *, token: str = "fake-bot-token") -> None:
        self.token = token
        self._ids = itertools.count(1_300_000_000_000_000_001)
        self.guild_id = self.id_on_shard(0, 2)
        self.guilds: dict[str, str] = {self.guild_id: "Fake Guild"}  # id -> name
        self.app_id = self.new_id()
        self.bot = FakeUser(self.app_id, "moa-bot", bot=True)
        self.mod_role = self.new_id()
        self.bot_role = self.new_id()
        self.alice = FakeUser(self.new_id(), "alice", roles=(self.mod_role,))
        self.bob = FakeUser(self.new_id(), "bob")
        self.users = {u.id: u for u in (self.bot, self.alice, self.bob)}
        self.general = self.new_id()
        self.random = self.new_id()
        self.channels: dict[str, dict[str, Any]] = {
            cid: {"id": cid, "type": 0, "guild_id": self.guild_id, "name": name, "position": i,
                  "permission_overwrites": [], "parent_id": None, "nsfw": False, "topic": None,
                  "last_message_id": None, "rate_limit_per_user": 0, "flags": 0}
            for i, (cid, name) in enumerate(((self.general, "general"), (self.random, "random")))
        }
        self.messages: dict[str, dict[str, Any]] = {}
        self.message_order: list[str] = []
        self.calls: list[RestCall] = []
        self.interactions: dict[str, FakeInteraction] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}  # "global" or guild id -> synced commands
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.redeliver_on_resume = False  # after a RESUME, send the session's MESSAGE_CREATEs again
        self.sent: list[dict[str, Any]] = []  # every gateway frame delivered to the bot
        self.sent_to: list[tuple[int, dict[str, Any]]] = []  # the same, with the shard id that got each
        self.recommended_shards = 1  # GET /gateway/bot's "shards"
        self.max_concurrency = 1  # GET /gateway/bot's session_start_limit.max_concurrency
        self.stalled_shards: set[int] = set()  # shards whose IDENTIFY is recorded but never answered
        self.required_shards = 1  # IDENTIFYs asking for fewer shards are closed with 4011 "Sharding required"
        self._rate_limits: list[tuple[str, re.Pattern[str], float]] = []
        self.sessions: dict[tuple[int, int], GatewaySession] = {}  # the latest session of each shard
        self._send_lock = asyncio.Lock()
        # Re-checked now and then too: a test may also wait on the bot's own state.
        self._changes = Changes("fake Discord", self._describe_calls, recheck_s=0.05)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.cdn: dict[str, tuple[str, bytes]] = {}  # attachment id -> (content type, bytes)
        self.cdn_requests: list[tuple[str, str]] = []  # (path, Authorization header) of every download

    # ---- addresses ---------------------------------------------------------------------------------
    def new_id(self) -> str:
        return str(next(self._ids))

    def id_on_shard(self, shard: int, shard_count: int) -> str:
        """A new snowflake that, as a guild id, belongs to `shard` of `shard_count`."""
        snowflake = int(self.new_id())
        while shard_of(str(snowflake), shard_count) != shard:
            snowflake += 1 << 22  # the bits above 22 are the timestamp: one millisecond later
        return str(snowflake)

    def add_guild(self, name: str, *, shard: int = 1, shard_count: int = 2) -> FakeGuild:
        """Another guild with a #general channel (the same members), on `shard` of `shard_count`.

        Add it before the bot connects: its sessions announce it in READY."""
        guild_id = self.id_on_shard(shard, shard_count)
        self.guilds[guild_id] = name
        general = self.new_id()
        self.channels[general] = {**self.channels[self.general], "id": general, "guild_id": guild_id}
        return FakeGuild(guild_id, name, general)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def bot_mention(self) -> str:
        return f"<@{self.bot.id}>"

    @contextlib.contextmanager
    def install(self) -> Iterator[FakeDiscord]:
        """Point discord.py's REST base and gateway at this fake; restore them afterwards."""
        import discord.gateway
        import discord.http
        import yarl

        old_base, old_gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.base_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield self
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    # ---- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        app.router.add_get("/attachments/{channel}/{attachment}/{name}", self._cdn)
        self._runner, self.port = await serve(app)
        return self

    async def stop(self) -> None:
        for session in self.sessions.values():
            if session.ws is not None:
                await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- waiting -----------------------------------------------------------------------------------
    async def _changed(self) -> None:
        await self._changes.notify()

    async def wait_for(self, predicate: Callable[[FakeDiscord], T], timeout: float = 5.0) -> T:
        """Wait until `predicate(fake)` is truthy and return its value (TimeoutError lists the calls)."""
        return await self._changes.wait_for(lambda: predicate(self), timeout)

    def _describe_calls(self) -> str:
        return "\n".join(f"  {c.method} {c.path} {json.dumps(c.json)[:300]}" for c in self.calls)

    async def wait_for_ready(self, timeout: float = 5.0) -> None:
        """Until the bot has identified (or resumed) and received its guild."""
        await self.wait_for(lambda f: f.connected, timeout)

    @property
    def connected(self) -> bool:
        """Some session of the bot is connected."""
        return any(s.connected for s in self.sessions.values())

    def connected_shards(self) -> list[int]:
        return sorted(s.shard[0] for s in self.sessions.values() if s.connected)

    # ---- what the bot did --------------------------------------------------------------------------
    def calls_to(self, method: str, pattern: str) -> list[RestCall]:
        rx = re.compile(pattern)
        return [c for c in self.calls if c.method == method and rx.fullmatch(c.path)]

    def channel_messages(self, channel_id: str) -> list[dict[str, Any]]:
        return [m for mid in self.message_order if (m := self.messages[mid])["channel_id"] == channel_id]

    def bot_messages(self, channel_id: str | None = None, *, thread_id: str | None = None) -> list[dict[str, Any]]:
        """Messages the bot posted (current state after edits), in order, optionally in one channel."""
        where = thread_id or channel_id
        return [m for mid in self.message_order
                if (m := self.messages[mid])["author"]["id"] == self.bot.id
                and (where is None or m["channel_id"] == where)]

    def deliveries(self, message_id: str, shard: int | None = None) -> int:
        """How often the gateway delivered MESSAGE_CREATE for a message (to one shard, if given)."""
        return sum(1 for to, f in self.sent_to if f.get("t") == "MESSAGE_CREATE" and f["d"]["id"] == message_id
                   and shard in (None, to))

    def threads(self) -> list[dict[str, Any]]:
        return [c for c in self.channels.values() if c["type"] == 11]

    @property
    def pings(self) -> list[str]:
        """Who the bot's messages notified: "everyone", "here", "user:ID", "role:ID"."""
        found: list[str] = []
        for call in self.calls:
            body = call.json if isinstance(call.json, dict) else None
            if body is None or call.method not in ("POST", "PATCH"):
                continue
            if "/callback" in call.path:
                body = body.get("data") or {}
            content = body.get("content") or ""
            if not content:
                continue
            allowed = body.get("allowed_mentions")
            parse = set(allowed.get("parse", [])) if allowed is not None else {"everyone", "users", "roles"}
            users = set(allowed.get("users", [])) if allowed is not None else set()
            roles = set(allowed.get("roles", [])) if allowed is not None else set()
            if "everyone" in parse:
                found += [w for w in ("everyone", "here") if f"@{w}" in content]
            found += [f"user:{u}" for u in _MENTION.findall(content) if "users" in parse or u in users]
            found += [f"role:{r}" for r in _ROLE_MENTION.findall(content) if "roles" in parse or r in roles]
        return found

    # ---- control -----------------------------------------------------------------------------------
    def rate_limit(self, method: str, pattern: str, retry_after: float = 0.05, times: int = 1) -> None:
        """Answer the next `times` matching REST calls with 429 (with Via, as Discord's edge does)."""
        for _ in range(times):
            self._rate_limits.append((method, re.compile(pattern), retry_after))

    def _session(self, shard: int) -> GatewaySession | None:
        return next((s for s in self.sessions.values() if s.shard[0] == shard and s.connected), None)

    async def reconnect(self, shard: int = 0) -> None:
        """Ask the bot to reconnect (op 7 RECONNECT); it should RESUME."""
        if (session := self._session(shard)) is not None:
            await self._send(session, {"op": 7, "d": None})

    async def drop(self, code: int = 4000, shard: int = 0) -> None:
        """Close a shard's gateway connection with `code` (4000: unknown error, resumable)."""
        if (session := self._session(shard)) is not None and session.ws is not None:
            ws, session.ws = session.ws, None
            await ws.close(code=code, message=b"fake drop")

    # ---- things people do --------------------------------------------------------------------------
    def message_payload(self, channel_id: str, author: FakeUser, content: str, **extra: Any) -> dict[str, Any]:
        mentions = [self.users[u].payload() for u in dict.fromkeys(_MENTION.findall(content)) if u in self.users]
        channel = self.channels.get(channel_id, {})
        msg: dict[str, Any] = {
            "id": extra.pop("id", None) or self.new_id(), "channel_id": channel_id, "author": author.payload(),
            "content": content, "timestamp": _now_iso(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": mentions, "mention_roles": [], "attachments": [],
            "embeds": [], "pinned": False, "type": 0, "components": [], "flags": 0,
        }
        if channel.get("guild_id"):
            msg["guild_id"] = channel["guild_id"]
        msg.update(extra)
        return msg

    def attachment(self, channel_id: str, filename: str, content_type: str, data: bytes,
                   size: int | None = None) -> dict[str, Any]:
        """A file on the fake CDN, as MESSAGE_CREATE's `attachments` lists it (`say(..., attachments=[…])`)."""
        attachment_id = self.new_id()
        self.cdn[attachment_id] = (content_type, data)
        url = f"http://127.0.0.1:{self.port}/attachments/{channel_id}/{attachment_id}/{filename}"
        return {"id": attachment_id, "filename": filename, "size": len(data) if size is None else size,
                "url": url, "proxy_url": url, "content_type": content_type}

    async def _cdn(self, request: web.Request) -> web.Response:
        self.cdn_requests.append((request.path, request.headers.get("Authorization", "")))
        await self._changed()
        found = self.cdn.get(request.match_info["attachment"])
        if found is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=found[1], content_type=found[0])

    async def say(self, channel_id: str, author: FakeUser, content: str, **extra: Any) -> dict[str, Any]:
        """`author` posts `content` in a channel, thread or DM; returns the message."""
        msg = self.message_payload(channel_id, author, content, **extra)
        self._store(msg)
        await self.dispatch("MESSAGE_CREATE", self._gateway_message(msg))
        return msg

    async def open_dm(self, user: FakeUser) -> str:
        cid = self.new_id()
        self.channels[cid] = {"id": cid, "type": 1, "recipients": [user.payload()], "last_message_id": None,
                              "flags": 0}
        return cid

    async def react(self, message_id: str, user: FakeUser, emoji: str = "🔍") -> None:
        msg = self.messages[message_id]
        data: dict[str, Any] = {"user_id": user.id, "channel_id": msg["channel_id"], "message_id": message_id,
                                "emoji": {"id": None, "name": emoji}, "burst": False, "type": 0,
                                "burst_colors": [], "message_author_id": msg["author"]["id"]}
        if "guild_id" in msg:
            data["guild_id"] = msg["guild_id"]
            data["member"] = self._member(user)
        await self.dispatch("MESSAGE_REACTION_ADD", data)

    async def slash(self, channel_id: str, user: FakeUser, *path: str, options: dict[str, Any] | None = None,
                    permissions: int | None = None) -> FakeInteraction:
        """`user` runs `/moa <path…> [options]` in a channel: a type-2 interaction."""
        leaf: list[dict[str, Any]] = [{"name": k, "type": _option_type(v), "value": v}
                                      for k, v in (options or {}).items()]
        opts = leaf
        for i, name in enumerate(reversed(path)):
            opts = [{"name": name, "type": 1 if i == 0 else 2, "options": opts}]
        cmd_id = self._command_id("moa")
        data = {"id": cmd_id, "name": "moa", "type": 1, "options": opts}
        return await self._interact(2, channel_id, user, data, permissions=permissions)

    async def autocomplete(self, channel_id: str, user: FakeUser, *path: str, option: str, value: str,
                           options: dict[str, Any] | None = None) -> FakeInteraction:
        """A type-4 autocomplete interaction while `user` types `value` into `option`."""
        leaf: list[dict[str, Any]] = [{"name": k, "type": _option_type(v), "value": v}
                                      for k, v in (options or {}).items()]
        leaf.append({"name": option, "type": 3, "value": value, "focused": True})
        opts = leaf
        for i, name in enumerate(reversed(path)):
            opts = [{"name": name, "type": 1 if i == 0 else 2, "options": opts}]
        data = {"id": self._command_id("moa"), "name": "moa", "type": 1, "options": opts}
        return await self._interact(4, channel_id, user, data)

    async def press(self, message_id: str, user: FakeUser, custom_id: str | None = None) -> FakeInteraction:
        """`user` presses a button on a message (the first button when `custom_id` is None)."""
        return await self.press_on(self.messages[message_id], user, custom_id)

    async def press_on(self, msg: dict[str, Any], user: FakeUser, custom_id: str | None = None) -> FakeInteraction:
        """Press a button on any message payload, e.g. an ephemeral follow-up only its user sees."""
        if custom_id is None:
            custom_id = self.buttons(msg)[0]["custom_id"]
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._interact(3, msg["channel_id"], user, data, message=msg)

    @staticmethod
    def buttons(msg: dict[str, Any]) -> list[dict[str, Any]]:
        return [c for row in msg.get("components") or [] for c in row.get("components") or []
                if c.get("type") == 2]

    # ---- gateway -----------------------------------------------------------------------------------
    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a DISPATCH event to the sessions of the shard its guild belongs to; while one is
        disconnected the event waits in its log for RESUME."""
        guild_id = data.get("guild_id")
        for session in [s for s in self.sessions.values() if s.serves(guild_id)]:
            await self._dispatch_to(session, event, data)

    async def _dispatch_to(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.log.append(frame)
        await self._send(session, frame)

    async def _send(self, session: GatewaySession, frame: dict[str, Any]) -> None:
        ws = session.ws
        if ws is None or ws.closed:
            return
        async with self._send_lock:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(json.dumps(frame))
                self.sent.append(frame)
                self.sent_to.append((session.shard[0], frame))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        try:
            async for raw in ws:
                if raw.type != WSMsgType.TEXT:
                    continue
                msg = json.loads(raw.data)
                op = msg.get("op")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11}))
                elif op == 2:
                    await self._identify(ws, msg["d"])
                elif op == 6:
                    await self._resume(ws, msg["d"])
                elif op == 8:
                    await ws.send_str(json.dumps({"op": 0, "t": "GUILD_MEMBERS_CHUNK", "s": None, "d": {
                        "guild_id": msg["d"]["guild_id"], "members": [self._member(u) for u in self.users.values()],
                        "chunk_index": 0, "chunk_count": 1, "nonce": msg["d"].get("nonce")}}))
        finally:
            for session in self.sessions.values():
                if session.ws is ws:
                    session.ws = None
            await self._changed()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> None:
        if d.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        shard_id, shard_count = d.get("shard") or (0, 1)
        if not 0 <= shard_id < shard_count:
            await ws.close(code=4010, message=b"Invalid shard.")
            return
        if shard_count < self.required_shards:
            await ws.close(code=4011, message=b"Sharding required.")
            return
        self.identifies.append(d)
        if shard_id in self.stalled_shards:  # e.g. Discord having an outage for that shard
            return
        session = GatewaySession(uuid.uuid4().hex, (shard_id, shard_count), ws)
        self.sessions[session.shard] = session  # a new session replaces that shard's old one
        guilds = [g for g in self.guilds if session.serves(g)]
        ready = {"v": 10, "user": {**self.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0},
                 "session_id": session.id, "resume_gateway_url": self.gateway_url,
                 "shard": [shard_id, shard_count], "application": {"id": self.app_id, "flags": 0},
                 "guilds": [{"id": g, "unavailable": True} for g in guilds], "private_channels": [],
                 "relationships": [], "presences": [], "guild_join_requests": []}
        await self._dispatch_to(session, "READY", ready)
        for guild_id in guilds:
            await self._dispatch_to(session, "GUILD_CREATE", self._guild(guild_id))
        await self._changed()

    async def _resume(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> None:
        self.resumes.append(d)
        session = next((s for s in self.sessions.values() if s.id == d.get("session_id")), None)
        if session is None or d.get("token") != self.token:
            await ws.send_str(json.dumps({"op": 9, "d": False}))
            return
        session.ws = ws
        seen = int(d.get("seq") or 0)
        replay = [f for f in session.log if f["s"] > seen]
        if self.redeliver_on_resume:
            # Discord may deliver an event again after a RESUME: the bot must not act twice.
            replay = [f for f in session.log if f["s"] <= seen and f["t"] == "MESSAGE_CREATE"] + replay
        for frame in replay:
            await self._send(session, frame)
        session.seq += 1
        await self._send(session, {"op": 0, "t": "RESUMED", "s": session.seq, "d": {}})
        await self._changed()

    # ---- payloads ----------------------------------------------------------------------------------
    def _role(self, rid: str, name: str, perms: int, position: int) -> dict[str, Any]:
        return {"id": rid, "name": name, "permissions": str(perms), "position": position, "color": 0,
                "hoist": False, "managed": False, "mentionable": False, "flags": 0}

    def permissions_of(self, user: FakeUser) -> int:
        perms = MEMBER_PERMISSIONS
        if self.mod_role in user.roles:
            perms |= MANAGE_CHANNELS
        return perms

    def _member(self, user: FakeUser) -> dict[str, Any]:
        return {"user": user.payload(), "roles": list(user.roles), "joined_at": _now_iso(), "deaf": False,
                "mute": False, "flags": 0, "nick": None, "avatar": None}

    def _guild(self, guild_id: str) -> dict[str, Any]:
        return {
            "id": guild_id, "name": self.guilds[guild_id], "icon": None, "owner_id": self.alice.id,
            "roles": [self._role(guild_id, "@everyone", MEMBER_PERMISSIONS, 0),
                      self._role(self.mod_role, "mod", MEMBER_PERMISSIONS | MANAGE_CHANNELS, 1),
                      self._role(self.bot_role, "moa-bot", MEMBER_PERMISSIONS, 2)],
            "emojis": [], "stickers": [], "features": [], "member_count": len(self.users), "large": False,
            "unavailable": False, "joined_at": _now_iso(), "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0,
            "system_channel_id": None, "premium_tier": 0, "preferred_locale": "en-US", "nsfw_level": 0,
            "members": [self._member(u) for u in self.users.values()],
            "channels": [c for c in self.channels.values() if c["type"] == 0 and c["guild_id"] == guild_id],
            "threads": [t for t in self.threads() if t["guild_id"] == guild_id],
            "voice_states": [], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [],
        }

    def _gateway_message(self, msg: dict[str, Any]) -> dict[str, Any]:
        """A message as the gateway delivers it to this bot (content hidden without the intent)."""
        out = dict(msg)
        if "guild_id" in msg:
            user = self.users.get(msg["author"]["id"])
            if user is not None:
                member = self._member(user)
                member.pop("user")
                out["member"] = member
        intents = self.identifies[-1].get("intents", 0) if self.identifies else 0
        mentioned = any(m["id"] == self.bot.id for m in msg.get("mentions", []))
        is_dm = "guild_id" not in msg
        if not intents & MESSAGE_CONTENT_INTENT and not (mentioned or is_dm or msg["author"]["id"] == self.bot.id):
            out.update(content="", embeds=[], attachments=[], components=[])
        return out

    def _command_id(self, name: str) -> str:
        for cmds in self.commands.values():
            for c in cmds:
                if c["name"] == name:
                    return str(c["id"])
        return self.new_id()

    async def _interact(self, kind: int, channel_id: str, user: FakeUser, data: dict[str, Any], *,
                        message: dict[str, Any] | None = None, permissions: int | None = None) -> FakeInteraction:
        channel = self.channels.get(channel_id) or {"id": channel_id, "type": 0}
        inter_id, token = self.new_id(), f"itoken-{uuid.uuid4().hex}"
        payload: dict[str, Any] = {
            "id": inter_id, "application_id": self.app_id, "type": kind, "data": data, "token": token,
            "version": 1, "channel_id": channel_id, "channel": channel, "locale": "en-US",
            "app_permissions": str(self.permissions_of(self.bot)), "entitlements": [],
            "authorizing_integration_owners": {"0": channel.get("guild_id") or self.guild_id}, "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if channel.get("type") == 1:
            payload["user"] = user.payload()
            payload["context"] = 1
        else:
            payload["guild_id"] = channel.get("guild_id") or self.guild_id
            payload["guild_locale"] = "en-US"
            member = self._member(user)
            perms = self.permissions_of(user) if permissions is None else permissions
            member["permissions"] = str(perms)
            payload["member"] = member
        if message is not None:
            payload["message"] = message
        inter = FakeInteraction(inter_id, token, payload)
        self.interactions[token] = inter
        await self.dispatch("INTERACTION_CREATE", payload)
        return inter

    def _store(self, msg: dict[str, Any]) -> None:
        if msg["id"] not in self.messages:
            self.message_order.append(msg["id"])
        self.messages[msg["id"]] = msg

    # ---- REST --------------------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
            elif request.content_type.startswith("multipart/"):
                body = await _multipart_json(request)
        call = RestCall(request.method, path, body, dict(request.query), time.monotonic())
        self.calls.append(call)
        try:
            response = await self._route(request, call)
        except KeyError:
            response = _json({"message": "Unknown Resource", "code": 10000}, status=404)
        call.status = response.status
        await self._changed()
        return response

    async def _route(self, request: web.Request, call: RestCall) -> web.Response:
        auth = request.headers.get("Authorization", "")
        is_webhook = call.path.startswith(("/webhooks/", "/interactions/"))
        if not is_webhook and auth != f"Bot {self.token}":
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        for i, (method, rx, retry_after) in enumerate(self._rate_limits):
            if method == call.method and rx.fullmatch(call.path):
                del self._rate_limits[i]
                return _json({"message": "You are being rate limited.", "retry_after": retry_after,
                              "global": False}, status=429, headers={"Via": "1.1 google",
                                                                     "Retry-After": f"{retry_after:g}"})
        for method, pattern, handler in self._routes():
            m = re.fullmatch(pattern, call.path)
            if m and method == call.method:
                return await handler(call, *m.groups())
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    def _routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        snow = r"(\d+)"
        return [
            ("GET", r"/users/@me", self._get_me),
            ("GET", r"/oauth2/applications/@me", self._get_app),
            ("GET", r"/gateway(?:/bot)?", self._get_gateway),
            ("PUT", rf"/applications/{snow}/commands", self._put_commands),
            ("PUT", rf"/applications/{snow}/guilds/{snow}/commands", self._put_commands),
            ("POST", rf"/channels/{snow}/typing", self._typing),
            ("GET", rf"/channels/{snow}", self._get_channel),
            ("POST", rf"/channels/{snow}/messages", self._post_message),
            ("GET", rf"/channels/{snow}/messages", self._list_messages),
            ("GET", rf"/channels/{snow}/messages/{snow}", self._get_message),
            ("PATCH", rf"/channels/{snow}/messages/{snow}", self._patch_message),
            ("DELETE", rf"/channels/{snow}/messages/{snow}", self._delete_message),
            ("POST", rf"/channels/{snow}/messages/{snow}/threads", self._create_thread),
            ("POST", rf"/interactions/{snow}/([^/]+)/callback", self._callback),
            ("POST", rf"/webhooks/{snow}/([^/]+)", self._followup),
            ("GET", rf"/webhooks/{snow}/([^/]+)/messages/(@original|\d+)", self._get_webhook_message),
            ("PATCH", rf"/webhooks/{snow}/([^/]+)/messages/(@original|\d+)", self._edit_webhook_message),
        ]

    async def _get_me(self, call: RestCall) -> web.Response:
        return _json({**self.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0})

    async def _get_app(self, call: RestCall) -> web.Response:
        return _json({"id": self.app_id, "name": "moa-bot", "description": "", "icon": None,
                      "bot_public": True, "bot_require_code_grant": False, "owner": self.alice.payload(),
                      "verify_key": "0" * 64, "flags": 0, "summary": "", "team": None,
                      "bot": self.bot.payload()})

    async def _get_gateway(self, call: RestCall) -> web.Response:
        return _json({"url": self.gateway_url, "shards": self.recommended_shards, "session_start_limit": {
            "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": self.max_concurrency}})

    async def _put_commands(self, call: RestCall, app_id: str, guild_id: str | None = None) -> web.Response:
        synced = [{**c, "id": self._command_id(c["name"]), "application_id": app_id, "version": self.new_id(),
                   **({"guild_id": guild_id} if guild_id else {})} for c in call.json or []]
        self.commands[guild_id or "global"] = synced
        return _json(synced)

    async def _typing(self, call: RestCall, channel_id: str) -> web.Response:
        return web.Response(status=204)

    async def _get_channel(self, call: RestCall, channel_id: str) -> web.Response:
        return _json(self.channels[channel_id])

    async def _post_message(self, call: RestCall, channel_id: str) -> web.Response:
        if channel_id not in self.channels:
            return _json({"message": "Unknown Channel", "code": 10003}, status=404)
        body = call.json or {}
        if len(body.get("content") or "") > 2000:
            return _json({"message": "Invalid Form Body", "code": 50035, "errors": {"content": {
                "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}},
                status=400)
        msg = self.message_payload(channel_id, self.bot, body.get("content") or "",
                                   embeds=body.get("embeds") or [], components=body.get("components") or [],
                                   flags=body.get("flags") or 0)
        if ref := body.get("message_reference"):
            msg["message_reference"] = ref
        self._store(msg)
        await self.dispatch("MESSAGE_CREATE", self._gateway_message(msg))  # Discord echoes our own messages
        return _json(msg)

    async def _list_messages(self, call: RestCall, channel_id: str) -> web.Response:
        """A channel's or thread's history, newest first, as Discord pages it (`before`, `limit`)."""
        before = int(call.query.get("before") or 1 << 64)
        limit = int(call.query.get("limit") or 50)
        found = [m for m in self.channel_messages(channel_id) if int(m["id"]) < before]
        return _json(list(reversed(found))[:limit])

    async def person_thread(self, parent_id: str, starter: dict[str, Any], name: str) -> str:
        """A person starts a thread from their message `starter` (the thread's id is the message's)."""
        thread = {"id": starter["id"], "type": 11, "guild_id": self.channels[parent_id]["guild_id"],
                  "parent_id": parent_id, "owner_id": starter["author"]["id"], "name": name,
                  "message_count": 0, "member_count": 1, "rate_limit_per_user": 0, "flags": 0,
                  "total_message_sent": 0, "last_message_id": None,
                  "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                      "archive_timestamp": _now_iso(), "locked": False}}
        self.channels[starter["id"]] = thread
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return str(starter["id"])

    async def _get_message(self, call: RestCall, channel_id: str, message_id: str) -> web.Response:
        msg = self.messages[message_id]
        return _json(msg) if msg["channel_id"] == channel_id else _json({"code": 10008}, status=404)

    async def _patch_message(self, call: RestCall, channel_id: str, message_id: str) -> web.Response:
        msg = self.messages[message_id]
        body = call.json or {}
        if len(body.get("content") or "") > 2000:
            return _json({"message": "Invalid Form Body", "code": 50035}, status=400)
        for key in ("content", "embeds", "components", "flags"):
            if key in body:
                msg[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
        msg["edited_timestamp"] = _now_iso()
        await self.dispatch("MESSAGE_UPDATE", self._gateway_message(msg))
        return _json(msg)

    async def _delete_message(self, call: RestCall, channel_id: str, message_id: str) -> web.Response:
        self.messages.pop(message_id)
        self.message_order.remove(message_id)
        return web.Response(status=204)

    async def _create_thread(self, call: RestCall, channel_id: str, message_id: str) -> web.Response:
        name = (call.json or {}).get("name", "")
        if not 1 <= len(name) <= 100:
            return _json({"message": "Invalid Form Body", "code": 50035}, status=400)
        if message_id in self.channels:
            return _json({"message": "A thread has already been created for this message", "code": 160004},
                         status=400)
        thread = {"id": message_id, "type": 11, "guild_id": self.channels[channel_id]["guild_id"],
                  "parent_id": channel_id,
                  "owner_id": self.bot.id, "name": name, "message_count": 0, "member_count": 1,
                  "rate_limit_per_user": 0, "flags": 0, "total_message_sent": 0, "last_message_id": None,
                  "thread_metadata": {"archived": False, "auto_archive_duration":
                                      (call.json or {}).get("auto_archive_duration", 1440),
                                      "archive_timestamp": _now_iso(), "locked": False}}
        self.channels[message_id] = thread
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return _json(thread)

    async def _callback(self, call: RestCall, inter_id: str, token: str) -> web.Response:
        inter = self.interactions[token]
        body = call.json or {}
        if inter.callbacks:
            return _json({"message": "Interaction has already been acknowledged.", "code": 40060}, status=400)
        inter.callbacks.append(body)
        inter._ack_at = time.monotonic()
        data = body.get("data") or {}
        kind = body.get("type")
        if kind in (6, 7) and "message" in inter.payload:  # a component's message: edits change it
            shown = inter.payload["message"]
            inter.original = self.messages.get(shown["id"]) or dict(shown)
            if kind == 7:
                inter.original.update({k: data[k] for k in ("content", "embeds", "components") if k in data})
        elif kind in (4, 5):  # message, deferred message
            inter.original = self.message_payload(
                inter.payload["channel_id"], self.bot, data.get("content") or "", embeds=data.get("embeds") or [],
                components=data.get("components") or [], flags=data.get("flags") or 0, webhook_id=self.app_id,
                _deferred=kind == 5)
        if call.query.get("with_response") in ("1", "true", "True"):
            out: dict[str, Any] = {"interaction": {"id": inter_id, "type": inter.payload["type"],
                                                   "response_message_loading": kind == 5,
                                                   "response_message_ephemeral": bool((data.get("flags") or 0) & 64)}}
            if inter.original is not None:
                out["interaction"]["response_message_id"] = inter.original["id"]
                out["resource"] = {"type": kind, "message": _public(inter.original)}
            else:
                out["resource"] = {"type": kind}
            return _json(out)
        return web.Response(status=204)

    def _interaction(self, token: str) -> FakeInteraction:
        return self.interactions[token]

    async def _followup(self, call: RestCall, app_id: str, token: str) -> web.Response:
        inter = self._interaction(token)
        body = call.json or {}
        if len(body.get("content") or "") > 2000:
            return _json({"message": "Invalid Form Body", "code": 50035}, status=400)
        msg = self.message_payload(inter.payload["channel_id"], self.bot, body.get("content") or "",
                                   embeds=body.get("embeds") or [], components=body.get("components") or [],
                                   flags=body.get("flags") or 0, webhook_id=app_id)
        inter.followups.append(msg)
        return _json(msg)

    async def _get_webhook_message(self, call: RestCall, app_id: str, token: str, mid: str) -> web.Response:
        inter = self._interaction(token)
        msg = inter.original if mid == "@original" else next(m for m in inter.followups if m["id"] == mid)
        if msg is None:
            raise KeyError(mid)
        return _json(_public(msg))

    async def _edit_webhook_message(self, call: RestCall, app_id: str, token: str, mid: str) -> web.Response:
        inter = self._interaction(token)
        msg = inter.original if mid == "@original" else next(m for m in inter.followups if m["id"] == mid)
        if msg is None:
            raise KeyError(mid)
        body = call.json or {}
        for key in ("content", "embeds", "components"):
            if key in body:
                msg[key] = body[key]
        msg["_deferred"] = False
        return _json(_public(msg))


def _public(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if not k.startswith("_")}


def _option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


async def _multipart_json(request: web.Request) -> Any:
    """The `payload_json` part of a multipart request (messages with files)."""
    reader = await request.multipart()
    payload: Any = None
    while (part := await reader.next()) is not None:
        if getattr(part, "name", None) == "payload_json":
            payload = json.loads(await part.text())  # type: ignore[union-attr]
    return payload
