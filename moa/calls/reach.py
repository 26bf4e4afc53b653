"""Sentences for a provider that cannot be reached or answers 404: name the URL and the setting to fix.

A refused connection or an unknown host is not a dropped connection: retrying will not help, so the
call fails at once with a sentence naming GROQ_BASE_URL or MOA_PROVIDERS.
"""

from __future__ import annotations

import errno
import socket

import groq

from moa.calls.provider import Provider
from moa.calls.wire import describe_error
from moa.errors import ProviderError, ProviderUnreachable

GROQ_HOST = "https://api.groq.com"


def provider_label(name: str) -> str:
    """How a provider is named in a sentence: "Groq", or the declared name."""
    return "Groq" if name == "groq" else name


def _causes(err: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def connect_failure(err: BaseException) -> str | None:
    """Why no connection could be made ("connection refused", "the host name does not resolve"…), or
    None when the error is something else (a timeout or a connection dropped after it was made)."""
    causes = _causes(err)
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused"
    if any(isinstance(c, socket.gaierror) for c in causes):
        return "the host name does not resolve"
    for cause in causes:
        if isinstance(cause, OSError) and cause.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return cause.strerror.lower() if cause.strerror else "no route to the host"
    return None


def unreachable(provider: Provider, reason: str, *, model: str = "") -> ProviderUnreachable:
    """The failure of a provider no connection could be made to, its sentence naming the setting to fix."""
    label = provider_label(provider.name)
    url = provider.base_url.rstrip("/")
    if provider.is_groq:
        fix = ("check GROQ_BASE_URL (unset it for Groq itself)" if url != GROQ_HOST
               else "check this machine's network connection")
    else:
        fix = f"is the server running? Check its URL in MOA_PROVIDERS ({provider.name}=…)"
    return ProviderUnreachable(f"Could not connect to {label} at {url} ({reason}): {fix}.", model=model)


def not_found(provider: Provider, endpoint: str) -> str:
    """The sentence for a 404 on the API path itself (not an unknown model): the base URL is wrong.
    `endpoint` is "chat/completions" or "models"."""
    url = provider.base_url.rstrip("/")
    path = f"/openai/v1/{endpoint}" if provider.is_groq else f"/{endpoint}"
    if provider.is_groq:
        if url.endswith(("/openai/v1", "/openai")):
            host = url.rsplit("/openai", 1)[0]
            return (f"Groq answered 404 for {url}{path}: GROQ_BASE_URL should be the host only, without "
                    f"/openai/v1 (e.g. {host}).")
        return f"Groq answered 404 for {url}{path}: check GROQ_BASE_URL (the host only, e.g. {GROQ_HOST})."
    return (f"{provider.name} answered 404 for {url}{path}: check its URL in MOA_PROVIDERS — it should be "
            f"the part before /chat/completions, usually ending in /v1.")


def listing_failure(provider: Provider, err: BaseException) -> ProviderError:
    """Why a model list could not be fetched: ProviderUnreachable when no connection could be made."""
    if (reason := connect_failure(err)) is not None:
        return unreachable(provider, reason)
    if isinstance(err, groq.APIStatusError) and err.status_code == 404:
        return ProviderError(not_found(provider, "models"), status=404)
    return ProviderError(f"Could not list the models of {provider_label(provider.name)}: {describe_error(err)}.")
