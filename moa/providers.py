"""Model calls: Groq through the groq SDK, and OpenAI-compatible endpoints declared by name.

A model id `name:model` goes to the declared provider `name` (Ollama, vLLM, llama.cpp server,
Together…); any other id goes to Groq. Providers are declared with
`MOA_PROVIDERS="ollama=http://127.0.0.1:11434/v1,together=https://api.together.xyz/v1"` and their keys
in `MOA_PROVIDER_<NAME>_API_KEY`.

Every provider has one shared client (an `AsyncGroq`; for OpenAI-compatible endpoints its low-level
`post("/chat/completions")` against the provider's base URL, so both share one error and streaming
model). The SDK's own retries are switched off (`max_retries=0`) because its policy does not fit
here: it ignores a `retry-after` above 60 s and does not retry 498. This module's policy instead:

- 429: wait what `retry-after` asks (any length) while that fits the run's deadline, else fail at once
  saying how long the provider asked to wait;
- 5xx, 408, 409, 498 (flex capacity), timeouts and dropped connections: retry with exponential backoff
  and jitter, a bounded number of times, within the deadline;
- 413 (request too large): retry once with a max_tokens that fits the limit the error names, else fail
  with a sentence suggesting fewer layers / agents or a lower max_tokens;
- 400 `model_decommissioned` / 404 unknown model: `ModelUnavailable`, naming the model and listing live
  alternatives (from the cached model list).

Reasoning never leaks: `message.reasoning` / `delta.reasoning` are ignored, `<think>…</think>` is
stripped (also across streamed deltas), and Groq's Qwen3 / QwQ / DeepSeek-R1 models are asked for
`reasoning_format="hidden"`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import groq
import httpx
from groq import AsyncGroq
from groq.types import ModelListResponse

from moa.errors import ConfigError, ModelUnavailable, ProviderError
from moa.events import Usage
from moa.prompts import ThinkStripper, strip_reasoning

log = logging.getLogger(__name__)

GROQ = "groq"
GROQ_KEYS_URL = "https://console.groq.com/keys"
MISSING_GROQ_KEY = (
    f"GROQ_API_KEY is not set: create a key at {GROQ_KEYS_URL} and put it in the environment or in .env "
    "as GROQ_API_KEY=gsk_…"
)

_PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_HIDDEN_REASONING = re.compile(r"qwen3|qwq|deepseek-r1", re.IGNORECASE)
_TOO_LARGE = re.compile(r"Limit\s+(\d+),\s*Requested\s+(\d+)", re.IGNORECASE)

Messages = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4  # per call, for transient failures (5xx, 498, timeouts, connection errors)
    max_rate_limit_waits: int = 8  # 429s honoured per call
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0

    def backoff(self, retry: int) -> float:
        """Delay before retry number `retry` (1-based), with ±25 % jitter."""
        delay = min(self.backoff_base_s * 2 ** (retry - 1), self.backoff_max_s)
        return delay * (0.75 + 0.5 * random.random())


@dataclass(frozen=True)
class Provider:
    name: str  # "groq" or the declared name
    base_url: str
    client: AsyncGroq

    @property
    def is_groq(self) -> bool:
        return self.name == GROQ


@dataclass(frozen=True)
class Completion:
    model: str  # as configured (with its provider prefix)
    text: str  # the answer, reasoning removed
    usage: Usage | None
    latency_s: float  # from the first attempt to the answer's end, retries included
    first_token_s: float | None = None  # streamed calls: from start to the first visible delta
    attempts: int = 1


def parse_providers(spec: str) -> dict[str, str]:
    """`"ollama=http://…/v1,together=https://…/v1"` → {name: base_url}; ConfigError names the bad part."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, url = part.partition("=")
        name, url = name.strip().lower(), url.strip().rstrip("/")
        if not sep or not url:
            raise ConfigError(f"MOA_PROVIDERS entry {part!r} must look like name=http://host:port/v1.")
        if not _PROVIDER_NAME.match(name) or name == GROQ:
            raise ConfigError(f"MOA_PROVIDERS name {name!r} must be lowercase letters, digits, - or _ "
                              "(and not \"groq\", which is built in).")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"MOA_PROVIDERS URL for {name!r} must start with http:// or https://, not {url!r}.")
        out[name] = url
    return out


class ProviderRegistry:
    """The model providers of one process, their shared clients, retry policy and cached model list."""

    def __init__(self, *, groq_api_key: str | None, groq_base_url: str | None = None,
                 providers: Mapping[str, tuple[str, str | None]] | None = None,
                 call_timeout_s: float = 60.0, deadline_s: float = 300.0,
                 retry: RetryPolicy | None = None, models_ttl_s: float = 300.0,
                 transport: str = "auto") -> None:
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
        self._models: dict[str, tuple[float, list[str]]] = {}  # provider -> (fetched at, ids)
        self._models_lock = asyncio.Lock()
        self._no_reasoning_format: set[str] = set()
        self.listing_errors: dict[str, str] = {}
        # How the retry policy waits; a test may swap it to observe waits without spending them.
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, call_timeout_s: float = 60.0, deadline_s: float = 300.0,
                 retry: RetryPolicy | None = None) -> ProviderRegistry:
        """GROQ_API_KEY, GROQ_BASE_URL, MOA_PROVIDERS, MOA_PROVIDER_<NAME>_API_KEY and
        MOA_HTTP_TRANSPORT from `env`."""
        declared = parse_providers(env.get("MOA_PROVIDERS", ""))
        providers = {
            name: (url, env.get(f"MOA_PROVIDER_{name.upper().replace('-', '_')}_API_KEY", "").strip() or None)
            for name, url in declared.items()
        }
        return cls(groq_api_key=env.get("GROQ_API_KEY", "").strip() or None,
                   groq_base_url=env.get("GROQ_BASE_URL", "").strip() or None,
                   providers=providers, call_timeout_s=call_timeout_s, deadline_s=deadline_s, retry=retry,
                   transport=env.get("MOA_HTTP_TRANSPORT", "auto"))

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
                       timeout_s: float | None = None, deadline: float | None = None) -> Completion:
        """One chat completion with this module's retry policy; streams into `on_delta` when given.

        `deadline` is an event-loop time (`loop.time()`) after which no attempt or wait may run;
        `timeout_s` bounds one attempt (for a stream: the wait for each chunk). Raises ProviderError
        (ModelUnavailable for a missing model) with a user-facing sentence.
        """
        provider, wire_model = self.resolve(model)
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = deadline if deadline is not None else started + self.deadline_s
        timeout_s = timeout_s or self.call_timeout_s
        body: dict[str, Any] = {"model": wire_model, "messages": list(messages)}
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if (provider.is_groq and _HIDDEN_REASONING.search(wire_model)
                and wire_model not in self._no_reasoning_format):
            body["reasoning_format"] = "hidden"
        attempts = transient = limited = 0
        shrunk = False
        first_token: list[float] = []

        def delta(piece: str) -> None:
            if not first_token:
                first_token.append(loop.time())
            assert on_delta is not None
            on_delta(piece)

        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ProviderError(f"{model} did not answer before the run's time limit ran out.", model=model)
            attempts += 1
            attempt_t0 = loop.time()
            try:
                text, usage = await self._attempt(provider, body, min(timeout_s, remaining),
                                                  delta if on_delta else None, deadline)
            except groq.APIStatusError as err:
                status, code, message = err.status_code, _error_code(err), _error_message(err)
                if first_token:
                    raise ProviderError(f"{model} failed mid-answer ({status}: {message}).",
                                        model=model, status=status) from None
                if status == 429:
                    limited += 1
                    wait = _retry_after(err.response.headers)
                    wait = wait if wait is not None else self.retry.backoff(limited)
                    left = deadline - loop.time()
                    if wait > left:
                        raise ProviderError(
                            f"{model} is rate-limited: {provider.name} asks to wait {_secs(wait)}, more than "
                            f"the {_secs(max(left, 0))} left for this answer. Try again later.",
                            model=model, status=429) from None
                    if limited > self.retry.max_rate_limit_waits:
                        raise ProviderError(f"{model} is still rate-limited after {limited - 1} waits; "
                                            "try again later.", model=model, status=429) from None
                    log.info("%s: 429, waiting %.2f s as retry-after asks", model, wait)
                    await self.sleep(wait)
                    continue
                if status == 413:
                    new_max = _smaller_max_tokens(body.get("max_tokens"), message)
                    if not shrunk and new_max is not None:
                        shrunk = True
                        log.info("%s: 413, retrying with max_tokens %s", model, new_max)
                        body["max_tokens"] = new_max
                        continue
                    raise ProviderError(
                        f"The request to {model} is larger than {provider.name} accepts ({message}): use fewer "
                        "layers or agents, a shorter question or history, or a lower max_tokens.",
                        model=model, status=413) from None
                if _is_model_missing(status, code, message):
                    raise await self._unavailable(model, status, code) from None
                if status == 400 and "reasoning_format" in body and "reasoning_format" in message:
                    self._no_reasoning_format.add(wire_model)
                    del body["reasoning_format"]
                    continue
                if status in (401, 403):
                    what = "GROQ_API_KEY" if provider.is_groq else \
                        f"MOA_PROVIDER_{provider.name.upper().replace('-', '_')}_API_KEY"
                    hint = f" (get one at {GROQ_KEYS_URL})" if provider.is_groq else ""
                    raise ProviderError(f"{provider.name} refused the API key ({status}: {message}); check "
                                        f"{what}{hint}.", model=model, status=status) from None
                if status >= 500 or status in (408, 409, 498):
                    what = "is over capacity (498)" if status == 498 else f"failed ({status}: {message})"
                    transient += 1
                    await self._backoff(model, f"{model} {what}", transient, deadline, status)
                    continue
                raise ProviderError(f"{model} failed ({status}: {message}).", model=model, status=status) from None
            except (groq.APITimeoutError, TimeoutError) as err:
                # The SDK's aiohttp client reports a dropped connection as a timeout too: tell them apart.
                timed_out = loop.time() - attempt_t0 >= 0.9 * min(timeout_s, remaining)
                if first_token:
                    what = f"stopped sending its answer for {_secs(timeout_s)}" if timed_out else \
                        f"failed mid-answer ({_describe_error(err)})"
                    raise ProviderError(f"{model} {what}.", model=model) from None
                transient += 1
                what = f"{model} did not answer within {_secs(timeout_s)}" if timed_out else \
                    f"the connection to {provider.name} dropped while waiting for {model}"
                await self._backoff(model, what, transient, deadline, None)
                continue
            except (groq.APIConnectionError, groq.APIError, httpx.HTTPError) as err:
                if first_token:
                    raise ProviderError(f"{model} failed mid-answer ({_describe_error(err)}).",
                                        model=model) from None
                transient += 1
                where = provider.base_url if not provider.is_groq else "Groq"
                await self._backoff(model, f"could not reach {where} for {model} ({_describe_error(err)})",
                                    transient, deadline, None)
                continue
            now = loop.time()
            return Completion(model=model, text=text, usage=usage, latency_s=now - started,
                              first_token_s=(first_token[0] - started) if first_token else None,
                              attempts=attempts)

    async def _backoff(self, model: str, what: str, retry: int, deadline: float, status: int | None) -> None:
        if retry >= self.retry.max_attempts:
            raise ProviderError(f"{what}, {retry} times; giving up.", model=model, status=status)
        wait = self.retry.backoff(retry)
        if asyncio.get_running_loop().time() + wait >= deadline:
            raise ProviderError(f"{what}, and the run's time limit leaves no time to retry.", model=model,
                                status=status)
        log.info("%s; retry %d in %.2f s", what, retry, wait)
        await self.sleep(wait)

    async def _attempt(self, provider: Provider, body: dict[str, Any], timeout_s: float,
                       on_delta: Callable[[str], None] | None, deadline: float) -> tuple[str, Usage | None]:
        loop = asyncio.get_running_loop()
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
        async with asyncio.timeout(min(loop.time() + timeout_s, deadline)) as budget:
            # Parsed as plain JSON (cast_to=object): building the SDK's typed models costs more CPU per
            # call than the whole engine spends otherwise, and it sits on the critical path of a layer.
            response: Any = await client.post(
                path, body=wire, cast_to=object, options={"timeout": timeout_s},
                stream=stream, stream_cls=groq.AsyncStream[object])
            if not stream:
                return strip_reasoning(_content(response)), _usage(_get(response, "usage"))
            assert on_delta is not None
            stripper = ThinkStripper()
            parts: list[str] = []
            usage: Usage | None = None
            try:
                async for chunk in response:
                    budget.reschedule(min(loop.time() + timeout_s, deadline))
                    if not isinstance(chunk, dict):
                        continue
                    # Groq puts a streamed call's usage in the last chunk's x_groq; OpenAI-compatible
                    # servers in a final `usage` chunk (stream_options.include_usage).
                    raw_usage = _get(chunk.get("x_groq"), "usage") or chunk.get("usage")
                    if raw_usage:
                        usage = _usage(raw_usage)
                    for choice in chunk.get("choices") or ():
                        piece = _get(_get(choice, "delta"), "content")
                        if piece and _get(choice, "index") in (0, None):
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
            return "".join(parts).strip(), usage

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
                        self.listing_errors[name] = _describe_error(result)
                        self._models.pop(name, None)
                    else:
                        self.listing_errors.pop(name, None)
                        self._models[name] = (now, result)
            out = [m for n in self._providers if n in self._models for m in self._models[n][1]]
        if self._providers and not out and self.listing_errors:
            name, why = next(iter(self.listing_errors.items()))
            raise ProviderError(f"Could not list the models of {name}: {why}.")
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
            what = f"The model {model} has been decommissioned by {provider}"
        else:
            what = f"The model {model} is not served by {provider} (unknown, or not available to this key)"
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


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _content(response: Any) -> str:
    """The first choice's message content of a chat.completion (reasoning fields are ignored)."""
    choices = _get(response, "choices") or []
    content = _get(_get(choices[0], "message"), "content") if choices else None
    return content if isinstance(content, str) else ""


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    return Usage(prompt_tokens=int(raw.get("prompt_tokens") or 0),
                 completion_tokens=int(raw.get("completion_tokens") or 0))


def _error_obj(err: groq.APIStatusError) -> Mapping[str, Any]:
    body = err.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            return inner
        if isinstance(inner, str):
            return {"message": inner}
    if isinstance(body, str):
        return {"message": body}
    return {}


def _error_code(err: groq.APIStatusError) -> str:
    return str(_error_obj(err).get("code") or "")


def _error_message(err: groq.APIStatusError) -> str:
    message = _error_obj(err).get("message")
    if isinstance(message, str) and message.strip():
        return message.strip()
    return f"HTTP {err.status_code}"


def _describe_error(err: BaseException) -> str:
    if isinstance(err, groq.APIStatusError):
        return f"{err.status_code}: {_error_message(err)}"
    if isinstance(err, groq.APIError):
        return err.message
    return str(err) or type(err).__name__


def _is_model_missing(status: int, code: str, message: str) -> bool:
    if code in ("model_decommissioned", "model_not_found"):
        return True
    lowered = message.lower()
    return status in (400, 404) and "model" in lowered and (
        "not found" in lowered or "does not exist" in lowered or "decommissioned" in lowered)


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from `retry-after-ms`, or `retry-after` as seconds or an HTTP date; None when absent."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(raw)
    if parsed is None:
        return None
    return max(0.0, float(email.utils.mktime_tz(parsed) - time.time()))


def _smaller_max_tokens(current: Any, message: str) -> int | None:
    """A max_tokens that fits the limit a 413 names, or half the current one; None when that can't help."""
    if not isinstance(current, int):
        return None
    match = _TOO_LARGE.search(message)
    if match:
        limit, requested = int(match.group(1)), int(match.group(2))
        new = current - (requested - limit) - 16
    else:
        new = current // 2
    return new if new >= 64 and new < current else None


def _secs(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
