"""A fake Groq API on 127.0.0.1 that speaks the real wire format, for driving the real groq SDK in tests.

It serves Groq's paths (`/openai/v1/chat/completions`, `/openai/v1/models`) and, so one fake can also
play an OpenAI-compatible server such as Ollama or vLLM, the same under `/v1/...`.

Replies are deterministic from the input so tests can prove the flow of a run::

    "<model> says: <last user message> [saw <n> answers]"

where n counts the numbered earlier answers ("1. …", "2. …") in the system prompt. A request ending with
an assistant message (prefill) is continued: the reply without that opening, when it starts with it.

Usage::

    async with FakeGroq() as fake:
        fake.latency = 0.2
        fake.fail("openai/gpt-oss-20b", 429, retry_after=0.1)
        client = AsyncGroq(api_key="gsk_test", base_url=fake.base_url)
        ...
        assert not fake.running          # no call still in flight

Groq's rate limits, per model (`fake.limit(model, tpm=8000, rpm=30, window_s=6)`; "*" for every model):
a request counts its prompt plus the `max_tokens` it asks for against a sliding window (`window_s`, 60 s
like Groq's minute unless a test shrinks it); one that can never fit gets 413 "Request too large … on
tokens per minute (TPM): Limit L, Requested R", one that does not fit now 429 "… (TPM): Limit L, Used
U, Requested R. Please try again in 5.289s." with `retry-after`. Every response to a limited model
carries Groq's `x-ratelimit-*` headers (requests per day, tokens per window; resets like `7.66s`).
Prefix caching as Groq documents it (`fake.prefix_cache = True`): the longest run of leading role-tagged
messages a call shares with a recent request (`cache_ttl_s`) to the same model is cached, rounded down
to whole `cache_block_tokens`; it is reported as `usage.prompt_tokens_details.cached_tokens` (streamed:
in x_groq.usage) and not counted against tokens per minute. With `cut_at_max_tokens` (as Groq does;
off by default so tests with long made-up replies keep them whole) replies are cut at the call's
`max_tokens` (reasoning counts) with `finish_reason: "length"`.
Faults by share, from a seeded random generator: `error_share` of calls answer `error_status` (a 500
storm), `straggler_share` of calls take `straggler_factor` × their latency.

Reasoning, so stripping can be tested:
- models whose id contains "gpt-oss" put reasoning in `message.reasoning` / `delta.reasoning`
  (unless the request says `include_reasoning: false` or `reasoning_format: "hidden"`);
- models whose id contains "qwen" put `<think>…</think>` at the start of the content unless the request
  asks `reasoning_format: "hidden"` (nothing) or `"parsed"` (separate `reasoning` field);
- models in `think_in_content` always put `<think>…</think>` in the content (Ollama / vLLM style).
Every reasoning text contains `REASONING_MARK`, so a test can assert it never travels further.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from moa.messages.prompts import ANSWERS_BREAK
from tests.fakes.local import Changes, serve

T = TypeVar("T")

REASONING_MARK = "SECRET-REASONING"
DEFAULT_MODELS = ["openai/gpt-oss-120b", "openai/gpt-oss-20b", "qwen/qwen3.8-27b"]

_NUMBERED = re.compile(r"^\s*\d+\.\s", re.MULTILINE)

_ERRORS: dict[int, tuple[str, str, str]] = {
    # status: (type, code, message)
    400: ("invalid_request_error", "bad_request", "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Invalid API Key"),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    408: ("server_error", "timeout", "Request timed out."),
    413: ("invalid_request_error", "request_too_large",
          "Request too large for model: Limit 8000, Requested 12000, please reduce your message size and "
          "try again."),
    429: ("tokens", "rate_limit_exceeded",
          "Rate limit reached for model in organization on tokens per minute (TPM). Please try again later."),
    498: ("server_error", "flex_tier_capacity_exceeded",
          "The flex tier is at capacity, please try again later."),
    500: ("internal_server_error", "internal_server_error", "Internal Server Error"),
    502: ("server_error", "bad_gateway", "Bad Gateway"),
    503: ("server_error", "service_unavailable", "Service Unavailable: the model is over capacity."),
}


@dataclass
class FakeCall:
    """One request the fake received."""

    path: str
    model: str
    messages: list[dict[str, Any]]
    stream: bool
    temperature: float | None
    max_tokens: int | None
    body: dict[str, Any]
    headers: dict[str, str]
    started: float  # time.monotonic()
    ended: float | None = None
    status: int | None = None
    cancelled: bool = False  # the client dropped the connection before the reply was complete
    reply_text: str = ""
    first_chunk_at: float | None = None  # streaming: when the first content delta was sent
    sent_headers: dict[str, str] | None = None  # what `send_headers` / `fail(headers=…)` added to the reply
    usage: dict[str, Any] | None = None  # what the reply reported (reasoning counts as completion)
    requested_tokens: int | None = None  # what it counted against a token limit (prompt + max_tokens)
    cached_tokens: int = 0  # prompt tokens served from the prefix cache (not counted against a limit)
    finish_reason: str = "stop"  # "length" when the reply was cut at max_tokens
    straggler: bool = False  # made slow on purpose (`straggler_share`)
    first_word_at: float | None = None  # word timing: when its first word was ready (streamed or not)
    extra_delay: float = 0.0  # added on purpose (`delay`)
    served_at: float | None = None  # when the server began working on it (a serial server queues calls)

    @property
    def provider(self) -> str:
        """"groq" for /openai/v1/..., "openai" for the OpenAI-compatible /v1/... paths."""
        return "groq" if self.path.startswith("/openai/") else "openai"

    @property
    def instruction(self) -> str:
        """The system messages: the agent's own instruction (classic: with the earlier answers in it)."""
        return "\n".join(str(m.get("content", "")) for m in self.messages if m.get("role") == "system")

    @property
    def system(self) -> str:
        """The agent's instruction and the earlier answers it was shown, wherever the layout put them
        (instruction_first: after `ANSWERS_BREAK` in the last user message), as a model reads them."""
        shown = self._last_user().partition(ANSWERS_BREAK)[2]
        return f"{self.instruction}\n\n{shown}" if shown else self.instruction

    @property
    def question(self) -> str:
        return self._last_user().partition(ANSWERS_BREAK)[0]

    def _last_user(self) -> str:
        users = [m for m in self.messages if m.get("role") == "user"]
        content = users[-1].get("content", "") if users else ""
        if isinstance(content, list):  # text and image parts: the text is what a layout arranges
            return "\n".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
        return str(content)

    @property
    def seen_answers(self) -> int:
        return len(_NUMBERED.findall(self.system))

    @property
    def reasoning_format(self) -> str | None:
        return self.body.get("reasoning_format")

    @property
    def retry_count(self) -> int:
        return int(self.headers.get("x-stainless-retry-count", "0") or 0)

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


@dataclass
class _Failure:
    status: int
    retry_after: float | None
    code: str | None
    message: str | None = None
    headers: dict[str, str] | None = None


@dataclass
class RateLimit:
    """One model's limits, as Groq applies them per organisation."""

    tpm: int | None = None  # tokens per window: prompt + max_tokens of each request
    rpm: int | None = None  # requests per window
    rpd: int = 14_400  # requests per day (headers only: a "day" is 1440 windows)
    window_s: float = 60.0
    sent: deque[tuple[float, int]] = field(default_factory=deque)  # (time, tokens) in the window
    day: int = 0  # requests counted today

    def prune(self, now: float) -> None:
        while self.sent and self.sent[0][0] + self.window_s <= now:
            self.sent.popleft()

    def used_tokens(self) -> int:
        return sum(n for _, n in self.sent)

    def wait_until_fits(self, tokens: int, requests: int, now: float) -> float:
        """Seconds until `tokens` more tokens and `requests` more requests fit in the window."""
        entries = list(self.sent)
        for i in range(len(entries) + 1):
            live = entries[i:]
            fits_tokens = self.tpm is None or sum(n for _, n in live) + tokens <= self.tpm
            fits_requests = self.rpm is None or len(live) + requests <= self.rpm
            if fits_tokens and fits_requests:
                return 0.0 if i == 0 else entries[i - 1][0] + self.window_s - now
        return self.window_s

    def headers(self, now: float) -> dict[str, str]:
        self.prune(now)
        day_s = self.window_s * 1440
        headers = {
            "x-ratelimit-limit-requests": str(self.rpd),
            "x-ratelimit-remaining-requests": str(max(0, self.rpd - self.day)),
            "x-ratelimit-reset-requests": _duration(self.day * day_s / self.rpd),
        }
        if self.tpm is not None:
            newest = self.sent[-1][0] if self.sent else now - self.window_s
            headers.update({
                "x-ratelimit-limit-tokens": str(self.tpm),
                "x-ratelimit-remaining-tokens": str(max(0, self.tpm - self.used_tokens())),
                "x-ratelimit-reset-tokens": _duration(max(0.0, newest + self.window_s - now)),
            })
        return headers


def _duration(seconds: float) -> str:
    """Groq's way of writing a reset: "7.66s", "2m59.56s"."""
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.2f}s" if minutes else f"{rest:.2f}s"


def default_reply(call: FakeCall) -> str:
    return f"{call.model} says: {call.question} [saw {call.seen_answers} answers]"


_FAKE_ANSWER = re.compile(r"the answer is \*\*(.+?)\*\*\.", re.IGNORECASE)


@dataclass(frozen=True)
class GradedReply:
    """One graded answer the fake gave: `shown` earlier answers it was shown, the value, right or not."""

    model: str
    question: str
    shown: int
    stream: bool
    value: str
    right: bool


@dataclass
class GradedQuestions:
    """Graded-question mode: set `fake.reply = graded.reply`.

    A call that was shown no earlier answers answers right at its model's rate (`rates`, else
    `default_rate`), decided by a hash of the model, the question and its system prompt, so the same
    call always answers the same; a wrong answer first mentions the right one ("At first I got 72, but
    …"), as real wrong answers do. A call shown earlier answers gives their majority (ties: the first
    seen). Every graded answer is logged in `log`; questions it does not know get `default_reply`.
    """

    answers: dict[str, str]  # question text → the right answer
    rates: dict[str, float] = field(default_factory=dict)
    default_rate: float = 0.5
    log: list[GradedReply] = field(default_factory=list)

    def reply(self, call: FakeCall) -> str:
        expected = self.answers.get(call.question)
        if expected is None:
            return default_reply(call)
        shown = [m.group(1) for m in (_last_answer(part) for part in _shown_answers(call.system)) if m]
        if shown:
            value = max(dict.fromkeys(shown), key=shown.count)  # the majority; a tie goes to the first seen
        else:
            digest = hashlib.sha256(f"{call.model}\n{call.question}\n{call.system}".encode()).digest()
            draw = int.from_bytes(digest[:8], "big") / 2 ** 64
            value = expected if draw < self.rates.get(call.model, self.default_rate) else _wrong(expected, digest[8])
        right = value == expected
        self.log.append(GradedReply(call.model, call.question, len(shown), call.stream, value, right))
        if shown:
            return f"Most of the answers agree. The answer is **{value}**."
        if right:
            return f"Working through it step by step, the answer is **{value}**."
        return f"At first I got {expected}, but on a second look the answer is **{value}**."

    def is_right(self, call: FakeCall) -> bool | None:
        """Whether the reply the fake gave `call` was right; None for a question it does not grade."""
        expected = self.answers.get(call.question)
        found = _last_answer(call.reply_text)
        return None if expected is None or found is None else found.group(1) == expected

    def right_count(self, model: str, *, shown: bool, stream: bool = True) -> int:
        """How many of `model`'s graded answers were right: aggregators (shown answers) or lone calls."""
        return sum(1 for r in self.log if r.model == model and (r.shown > 0) == shown and r.stream == stream
                   and r.right)


def _shown_answers(system: str) -> list[str]:
    """The numbered earlier answers in a system prompt ("1. …", "2. …")."""
    parts = re.split(r"^\s*\d+\.\s", system, flags=re.MULTILINE)
    return parts[1:]


def _last_answer(text: str) -> re.Match[str] | None:
    found = list(_FAKE_ANSWER.finditer(text))
    return found[-1] if found else None


def _wrong(expected: str, salt: int) -> str:
    """A wrong answer of the same shape: another number, the other of yes/no, another letter."""
    if expected.lower() in ("yes", "no"):
        return "no" if expected.lower() == "yes" else "yes"
    if re.fullmatch(r"[A-J]", expected):
        return "ABCDEFGHIJ"[("ABCDEFGHIJ".index(expected) + 1 + salt % 3) % 10]
    try:
        number = float(expected)
    except ValueError:
        return "none of them"
    wrong = number + 1 + salt % 3
    return str(int(wrong)) if wrong == int(wrong) else f"{wrong:g}"

def _tagged(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(m.get("role", "")), str(m.get("content", ""))) for m in messages]


def _count_tokens(text: str) -> int:
    return max(1, len(text.split())) if text else 0


@dataclass
class FakeGroq:
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    decommissioned: set[str] = field(default_factory=set)
    latency: float = 0.0
    latency_by_model: dict[str, float] = field(default_factory=dict)
    think_in_content: set[str] = field(default_factory=set)
    api_key: str | None = None  # when set, Groq paths demand "Authorization: Bearer <api_key>"
    chunk_chars: int = 8  # streamed content arrives in pieces of about this many characters
    first_chunk_fraction: float = 0.5  # streaming: share of the latency before the first content delta
    reply: Callable[[FakeCall], str] = default_reply
    calls: list[FakeCall] = field(default_factory=list)
    error_share: float = 0.0  # share of calls that answer `error_status` (a storm)
    error_status: int = 500
    straggler_share: float = 0.0  # share of calls that take `straggler_factor` × their latency
    straggler_factor: float = 6.0
    straggle_streams: bool = True  # False: only non-streamed (proposer) calls straggle
    seed: int = 7
    # Model-like timing (`first_token_s` set): the first word after `first_token_s`, then one word every
    # `word_s`, streamed word by word; a non-streamed call answers after its last word. Replaces `latency`.
    first_token_s: float | None = None
    word_s: float = 0.0
    prefix_cache: bool = False  # Groq's automatic prefix caching (see the module docstring)
    cache_block_tokens: int = 1  # cached prefixes count in whole blocks of this many tokens
    cache_ttl_s: float = 120.0  # how long a request's prefix stays cached
    cut_at_max_tokens: bool = False  # cut replies at max_tokens with finish_reason "length", as Groq does
    # Local mode (a llama.cpp / Ollama server on one CPU): see `FakeGroq.local`.
    serial: bool = False  # answer one chat request at a time; the others queue, first come first served
    usage_mode: str = "on_request"  # "on_request": streamed usage only with stream_options.include_usage;
    #                                 "never": streamed replies never carry usage (non-streamed ones do)
    frozen: bool = False  # accept every chat call and never answer it (not even headers)
    reported_usage: dict[str, Any] | None = None  # reported instead of the count: a provider that gets usage wrong

    def __post_init__(self) -> None:
        self._failures: dict[str, list[_Failure]] = {}
        self._sent_headers: dict[str, list[dict[str, str]]] = {}
        self._limits: dict[str, RateLimit] = {}
        self._delays: dict[str, list[float]] = {}
        self._random = random.Random(self.seed)
        self._runner: web.AppRunner | None = None
        # Re-checked now and then too: a test may wait on state the fake is not told about.
        self._changes = Changes("fake Groq", lambda: repr(self.calls), recheck_s=0.05)
        self.base_url = ""
        self.port = 0
        self.models_requests = 0  # GET …/models served
        self._cache: dict[str, list[tuple[float, list[tuple[str, str]]]]] = {}  # model -> recent prompts
        self._turn = asyncio.Lock()  # the serial server's one slot
        self._held: asyncio.Event | None = None  # set by hold(): chat calls wait on it before being answered
        self._stall: tuple[set[str], int, asyncio.Event] | None = None  # set by stall()

    @classmethod
    def local(cls, models: list[str] | None = None, *, latency: float = 0.0, usage_mode: str = "on_request",
              **kwargs: Any) -> FakeGroq:
        """An OpenAI-compatible server as a self-hoster runs one: one request at a time, no rate-limit
        headers, usage streamed only when asked (or, with usage_mode="never", not at all). Use its
        `openai_base_url` as a declared provider."""
        return cls(models=list(models or ["tiny"]), latency=latency, serial=True, usage_mode=usage_mode,
                   **kwargs)

    @property
    def busy(self) -> list[FakeCall]:
        """Calls the server is working on (a serial server: at most one)."""
        return [c for c in self.running if c.served_at is not None]

    # ---- control -------------------------------------------------------------------------------
    def fail(self, model: str, status: int, times: int = 1, retry_after: float | None = None,
             code: str | None = None, message: str | None = None, headers: dict[str, str] | None = None) -> None:
        """Make the next `times` calls to `model` ("*" for any model) answer `status` (with `headers`).

        Status 0 means: accept the request, then drop the connection without answering.
        """
        self._failures.setdefault(model, []).extend(
            _Failure(status, retry_after, code, message, headers) for _ in range(times))

    def send_headers(self, model: str, headers: dict[str, str], times: int = 1) -> None:
        """Add `headers` (over any rate-limit headers) to the next `times` answered calls to `model` ("*": any)."""
        self._sent_headers.setdefault(model, []).extend(dict(headers) for _ in range(times))

    def delay(self, model: str, seconds: float, times: int = 1) -> None:
        """Make the next `times` answered calls to `model` take `seconds` longer (a straggler)."""
        self._delays.setdefault(model, []).extend([seconds] * times)

    def stall(self, models: set[str], after_words: int) -> None:
        """Streamed replies of `models` stop after `after_words` words of content until `unstall()`: a test
        can look at what happens while those answers are still being written."""
        self._stall = (set(models), after_words, asyncio.Event())

    def unstall(self) -> None:
        if self._stall is not None:
            self._stall[2].set()
            self._stall = None

    def hold(self) -> None:
        """Accept chat calls but answer none until `release()`: a test can look at what happens while every
        call is in flight, with no answer able to overtake it."""
        if self._held is None:
            self._held = asyncio.Event()

    def release(self) -> None:
        """Answer the calls `hold()` kept waiting, and every call after them as usual."""
        if self._held is not None:
            self._held.set()
            self._held = None

    def limit(self, model: str = "*", *, tpm: int | None = None, rpm: int | None = None,
              window_s: float = 60.0, rpd: int = 14_400) -> None:
        """Give `model` ("*": every model without its own) Groq's per-window limits."""
        self._limits[model] = RateLimit(tpm=tpm, rpm=rpm, rpd=rpd, window_s=window_s)

    def _limit_of(self, model: str) -> RateLimit | None:
        if model in self._limits:
            return self._limits[model]
        if "*" in self._limits:  # each model gets its own window, with the shared numbers
            shared = self._limits["*"]
            self._limits[model] = RateLimit(tpm=shared.tpm, rpm=shared.rpm, rpd=shared.rpd,
                                            window_s=shared.window_s)
            return self._limits[model]
        return None

    def calls_to(self, model: str) -> list[FakeCall]:
        return [c for c in self.calls if c.model == model]

    @property
    def running(self) -> list[FakeCall]:
        """Calls started but not yet ended (neither answered nor dropped)."""
        return [c for c in self.calls if c.ended is None]

    @property
    def openai_base_url(self) -> str:
        """Base URL for an OpenAI-compatible client (…/v1)."""
        return f"{self.base_url}/v1"

    async def wait_for(self, predicate: Callable[[FakeGroq], T], timeout: float = 5.0) -> T:
        """Wait until `predicate(self)` holds (checked whenever a call starts or ends)."""
        return await self._changes.wait_for(lambda: predicate(self), timeout)

    async def _notify(self) -> None:
        await self._changes.notify()

    # ---- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> FakeGroq:
        app = web.Application()
        for prefix in ("/openai/v1", "/v1"):
            app.router.add_post(f"{prefix}/chat/completions", self._chat)
            app.router.add_get(f"{prefix}/models", self._models)
            app.router.add_get(f"{prefix}/models/{{model:.+}}", self._model)
        app.router.add_get("/_fake/calls", self._dump_calls)
        app.router.add_post("/_fake/reset", self._reset)
        self._runner, self.port = await serve(app, handler_cancellation=True)
        self.base_url = f"http://127.0.0.1:{self.port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeGroq:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- handlers -------------------------------------------------------------------------------
    async def _dump_calls(self, request: web.Request) -> web.Response:
        """The recorded calls as JSON, for a fake run in another process (see `main`)."""
        return web.json_response([
            {"model": c.model, "stream": c.stream, "started": c.started, "ended": c.ended, "status": c.status,
             "path": c.path, "seen_answers": c.seen_answers, "first_chunk_at": c.first_chunk_at,
             "first_word_at": c.first_word_at}
            for c in self.calls])

    async def _reset(self, request: web.Request) -> web.Response:
        self.calls.clear()
        return web.json_response({"ok": True})

    def _auth_error(self, request: web.Request) -> web.Response | None:
        if self.api_key is None or not request.path.startswith("/openai/"):
            return None
        if request.headers.get("Authorization", "") != f"Bearer {self.api_key}":
            return _error(401)
        return None

    async def _models(self, request: web.Request) -> web.Response:
        self.models_requests += 1
        if (err := self._auth_error(request)) is not None:
            return err
        data = [_model_obj(m) for m in self.models if m not in self.decommissioned]
        return web.json_response({"object": "list", "data": data})

    async def _model(self, request: web.Request) -> web.Response:
        model = request.match_info["model"]
        if model not in self.models or model in self.decommissioned:
            return _error(404, message=f"The model `{model}` does not exist or you do not have access to it.")
        return web.json_response(_model_obj(model))

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        call = FakeCall(
            path=request.path, model=str(body.get("model", "")), messages=list(body.get("messages") or []),
            stream=bool(body.get("stream")), temperature=body.get("temperature"),
            max_tokens=body.get("max_completion_tokens", body.get("max_tokens")), body=body,
            headers={k.lower(): v for k, v in request.headers.items()}, started=time.monotonic(),
        )
        self.calls.append(call)
        await self._notify()
        try:
            response = await self._served(request, call)
        except (asyncio.CancelledError, ConnectionResetError):
            call.cancelled = True
            if call.status in (None, 200):
                call.status = 499
            call.ended = time.monotonic()
            asyncio.get_running_loop().create_task(self._notify())  # not awaited: we are being cancelled
            raise
        call.ended = time.monotonic()
        await self._notify()
        return response

    async def _served(self, request: web.Request, call: FakeCall) -> web.StreamResponse:
        """The answer, once the server has a slot for it (a serial server: when the one before is done)."""
        if self.frozen:
            await asyncio.Event().wait()  # accepted, never answered: only the client giving up ends it
        if self._held is not None:
            await self._held.wait()
        if not self.serial:
            call.served_at = time.monotonic()
            return await self._answer(request, call)
        async with self._turn:
            call.served_at = time.monotonic()
            await self._notify()
            return await self._answer(request, call)

    async def _answer(self, request: web.Request, call: FakeCall) -> web.StreamResponse:
        if (err := self._auth_error(request)) is not None:
            call.status = 401
            return err
        model = call.model
        queue = self._failures.get(model) or self._failures.get("*")
        if queue:
            failure = queue.pop(0)
            await asyncio.sleep(min(self._latency(model), 0.05))
            if failure.status == 0:  # drop the connection
                call.status = 0
                assert request.transport is not None
                request.transport.close()
                raise ConnectionResetError("fake Groq dropped the connection")
            call.status, call.sent_headers = failure.status, failure.headers
            return _error(failure.status, code=failure.code, message=failure.message,
                          retry_after=failure.retry_after, headers=failure.headers)
        if model in self.decommissioned:
            call.status = 400
            return _error(400, code="model_decommissioned", message=(
                f"The model `{model}` has been decommissioned and is no longer supported. Please refer to "
                "https://console.groq.com/docs/deprecations for a recommendation on which model to use "
                "instead."))
        if model not in self.models:
            call.status = 404
            return _error(404, message=f"The model `{model}` does not exist or you do not have access to it.")
        if self.error_share and self._random.random() < self.error_share:
            await asyncio.sleep(min(self._latency(model), 0.05))
            call.status = self.error_status
            return _error(self.error_status)
        call.cached_tokens = self._cached_prefix(call)
        limit = self._limit_of(model)
        limit_headers: dict[str, str] = {}
        if limit is not None:
            refused = self._admit(call, limit)
            if refused is not None:
                return refused
            limit_headers = limit.headers(time.monotonic())
        if extra := self._sent_headers.get(model) or self._sent_headers.get("*"):
            call.sent_headers = extra.pop(0)
            limit_headers = {**limit_headers, **call.sent_headers}
        if self.straggler_share and (self.straggle_streams or not call.stream) \
                and self._random.random() < self.straggler_share:
            call.straggler = True
        if self._delays.get(model):
            call.extra_delay = self._delays[model].pop(0)

        self._remember_prefix(call)
        text = self.reply(call)
        last = call.messages[-1] if call.messages else {}
        if last.get("role") == "assistant":  # a reply to continue (prefill): answer only the rest of it
            opening = str(last.get("content", ""))
            text = text[len(opening):] if text.startswith(opening) else text
        call.reply_text = text
        reasoning, content = self._reasoning(call, text)
        reasoning, content = self._cut(call, reasoning, content)
        prompt_tokens = sum(_count_tokens(str(m.get("content", ""))) for m in call.messages)
        completion_tokens = _count_tokens(content) + _count_tokens(reasoning or "")
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens, "queue_time": 0.001,
                 "prompt_time": 0.001, "completion_time": 0.01, "total_time": 0.011}
        if self.prefix_cache:
            usage["prompt_tokens_details"] = {"cached_tokens": call.cached_tokens}
        if self.reported_usage is not None:
            usage = dict(self.reported_usage)
        call.usage = usage
        request_id = f"req_{uuid.uuid4().hex[:26]}"
        if call.stream:
            return await self._stream(request, call, content, reasoning, usage, request_id, limit_headers)
        if self.first_token_s is not None:
            first_s, word_s = self._word_timing(call)
            call.first_word_at = time.monotonic() + first_s
            await asyncio.sleep(first_s + word_s * _count_tokens(" ".join(filter(None, (reasoning, content)))))
        else:
            await asyncio.sleep(self._call_latency(call))
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reasoning is not None:
            message["reasoning"] = reasoning
        call.status = 200
        return web.json_response({
            "id": f"chatcmpl-{uuid.uuid4()}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": call.finish_reason}],
            "usage": usage, "x_groq": {"id": request_id},
        }, headers=limit_headers)

    def _admit(self, call: FakeCall, limit: RateLimit) -> web.Response | None:
        """Count the request against the model's window, or refuse it (413 / 429) as Groq does."""
        now = time.monotonic()
        limit.prune(now)
        requested = (sum(_count_tokens(str(m.get("content", ""))) for m in call.messages) - call.cached_tokens
                     + (call.max_tokens or 0))
        call.requested_tokens = requested
        where = f"for model `{call.model}` in organization `org_fake` service tier `on_demand`"
        if limit.tpm is not None and requested > limit.tpm:
            call.status = 413
            return _error(413, message=(
                f"Request too large {where} on tokens per minute (TPM): Limit {limit.tpm}, Requested "
                f"{requested}, please reduce your message size and try again."), headers=limit.headers(now))
        wait = limit.wait_until_fits(requested, 1, now)
        if wait > 0:
            call.status = 429
            used = limit.used_tokens()
            if limit.tpm is not None and used + requested > limit.tpm:
                what = f"tokens per minute (TPM): Limit {limit.tpm}, Used {used}, Requested {requested}"
            else:
                what = f"requests per minute (RPM): Limit {limit.rpm}, Used {len(limit.sent)}, Requested 1"
            return _error(429, message=f"Rate limit reached {where} on {what}. Please try again in {wait:.3f}s.",
                          retry_after=float(math.ceil(wait)), headers=limit.headers(now))
        limit.sent.append((now, requested))
        limit.day += 1
        return None

    def _cached_prefix(self, call: FakeCall) -> int:
        """Tokens of the longest leading run of whole messages shared with a recent request to the model,
        rounded down to whole cache blocks (0 when caching is off)."""
        if not self.prefix_cache:
            return 0
        now = time.monotonic()
        recent = self._cache.get(call.model, [])
        recent[:] = [(t, p) for t, p in recent if t + self.cache_ttl_s > now]
        mine = _tagged(call.messages)
        best = 0
        for _, prompt in recent:
            shared = 0
            for ours, theirs in zip(mine, prompt, strict=False):
                if ours != theirs:
                    break
                shared += _count_tokens(ours[1])
            best = max(best, shared)
        block = max(1, self.cache_block_tokens)
        return best // block * block

    def _remember_prefix(self, call: FakeCall) -> None:
        if self.prefix_cache:
            self._cache.setdefault(call.model, []).append((time.monotonic(), _tagged(call.messages)))

    def _cut(self, call: FakeCall, reasoning: str | None, content: str) -> tuple[str | None, str]:
        """Cut the reply at the call's max_tokens (reasoning first, as a model writes it)."""
        if call.max_tokens is None or not self.cut_at_max_tokens:
            return reasoning, content
        room = call.max_tokens - _count_tokens(reasoning or "")
        if room < 0:
            call.finish_reason = "length"
            return " ".join((reasoning or "").split()[:call.max_tokens]), ""
        words = content.split()
        if len(words) <= room:
            return reasoning, content
        call.finish_reason = "length"
        return reasoning, " ".join(words[:room])

    def _call_latency(self, call: FakeCall) -> float:
        latency = self._latency(call.model)
        return (latency * self.straggler_factor if call.straggler else latency) + call.extra_delay

    def _word_timing(self, call: FakeCall) -> tuple[float, float]:
        """(seconds to the first word, seconds per word) of a call under word timing; a straggler is
        `straggler_factor` × slower throughout, a `delay` comes before the first word."""
        scale = self.straggler_factor if call.straggler else 1.0
        return (self.first_token_s or 0.0) * scale + call.extra_delay, self.word_s * scale

    def _latency(self, model: str) -> float:
        return self.latency_by_model.get(model, self.latency)

    def _reasoning(self, call: FakeCall, text: str) -> tuple[str | None, str]:
        """(separate reasoning or None, content) for this model and request."""
        thought = f"Let me think about {call.question!r}. {REASONING_MARK}"
        fmt = call.reasoning_format
        model = call.model
        if model in self.think_in_content:
            return None, f"<think>\n{thought}\n</think>\n\n{text}"
        if "gpt-oss" in model:
            if call.body.get("include_reasoning") is False or fmt == "hidden":
                return None, text
            return thought, text
        if "qwen" in model:
            if fmt == "hidden":
                return None, text
            if fmt == "parsed":
                return thought, text
            return None, f"<think>\n{thought}\n</think>\n\n{text}"
        return None, text

    async def _stream(self, request: web.Request, call: FakeCall, content: str, reasoning: str | None,
                      usage: dict[str, Any], request_id: str,
                      limit_headers: dict[str, str]) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        latency = self._call_latency(call)
        response = web.StreamResponse(status=200, headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "x-request-id": request_id,
            **limit_headers})
        await response.prepare(request)
        call.status = 200
        chunk_id = f"chatcmpl-{uuid.uuid4()}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            data = {"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                    "model": call.model, "system_fingerprint": "fp_fake",
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
                    **extra}
            return f"data: {json.dumps(data)}\n\n".encode()

        await response.write(chunk({"role": "assistant", "content": ""}, x_groq={"id": request_id}))
        pieces: list[tuple[str, str]] = []
        if reasoning:
            pieces += [("reasoning", p) for p in _split(reasoning, self.chunk_chars)]
        pieces += [("content", p) for p in _split(content, self.chunk_chars)]
        first_at = t0 + latency * self.first_chunk_fraction
        step = (t0 + latency - first_at) / max(1, len(pieces))
        if self.first_token_s is not None:  # word timing: one word per piece
            pieces = [(kind, w) for kind, text in (("reasoning", reasoning or ""), ("content", content))
                      for w in _words(text)]
            first_s, step = self._word_timing(call)
            first_at = t0 + first_s
            latency = first_s + step * len(pieces)
        written = ""
        for i, (kind, piece) in enumerate(pieces):
            stall = self._stall
            if stall is not None and call.model in stall[0] and len(written.split()) >= stall[1]:
                await stall[2].wait()
                late = max(0.0, loop.time() - (first_at + i * step))  # the rest comes at the usual pace
                t0, first_at = t0 + late, first_at + late
            if kind == "content":
                written += piece
            await _sleep_until(loop, first_at + i * step)
            if kind == "content" and call.first_chunk_at is None:
                call.first_chunk_at = time.monotonic()
            if call.first_word_at is None:
                call.first_word_at = time.monotonic()
            await response.write(chunk({kind: piece}))
        await _sleep_until(loop, t0 + latency)
        final_extra: dict[str, Any] = {"x_groq": {"id": request_id, "usage": usage}}
        stream_options = call.body.get("stream_options") or {}
        if call.provider == "openai":
            final_extra = {}
        await response.write(chunk({}, call.finish_reason, **final_extra))
        if stream_options.get("include_usage") and self.usage_mode != "never":
            tail = {"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                    "model": call.model, "choices": [], "usage": usage}
            await response.write(f"data: {json.dumps(tail)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


async def _sleep_until(loop: asyncio.AbstractEventLoop, when: float) -> None:
    delay = when - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)


def _split(text: str, size: int) -> list[str]:
    if not text:
        return []
    n = max(1, math.ceil(len(text) / max(1, size)))
    return [text[i * size:(i + 1) * size] for i in range(n)]


def _words(text: str) -> list[str]:
    """`text` in words, each with the space after it, so the pieces join back to `text`."""
    return re.findall(r"\s*\S+\s*", text) if text.strip() else []


def _model_obj(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": model.split("/")[0],
            "active": True, "context_window": 131072, "public_apps": None, "max_completion_tokens": 32768}


def _error(status: int, *, code: str | None = None, message: str | None = None,
           retry_after: float | None = None, headers: dict[str, str] | None = None) -> web.Response:
    etype, default_code, default_message = _ERRORS.get(status, ("server_error", "error", f"HTTP {status}"))
    headers = dict(headers or {})
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
    body = {"error": {"message": message or default_message, "type": etype, "code": code or default_code}}
    # x-should-retry would override the SDK's own decision; the real API does not send it.
    return web.json_response(body, status=status, headers=headers)


async def _serve(latency: float, first_token_s: float | None = None, word_s: float = 0.0) -> None:
    import sys

    async with FakeGroq(latency=latency, first_token_s=first_token_s, word_s=word_s) as fake:
        print(fake.base_url, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # serve until stdin closes


def main() -> None:
    """`python -m tests.fakes.groq_server [--latency S | --first-token S --word S]`: print the base URL,
    serve until stdin closes.

    Running the fake in its own process keeps its work off the measured process (bench/)."""
    import argparse

    parser = argparse.ArgumentParser(description="A fake Groq API on 127.0.0.1.")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--first-token", type=float, default=None, help="word timing: seconds to the first word")
    parser.add_argument("--word", type=float, default=0.0, help="word timing: seconds per word")
    args = parser.parse_args()
    asyncio.run(_serve(args.latency, args.first_token, args.word))


if __name__ == "__main__":
    main()
