"""Model calls: Groq through the groq SDK, and OpenAI-compatible endpoints declared by name.

A model id `name:model` goes to the declared provider `name` (Ollama, vLLM, llama.cpp server,
Together…); any other id goes to Groq. Providers are declared with
`MOA_PROVIDERS="ollama=http://127.0.0.1:11434/v1,together=https://api.together.xyz/v1"` and their keys
in `MOA_PROVIDER_<NAME>_API_KEY`; `;parallel=N` after a URL says how many calls that server answers at
once (`moa.calls.capacity`).

Every provider has one shared client (an `AsyncGroq`; for OpenAI-compatible endpoints its low-level
`post("/chat/completions")` against the provider's base URL, so both share one error and streaming
model), with the SDK's own retries switched off: `moa.calls.retry` decides what to do about a failed call
(429 waits, backoff on 5xx / 498 / timeouts, a smaller max_tokens after a 413, missing models), and
`moa.calls.wire` reads the responses and errors.

Reasoning never leaks: `message.reasoning` / `delta.reasoning` are ignored, `<think>…</think>` is
stripped (also across streamed deltas), and Groq's Qwen3 / QwQ / DeepSeek-R1 models are asked for
`reasoning_format="hidden"`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import groq
import httpx
from groq import AsyncGroq
from groq.types import ModelListResponse

from moa import trace
from moa.calls.capacity import ProviderCapacity, parse_options
from moa.calls.counting import estimated_usage
from moa.calls.provider import GROQ, GROQ_KEYS_URL, Provider, key_variable
from moa.calls.reach import listing_failure, provider_label
from moa.calls.retry import (
    CallRetries,
    DropReasoningFormat,
    FailedAttempt,
    GiveUp,
    ModelMissing,
    Retry,
    RetryPolicy,
    ShrinkMaxTokens,
)
from moa.calls.wire import error_message, field, finish_reason, message_content, parse_usage, retry_after_s
from moa.errors import ConfigError, ModelUnavailable, ProviderError
from moa.events import Usage
from moa.messages.prompts import ThinkStripper, strip_reasoning
from moa.messages.tokens import estimate_tokens
from moa.pace.budget import Budget, BudgetWait
from moa.pace.limits import parse_limits
from moa.pace.pacer import Pacer
from moa.pricing import PriceTable

__all__ = [
    "GROQ",
    "GROQ_KEYS_URL",
    "MISSING_GROQ_KEY",
    "Completion",
    "DeclaredProvider",
    "Provider",
    "ProviderRegistry",
    "RetryPolicy",
    "key_variable",
    "parse_providers",
]

MISSING_GROQ_KEY = (
    f"GROQ_API_KEY is not set: create a key at {GROQ_KEYS_URL} and put it in the environment or in .env "
    "as GROQ_API_KEY=gsk_…"
)

_PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_HIDDEN_REASONING = re.compile(r"qwen3|qwq|deepseek-r1", re.IGNORECASE)
# Asks the SDK for the raw response, so the rate-limit headers can be read next to the body.
_RAW_RESPONSE = {"X-Stainless-Raw-Response": "true"}

Messages = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Completion:
    model: str  # as configured (with its provider prefix)
    text: str  # the answer, reasoning removed
    usage: Usage | None
    latency_s: float  # from the first attempt to the answer's end, retries included
    first_token_s: float | None = None  # streamed calls: from start to the first visible delta
    attempts: int = 1
    finish_reason: str | None = None  # "length": the reply stopped at the call's max_tokens
    max_tokens: int | None = None  # what the answering attempt asked for

    @property
    def cut(self) -> bool:
        """True when the reply stopped at its max_tokens rather than where the model ended it."""
        return self.finish_reason == "length"


@dataclass
class _Call:
    """One call across its attempts: what it sends, where it is paced, and what its attempts have told."""

    model: str
    provider: Provider
    body: dict[str, Any]  # the request as the next attempt sends it (a retry may change it)
    budget: Budget
    capacity: ProviderCapacity
    ticket: int
    started: float  # loop time
    deadline: float  # loop time after which no attempt or wait may run
    timeout_s: float  # one attempt's bound (for a stream: the wait for each chunk)
    on_delta: Callable[[str], None] | None
    on_wait: Callable[[BudgetWait], None] | None
    on_sent: Callable[[float], None] | None
    trim_to_fit: bool
    hedge: bool
    attempts: int = 0
    held_s: float = 0.0  # waited for the budget since the last attempt went out
    sent_at: float = 0.0  # when the current attempt went out
    attempt_s: float = 0.0  # the current attempt's time bound
    first_token: float | None = None  # when the first visible delta came

    def delta(self, piece: str) -> None:
        if self.first_token is None:
            self.first_token = asyncio.get_running_loop().time()
        assert self.on_delta is not None
        self.on_delta(piece)


@dataclass(frozen=True)
class DeclaredProvider:
    """One MOA_PROVIDERS entry: where the server is, and how many calls it answers at once if declared."""

    url: str
    parallel: int | None = None  # `;parallel=N` after the URL (None: not declared)


def parse_providers(spec: str) -> dict[str, DeclaredProvider]:
    """`"ollama=http://…/v1;parallel=2,together=https://…/v1"` → {name: DeclaredProvider}; ConfigError
    names the bad part."""
    out: dict[str, DeclaredProvider] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, url = part.partition("=")
        url, _, options = url.partition(";")
        name, url = name.strip().lower(), url.strip().rstrip("/")
        parallel = parse_options(name, options)
        if not sep or not url:
            raise ConfigError(f"MOA_PROVIDERS entry {part!r} must look like name=http://host:port/v1.")
        if not _PROVIDER_NAME.match(name) or name == GROQ:
            raise ConfigError(f"MOA_PROVIDERS name {name!r} must be lowercase letters, digits, - or _ "
                              "(and not \"groq\", which is built in).")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"MOA_PROVIDERS URL for {name!r} must start with http:// or https://, not {url!r}.")
        out[name] = DeclaredProvider(url, parallel)
    return out


class ProviderRegistry:
    """The model providers of one process, their shared clients, retry policy and cached model list."""

    def __init__(self, *, groq_api_key: str | None, groq_base_url: str | None = None,
                 providers: Mapping[str, tuple[str, str | None]] | None = None,
                 call_timeout_s: float = 60.0, deadline_s: float = 300.0,
                 retry: RetryPolicy | None = None, models_ttl_s: float = 300.0,
                 transport: str = "auto", pacer: Pacer | None = None,
                 parallel: Mapping[str, int] | None = None, prices: PriceTable | None = None) -> None:
        """`transport`: "aiohttp" (the SDK's aiohttp client, `groq[aiohttp]`), "httpx" (the SDK's
        default) or "auto" (aiohttp when installed)."""
        self.call_timeout_s = call_timeout_s
        self.deadline_s = deadline_s
        self.retry = retry or RetryPolicy()
        self.models_ttl_s = models_ttl_s
        timeout = httpx.Timeout(call_timeout_s, connect=min(10.0, call_timeout_s))
        self._providers: dict[str, Provider] = {}
        if groq_api_key:
            client = AsyncGroq(api_key=groq_api_key, base_url=groq_base_url or None, max_retries=0,
                               timeout=timeout, http_client=_http_client(timeout, transport))
            self._providers[GROQ] = Provider(GROQ, str(client.base_url), client)
        for name, (url, key) in (providers or {}).items():
            headers: dict[str, Any] = {} if key else {"Authorization": groq.omit}
            client = AsyncGroq(api_key=key or "none", base_url=url, max_retries=0, timeout=timeout,
                               default_headers=headers, http_client=_http_client(timeout, transport))
            self._providers[name] = Provider(name, url, client)
        self._declared = set(providers or {})
        # How many calls each provider serves at once (`moa.calls.capacity`): Groq in parallel, the others
        # as declared (`parallel`), else learned.
        self._capacity = {name: ProviderCapacity(name, declared=(parallel or {}).get(name),
                                                 always_parallel=name == GROQ)
                          for name in [GROQ, *self._declared]}
        self._models: dict[str, tuple[float, list[str]]] = {}  # provider -> (fetched at, ids)
        self._models_lock = asyncio.Lock()
        self._no_reasoning_format: set[str] = set()
        self.listing_errors: dict[str, ProviderError] = {}  # why a provider's models could not be listed
        # Every model's rate-limit budget: calls wait here for room instead of bouncing on 429.
        self.pacer = pacer or Pacer()
        self.prices = prices or PriceTable()  # what its calls cost (MOA_PRICES over the built-in table)
        # How the retry policy waits; a test may swap it to observe waits without spending them.
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, call_timeout_s: float = 60.0, deadline_s: float = 300.0,
                 retry: RetryPolicy | None = None) -> ProviderRegistry:
        """GROQ_API_KEY, GROQ_BASE_URL, MOA_PROVIDERS, MOA_PROVIDER_<NAME>_API_KEY, MOA_HTTP_TRANSPORT,
        MOA_LIMITS, MOA_PRICES and (unless `retry` is given) MOA_RETRY_ATTEMPTS / MOA_RETRY_BACKOFF from `env`."""
        declared = parse_providers(env.get("MOA_PROVIDERS", ""))
        providers = {name: (d.url, env.get(key_variable(name), "").strip() or None) for name, d in declared.items()}
        retry = retry if retry is not None else RetryPolicy.from_env(env)
        return cls(groq_api_key=env.get("GROQ_API_KEY", "").strip() or None,
                   groq_base_url=env.get("GROQ_BASE_URL", "").strip() or None,
                   providers=providers, call_timeout_s=call_timeout_s, deadline_s=deadline_s, retry=retry,
                   transport=env.get("MOA_HTTP_TRANSPORT", "auto"),
                   pacer=Pacer(parse_limits(env.get("MOA_LIMITS", ""))),
                   parallel={name: d.parallel for name, d in declared.items() if d.parallel is not None},
                   prices=PriceTable.from_file(env.get("MOA_PRICES", "")))

    # ---- naming -----------------------------------------------------------------------------------
    @property
    def has_groq(self) -> bool:
        return GROQ in self._providers

    @property
    def provider_names(self) -> list[str]:
        return list(self._providers)

    def provider_of(self, model: str) -> str:
        """The provider name a model id routes to ("groq" unless it starts with a declared `name:`)."""
        prefix, sep, _ = model.partition(":")
        if sep and prefix.lower() in self._declared:
            return prefix.lower()
        return GROQ

    def is_groq(self, model: str) -> bool:
        return self.provider_of(model) == GROQ

    def needs_groq_key(self, models: Iterable[str]) -> bool:
        """True when some of `models` go to Groq but no GROQ_API_KEY was given."""
        return not self.has_groq and any(self.is_groq(m) for m in models)

    def capacity(self, model: str) -> ProviderCapacity:
        """The parallelism of the provider `model` routes to."""
        return self._capacity[self.provider_of(model)]

    def resolve(self, model: str) -> tuple[Provider, str]:
        """(provider, the id to send it); ProviderError when its provider is missing."""
        name = self.provider_of(model)
        if name == GROQ:
            prefix, sep, rest = model.partition(":")
            if sep and "/" not in prefix and _PROVIDER_NAME.match(prefix) and not rest.isdigit():
                declared = ", ".join(sorted(self._declared)) or "none"
                raise ModelUnavailable(
                    f"The model {model} names a provider {prefix!r} that is not declared (declared: {declared}); "
                    f"add it to MOA_PROVIDERS, e.g. MOA_PROVIDERS=\"{prefix}=http://127.0.0.1:11434/v1\".",
                    model=model)
            if GROQ not in self._providers:
                raise ProviderError(MISSING_GROQ_KEY, model=model)
            return self._providers[GROQ], model
        return self._providers[name], model.split(":", 1)[1]

    # ---- calls ------------------------------------------------------------------------------------
    async def complete(self, model: str, messages: Messages, *, temperature: float | None = None,
                       max_tokens: int | None = None, on_delta: Callable[[str], None] | None = None,
                       timeout_s: float | None = None, deadline: float | None = None,
                       ticket: int | None = None, on_wait: Callable[[BudgetWait], None] | None = None,
                       on_sent: Callable[[float], None] | None = None, trim_to_fit: bool = False,
                       hedge: bool = False) -> Completion:
        """One chat completion, paced and retried; streams into `on_delta` when given.

        Before each attempt the call waits for room in the model's budget (`moa.pace`), served by
        `ticket` (lower first; one per answer); `on_wait` hears about waits worth telling;
        `on_sent(held_s)` as each attempt goes out, with the seconds it just waited for the budget (a
        layer does not count those against a call). With `trim_to_fit`, a 413 that names the model's
        tokens-per-minute limit raises ProviderError (status 413) for the caller to trim the call (see
        `moa.plan.fitting`) instead of quietly lowering max_tokens. A `hedge` (a second call for a lagging
        one) never waits for the first call to a model to tell its limits. `deadline` is an event-loop
        time (`loop.time()`) after which no attempt or wait may run; `timeout_s` bounds one attempt (for
        a stream: the wait for each chunk). Raises ProviderError (ModelUnavailable for a missing model)
        with a user-facing sentence.
        """
        provider, wire_model = self.resolve(model)
        loop = asyncio.get_running_loop()
        started = loop.time()
        call = _Call(model, provider, self._request_body(provider, wire_model, messages, temperature, max_tokens),
                     self.pacer.budget(model, provider.name), self._capacity[provider.name],
                     ticket if ticket is not None else self.pacer.ticket(), started,
                     deadline if deadline is not None else started + self.deadline_s,
                     timeout_s or self.call_timeout_s, on_delta, on_wait, on_sent, trim_to_fit, hedge)
        retries = CallRetries(self.retry)
        while True:
            spent = await self._go_out(call)
            try:
                text, usage, finish = await self._send(call, spent)
            except (groq.APIError, httpx.HTTPError, TimeoutError) as err:
                await self._after_failure(call, err, spent, retries)
                continue
            if usage is None:  # the server did not count it: estimate, and say so
                usage = estimated_usage(call.body["messages"], text)
            return Completion(model=model, text=text, usage=usage, latency_s=loop.time() - started,
                              first_token_s=(call.first_token - started) if call.first_token is not None else None,
                              attempts=call.attempts, finish_reason=finish, max_tokens=call.body.get("max_tokens"))

    async def _go_out(self, call: _Call) -> tuple[float, int] | None:
        """Pacing around one attempt: room in the model's budget, then a turn on its provider, within the
        deadline; what the budget spent on it (to refund or credit). Raises ProviderError when time runs out."""
        loop = asyncio.get_running_loop()
        model, budget = call.model, call.budget
        wait_t0 = loop.time()
        try:
            spent = await budget.acquire(_cost(call), call.ticket, call.on_wait, call.deadline, hedge=call.hedge)
        except TimeoutError:
            who = "Groq" if call.provider.is_groq else call.provider.name
            raise ProviderError(f"{model} waited for {who}'s rate limit until the run's time limit ran out; "
                                "try again later or use fewer layers or agents.", model=model, status=429) from None
        try:
            await call.capacity.take(call.deadline)  # its turn on a server that answers N at a time
        except TimeoutError:
            budget.attempt_over()
            raise ProviderError(f"{model} waited for its turn on {call.provider.name} until the run's time limit "
                                "ran out; use fewer layers or agents, or a larger parallel= for it.",
                                model=model) from None
        remaining = call.deadline - loop.time()
        if remaining <= 0:
            call.capacity.give_back()
            budget.attempt_over()  # no attempt after all: let another call find out the limits
            raise ProviderError(f"{model} did not answer before the run's time limit ran out.", model=model)
        call.attempts += 1
        call.sent_at = loop.time()
        if call.on_sent is not None:
            call.on_sent(call.held_s + call.sent_at - wait_t0)
        call.held_s = 0.0
        call.attempt_s = min(call.timeout_s, remaining)
        return spent

    async def _send(self, call: _Call, spent: tuple[float, int] | None) -> tuple[str, Usage | None, str | None]:
        """One attempt through the seam (`_attempt`), its provider turn and budget attempt given back after."""
        loop = asyncio.get_running_loop()

        def headers_seen(headers: httpx.Headers, sent_at: float) -> None:
            call.budget.observe_headers(headers, sent_at, loop.time())

        try:
            text, usage, finish = await self._attempt(call.provider, call.body, call.attempt_s,
                                                      call.delta if call.on_delta else None, call.deadline,
                                                      headers_seen)
        finally:
            call.capacity.give_back()
            call.budget.attempt_over()
        if spent is not None and usage is not None:
            call.budget.credit_cached(spent, usage.cached_tokens)
        call.capacity.observe(call.sent_at, loop.time())
        return text, usage, finish

    async def _after_failure(self, call: _Call, err: groq.APIError | httpx.HTTPError | TimeoutError,
                             spent: tuple[float, int] | None, retries: CallRetries) -> None:
        """The retry policy around a failed attempt: returns when another attempt should go (after its
        wait, or with the body changed); raises ProviderError when the call is over."""
        loop = asyncio.get_running_loop()
        model, body, budget = call.model, call.body, call.budget
        now = loop.time()
        rate_limited = isinstance(err, groq.APIStatusError) and err.status_code == 429
        if isinstance(err, groq.APIStatusError):
            self._learn_from_error(budget, err, spent, call.sent_at, now)
        decision = retries.decide(FailedAttempt(
            error=err, model=model, provider=call.provider, mid_answer=call.first_token is not None,
            elapsed_s=now - call.sent_at, budget_s=call.attempt_s, timeout_s=call.timeout_s,
            max_tokens=body.get("max_tokens"), asked_reasoning_format="reasoning_format" in body),
            left_s=call.deadline - now)
        match decision:
            case Retry():
                trace.event("moa.retry", attempt=call.attempts, wait_s=decision.wait_s, **{"error.type": _status(err)})
                sleep_t0 = loop.time()
                with budget.place_kept(call.ticket, _cost(call)):
                    await self.sleep(decision.wait_s)
                if rate_limited:  # waiting for the budget, not for the model
                    call.held_s += loop.time() - sleep_t0
                budget.hold_over(loop.time())  # waited out what the provider asked
            case ShrinkMaxTokens() if budget.tpm is not None and call.trim_to_fit:
                # The 413 named the limit: the caller trims the call to fit and says what it cut.
                raise ProviderError(f"The request to {model} is larger than {call.provider.name}'s "
                                    f"{budget.tpm:,} tokens-per-minute limit.", model=model, status=413)
            case ShrinkMaxTokens():
                body["max_tokens"] = decision.max_tokens
            case DropReasoningFormat():
                self._no_reasoning_format.add(body["model"])  # remembered: later calls don't ask again
                del body["reasoning_format"]
            case ModelMissing():
                raise await self._unavailable(model, decision.status, decision.code) from None
            case GiveUp():
                raise decision.error from None

    @staticmethod
    def _learn_from_error(budget: Budget, err: groq.APIStatusError, spent: tuple[float, int] | None,
                          sent_at: float, now: float) -> None:
        """A refused call did not count against the budget; a 429 / 413 body tells the limits."""
        status = err.status_code
        if spent is not None and (status in (413, 429) or status >= 500):
            budget.refund(spent)
        if status in (413, 429):
            budget.observe_rejection(error_message(err), retry_after_s(err.response.headers), now, sent_at)
        else:
            budget.observe_headers(err.response.headers, sent_at, now)

    def _request_body(self, provider: Provider, wire_model: str, messages: Messages, temperature: float | None,
                      max_tokens: int | None) -> dict[str, Any]:
        """The request as every attempt starts from it (`_attempt` adds the provider's wire names)."""
        body: dict[str, Any] = {"model": wire_model, "messages": list(messages)}
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if (provider.is_groq and _HIDDEN_REASONING.search(wire_model)
                and wire_model not in self._no_reasoning_format):
            body["reasoning_format"] = "hidden"
        return body

    async def _attempt(self, provider: Provider, body: dict[str, Any], timeout_s: float,
                       on_delta: Callable[[str], None] | None, deadline: float,
                       on_headers: Callable[[httpx.Headers, float], None]) -> tuple[str, Usage | None, str | None]:
        """The seam: send one call to `provider` and read its reply — no pacing, no retries (`complete`
        wraps those around it). Raises the SDK's and httpx's errors, or TimeoutError, as they come."""
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        client = provider.client
        stream = on_delta is not None
        wire = dict(body, stream=stream)
        if provider.is_groq:
            # Groq's name for it; the body goes as built (no per-call TypedDict transform: it costs ~1 ms).
            if "max_tokens" in wire:
                wire["max_completion_tokens"] = wire.pop("max_tokens")
            path = "/openai/v1/chat/completions"
        else:
            path = "/chat/completions"
            if stream:
                wire["stream_options"] = {"include_usage": True}
        async with asyncio.timeout(min(loop.time() + timeout_s, deadline)) as bound:
            # Parsed as plain JSON (cast_to=object): building the SDK's typed models costs more CPU per
            # call than the whole engine spends otherwise, and it sits on the critical path of a layer.
            raw: Any = await client.post(
                path, body=wire, cast_to=object, options={"timeout": timeout_s, "headers": _RAW_RESPONSE},
                stream=stream, stream_cls=groq.AsyncStream[object])
            on_headers(raw.headers, sent_at)
            response: Any = await raw.parse()
            if not stream:
                trace.response_model(field(response, "model"))
                return (strip_reasoning(message_content(response)), parse_usage(field(response, "usage")),
                        finish_reason(response))
            assert on_delta is not None
            return await _read_stream(response, on_delta, lambda: bound.reschedule(
                min(loop.time() + timeout_s, deadline)))

    # ---- models -----------------------------------------------------------------------------------
    async def live_models(self, *, refresh: bool = False) -> list[str]:
        """Every model the providers serve now (non-Groq ids as `name:model`), cached ~5 minutes.

        A provider that cannot be listed is left out (its reason in `listing_errors`); when none can
        be listed, ProviderError."""
        async with self._models_lock:
            now = time.monotonic()
            stale = [n for n in self._providers
                     if refresh or n not in self._models or now - self._models[n][0] > self.models_ttl_s]
            if stale:
                results = await asyncio.gather(*(self._list(n) for n in stale), return_exceptions=True)
                for name, result in zip(stale, results, strict=True):
                    if isinstance(result, BaseException):
                        self.listing_errors[name] = listing_failure(self._providers[name], result)
                        self._models.pop(name, None)
                    else:
                        self.listing_errors.pop(name, None)
                        self._models[name] = (now, result)
            out = [m for n in self._providers if n in self._models for m in self._models[n][1]]
        if self._providers and not out and self.listing_errors:
            raise next(iter(self.listing_errors.values()))
        return out

    async def _list(self, name: str) -> list[str]:
        provider = self._providers[name]
        async with asyncio.timeout(min(self.call_timeout_s, 30.0)):
            if provider.is_groq:
                listing = await provider.client.models.list()
            else:
                listing = await provider.client.get("/models", cast_to=ModelListResponse)
        ids = [m.id for m in listing.data if getattr(m, "active", True) is not False]
        return sorted(ids) if provider.is_groq else [f"{name}:{i}" for i in sorted(ids)]

    async def unknown_models(self, ids: Iterable[str]) -> list[str]:
        """The ids no provider serves now. Ids of a provider that could not be listed are not judged;
        ids of an undeclared provider, or of Groq without a key, are unknown."""
        ids = list(dict.fromkeys(ids))
        try:
            live = set(await self.live_models())
        except ProviderError:
            live = set()
        unknown = []
        for model in ids:
            name = self.provider_of(model)
            try:
                self.resolve(model)
            except ProviderError:
                unknown.append(model)
                continue
            if name in self._models and model not in live:
                unknown.append(model)
        return unknown

    async def alternatives(self, model: str, limit: int = 8) -> tuple[str, ...]:
        """Live models to suggest instead of `model`, those of its own provider first."""
        try:
            live = await self.live_models()
        except ProviderError:
            return ()
        name = self.provider_of(model)
        own = [m for m in live if self.provider_of(m) == name and m != model]
        other = [m for m in live if self.provider_of(m) != name]
        return tuple((own + other)[:limit])

    async def _unavailable(self, model: str, status: int, code: str) -> ModelUnavailable:
        alternatives = await self.alternatives(model)
        provider = self.provider_of(model)
        if code == "model_decommissioned":
            what = f"The model {model} has been decommissioned by {provider_label(provider)}"
        else:
            what = (f"The model {model} is not served by {provider_label(provider)} (unknown, or not available "
                    "to this key)")
        if alternatives:
            tail = f"; use one of: {', '.join(alternatives)}."
        else:
            tail = "; run `moa-bot models` to see the models available."
        return ModelUnavailable(what + tail, model=model, alternatives=alternatives, status=status)

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.client.close()

    async def __aenter__(self) -> ProviderRegistry:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# ---- helpers ----------------------------------------------------------------------------------------
def _cost(call: _Call) -> int:
    # What a call counts against its model's tokens per minute, up front: its prompt and the most it may write.
    return estimate_tokens(call.body["messages"]) + int(call.body.get("max_tokens") or 0)


def _status(err: BaseException) -> str:
    """A failed attempt's `error.type`: the HTTP status, else the kind of failure."""
    return str(err.status_code) if isinstance(err, groq.APIStatusError) else type(err).__name__


def _http_client(timeout: httpx.Timeout, transport: str) -> httpx.AsyncClient | None:
    """The SDK's aiohttp client when `groq[aiohttp]` is installed and not refused (it spends far less
    CPU per call than httpx's own transport, and that CPU sits on a layer's critical path), else None:
    the SDK's default httpx client."""
    transport = (transport or "auto").strip().lower()
    if transport not in ("auto", "aiohttp", "httpx"):
        raise ConfigError(f"MOA_HTTP_TRANSPORT must be auto, aiohttp or httpx, not {transport!r}.")
    if transport == "httpx":
        return None
    try:
        import httpx_aiohttp  # noqa: F401
    except ImportError:
        if transport == "aiohttp":
            raise ConfigError("MOA_HTTP_TRANSPORT=aiohttp needs the groq[aiohttp] extra: "
                              "pip install 'groq[aiohttp]'.") from None
        return None
    return groq.DefaultAioHttpClient(timeout=timeout)


async def _read_stream(response: Any, on_delta: Callable[[str], None],
                       chunk_came: Callable[[], None]) -> tuple[str, Usage | None, str | None]:
    """A streamed reply's visible text (reasoning stripped, each piece to `on_delta` as it comes), its
    usage and finish reason; `chunk_came` after each chunk (it moves the wait for the next one)."""
    stripper = ThinkStripper()
    parts: list[str] = []
    usage: Usage | None = None
    finish: str | None = None
    try:
        async for chunk in response:
            chunk_came()
            if not isinstance(chunk, dict):
                continue
            # Groq puts a streamed call's usage in the last chunk's x_groq; OpenAI-compatible
            # servers in a final `usage` chunk (stream_options.include_usage).
            raw_usage = field(chunk.get("x_groq"), "usage") or chunk.get("usage")
            if raw_usage:
                usage = parse_usage(raw_usage)
                trace.response_model(chunk.get("model"))
            finish = finish_reason(chunk) or finish
            for choice in chunk.get("choices") or ():
                piece = field(field(choice, "delta"), "content")
                if piece and field(choice, "index") in (0, None):
                    piece = stripper.feed(piece)
                    if piece:
                        parts.append(piece)
                        on_delta(piece)
    finally:
        await response.close()
    tail = stripper.finish()
    if tail:
        parts.append(tail)
        on_delta(tail)
    return "".join(parts).strip(), usage, finish
