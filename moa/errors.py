"""One exception hierarchy for the engine, so surfaces turn failures into sentences in one place."""

from __future__ import annotations


class MoaError(Exception):
    """Base of every error the engine raises; `str(err)` is a sentence fit for a user."""


class ConfigError(MoaError):
    """A MoA config is invalid; the message names the field and the fix."""


class ProviderError(MoaError):
    """A model call failed (after retries). `model` names the model, `retryable` says if waiting could help."""

    def __init__(self, message: str, *, model: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.model = model
        self.status = status


class ProviderUnreachable(ProviderError):
    """No connection could be made to a provider (refused, unknown host, no route): its URL or the network
    needs fixing, and retrying will not help."""


class ModelUnavailable(ProviderError):
    """The model is decommissioned or unknown; `alternatives` lists live models to use instead."""

    def __init__(self, message: str, *, model: str, alternatives: tuple[str, ...] = (),
                 status: int | None = None) -> None:
        super().__init__(message, model=model, status=status)
        self.alternatives = alternatives
