"""What to do about a failed model call: wait and retry, change the request and retry, or give up.

The groq SDK's own retries are switched off (`max_retries=0`) because its policy does not fit here: it
ignores a `retry-after` above 60 s and does not retry 498. This policy instead:

- 429: wait what `retry-after` asks (any length) while that fits the run's deadline, else fail at once
  saying how long the provider asked to wait;
- 5xx, 408, 409, 498 (flex capacity), timeouts and dropped connections: retry with exponential backoff
  and jitter, a bounded number of times, within the deadline;
- 413 (request too large): retry once with a max_tokens that fits the limit the error names, else fail
  with a sentence suggesting fewer layers / agents or a lower max_tokens;
- 400 `model_decommissioned` / 404 unknown model: report the model missing (the registry names live
  alternatives); a 400 refusing `reasoning_format`: retry without it;
- 401 / 403 and any other error, or any error after part of a streamed answer was shown: fail at once.

`CallRetries.decide` makes that choice for one call; `ProviderRegistry.complete` acts on it.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import groq

from moa.calls.provider import Provider
from moa.calls.reach import connect_failure, not_found, provider_label, unreachable
from moa.calls.wire import (
    describe_error,
    error_code,
    error_message,
    is_model_missing,
    retry_after_s,
    smaller_max_tokens,
)
from moa.config.variables import number
from moa.durations import told
from moa.errors import ProviderError
from moa.figures import MOST_HOLD_S, said, seconds
from moa.pace.limits import try_again_s

log = logging.getLogger(__name__)

_N = TypeVar("_N", int, float)

_TRANSIENT_STATUSES = (408, 409, 498)  # besides every 5xx


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long one model call may retry."""

    max_attempts: int = 4  # per call, for transient failures (5xx, 498, timeouts, connection errors)
    max_rate_limit_waits: int = 8  # 429s honoured per call
    # Short: failures come in bursts of single calls while the rest of the layer is already done; a
    # proposer that keeps failing is left out or hedged by the layer, not waited for.
    backoff_base_s: float = 0.05
    backoff_max_s: float = 4.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RetryPolicy:
        """MOA_RETRY_ATTEMPTS (max_attempts) and MOA_RETRY_BACKOFF (backoff_base_s, seconds) from `env`;
        the defaults for those unset, ConfigError naming the variable for a bad value."""
        default = cls()
        return cls(
            max_attempts=_env_value(env, "MOA_RETRY_ATTEMPTS", int, default.max_attempts, lambda n: n >= 1,
                                    "a whole number of attempts per model call, 1 or more"),
            backoff_base_s=_env_value(env, "MOA_RETRY_BACKOFF", float, default.backoff_base_s,
                                      lambda s: math.isfinite(s) and s >= 0,
                                      "the seconds before the first retry, 0 or more (e.g. 0.5)"))

    def backoff(self, retry: int) -> float:
        """Delay before retry number `retry` (1-based), with ±25 % jitter."""
        delay = min(self.backoff_base_s * 2.0 ** (retry - 1), self.backoff_max_s)  # 2.0: float ** int is typed float
        return delay * (0.75 + 0.5 * random.random())


def _env_value(env: Mapping[str, str], name: str, parse: Callable[[str], _N], default: _N,
               valid: Callable[[_N], bool], rule: str) -> _N:
    value = number(name, env.get(name, ""), parse, rule, valid)
    return default if value is None else value


@dataclass(frozen=True)
class FailedAttempt:
    """One attempt of a call that raised, and what the decision needs to know about the call."""

    error: BaseException  # groq.APIStatusError, a timeout, or a connection / HTTP error
    model: str  # as configured, for sentences
    provider: Provider
    mid_answer: bool  # part of a streamed answer was already shown: retrying would repeat it
    elapsed_s: float  # how long the attempt ran
    budget_s: float  # how long it was allowed to run
    timeout_s: float  # the per-call timeout, for sentences
    max_tokens: Any  # the request's max_tokens (None when unset)
    asked_reasoning_format: bool  # the request carries reasoning_format


# ---- decisions ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Retry:
    """Wait `wait_s`, then send the same request again."""

    wait_s: float


@dataclass(frozen=True)
class ShrinkMaxTokens:
    """Send the request again at once with this max_tokens."""

    max_tokens: int


@dataclass(frozen=True)
class DropReasoningFormat:
    """Send the request again at once without reasoning_format (the model refused it)."""


@dataclass(frozen=True)
class ModelMissing:
    """Fail with ModelUnavailable; the registry builds it, since it knows the live alternatives."""

    status: int
    code: str


@dataclass(frozen=True)
class GiveUp:
    """Fail with this error."""

    error: ProviderError


Decision = Retry | ShrinkMaxTokens | DropReasoningFormat | ModelMissing | GiveUp


class CallRetries:
    """The retry bookkeeping of one call: how many transient failures and 429s it has had so far."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.transient = 0
        self.rate_limited = 0
        self.shrunk = False
        self.silent = 0  # attempts that got nothing at all (no first byte) within the call timeout
        self.insane_wait: float | None = None  # the last wait a 429 asked for that no rate limit asks for

    def decide(self, failed: FailedAttempt, left_s: float) -> Decision:
        """What to do about `failed`, with `left_s` seconds left before the run's deadline."""
        err = failed.error
        if (reason := connect_failure(err)) is not None:  # refused / unknown host: retrying won't help
            return GiveUp(unreachable(failed.provider, reason, model=failed.model))
        if isinstance(err, groq.APIStatusError):
            return self._after_status(failed, err, left_s)
        if isinstance(err, groq.APITimeoutError | TimeoutError):
            return self._after_timeout(failed, left_s)
        return self._after_connection_error(failed, left_s)

    def _after_status(self, failed: FailedAttempt, err: groq.APIStatusError, left_s: float) -> Decision:
        model, provider = failed.model, failed.provider
        status, code, message = err.status_code, error_code(err), error_message(err)
        if failed.mid_answer:
            return GiveUp(ProviderError(f"{model} failed mid-answer ({status}: {message}).",
                                        model=model, status=status))
        if status == 429:
            return self._after_rate_limit(failed, err, left_s)
        if status == 413:
            new_max = smaller_max_tokens(failed.max_tokens, message)
            if not self.shrunk and new_max is not None:
                self.shrunk = True
                log.info("%s: 413, retrying with max_tokens %s", model, new_max)
                return ShrinkMaxTokens(new_max)
            return GiveUp(ProviderError(
                f"The request to {model} is larger than {provider_label(provider.name)} accepts ({message}): use "
                "fewer layers or agents, a shorter question or history, or a lower max_tokens.",
                model=model, status=413))
        if is_model_missing(status, code, message):
            return ModelMissing(status, code)
        if status == 404:  # the API path itself is missing: the base URL is wrong
            return GiveUp(ProviderError(not_found(provider, "chat/completions"), model=model, status=404))
        if status == 400 and failed.asked_reasoning_format and "reasoning_format" in message:
            return DropReasoningFormat()
        if status in (401, 403):
            hint = f" (get one at {provider.keys_url})" if provider.keys_url else ""
            return GiveUp(ProviderError(f"{provider_label(provider.name)} refused the API key ({status}: {message}); "
                                        f"check {provider.key_variable}{hint}.", model=model, status=status))
        if status >= 500 or status in _TRANSIENT_STATUSES:
            what = "is over capacity (498)" if status == 498 else f"failed ({status}: {message})"
            return self._backoff(f"{model} {what}", model, status, left_s)
        return GiveUp(ProviderError(f"{model} failed ({status}: {message}).", model=model, status=status))

    def _after_rate_limit(self, failed: FailedAttempt, err: groq.APIStatusError, left_s: float) -> Decision:
        model = failed.model
        self.rate_limited += 1
        # Groq's body is more precise than its whole-second header ("Please try again in 5.289s").
        asked = try_again_s(error_message(err))
        asked = asked if asked is not None else retry_after_s(err.response.headers)
        wait = seconds(asked, MOST_HOLD_S)
        if wait is None and asked is not None:  # e.g. eleven days or "inf": retry as if none was asked
            self.insane_wait = asked
            log.warning("%s: 429 asks to wait %s; not believed, backing off instead", model, said(asked))
        wait = wait if wait is not None else self.policy.backoff(self.rate_limited)
        if wait > left_s:
            return GiveUp(ProviderError(
                f"{model} is rate-limited: {provider_label(failed.provider.name)} asks to wait "
                f"{told(wait)}, more than the {told(max(left_s, 0))} left for this answer. "
                "Try again later.",
                model=model, status=429))
        if self.rate_limited > self.policy.max_rate_limit_waits:
            note = "" if self.insane_wait is None else \
                f" ({provider_label(failed.provider.name)} asked to wait {said(self.insane_wait)})"
            return GiveUp(ProviderError(f"{model} is still rate-limited after {self.rate_limited - 1} waits{note}; "
                                        "try again later.", model=model, status=429))
        log.info("%s: 429, waiting %.2f s as retry-after asks", model, wait)
        return Retry(wait)

    def _after_timeout(self, failed: FailedAttempt, left_s: float) -> Decision:
        model = failed.model
        # The SDK's aiohttp client reports a dropped connection as a timeout too: tell them apart by
        # whether the attempt used (nearly) all of its time.
        timed_out = failed.elapsed_s >= 0.9 * failed.budget_s
        if failed.mid_answer:
            what = f"stopped sending its answer for {told(failed.timeout_s)}" if timed_out else \
                f"failed mid-answer ({describe_error(failed.error)})"
            return GiveUp(ProviderError(f"{model} {what}.", model=model))
        what = f"{model} did not answer within {told(failed.timeout_s)}" if timed_out else \
            f"the connection to {provider_label(failed.provider.name)} dropped while waiting for {model}"
        if timed_out:
            # Nothing came back at all (a frozen or hopelessly busy server): one more try at most, and only
            # when a whole call timeout is left for it, so the person hears within about two timeouts.
            self.silent += 1
            if self.silent >= 2:
                return GiveUp(ProviderError(f"{what}, twice; giving up (is the server stuck? MOA_CALL_TIMEOUT "
                                            "sets how long to wait).", model=model))
            if left_s < failed.timeout_s:
                return GiveUp(ProviderError(f"{what}, and the run's time limit leaves no time to retry.",
                                            model=model))
        return self._backoff(what, model, None, left_s)

    def _after_connection_error(self, failed: FailedAttempt, left_s: float) -> Decision:
        model, provider = failed.model, failed.provider
        if failed.mid_answer:
            return GiveUp(ProviderError(f"{model} failed mid-answer ({describe_error(failed.error)}).",
                                        model=model))
        where = provider.base_url if not provider.is_groq else "Groq"
        return self._backoff(f"could not reach {where} for {model} ({describe_error(failed.error)})",
                             model, None, left_s)

    def _backoff(self, what: str, model: str, status: int | None, left_s: float) -> Decision:
        """Retry a transient failure after an exponential backoff, unless out of attempts or time."""
        self.transient += 1
        retry = self.transient
        if retry >= self.policy.max_attempts:
            tries = "once" if retry == 1 else f"{retry} times"
            return GiveUp(ProviderError(f"{what}, {tries}; giving up.", model=model, status=status))
        wait = self.policy.backoff(retry)
        if wait >= left_s:
            return GiveUp(ProviderError(f"{what}, and the run's time limit leaves no time to retry.",
                                        model=model, status=status))
        log.info("%s; retry %d in %.2f s", what, retry, wait)
        return Retry(wait)
