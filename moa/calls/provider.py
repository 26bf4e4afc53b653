"""One model provider (Groq or a declared OpenAI-compatible one): a leaf module, so the registry
(moa/providers.py), the retry rules (moa/retry.py) and the reach sentences (moa/reach.py) can all name it
without importing each other in a circle."""

from __future__ import annotations

from dataclasses import dataclass

from groq import AsyncGroq

GROQ = "groq"
GROQ_KEYS_URL = "https://console.groq.com/keys"


def key_variable(provider: str) -> str:
    """GROQ_API_KEY for Groq, MOA_PROVIDER_<NAME>_API_KEY for a declared provider."""
    if provider == GROQ:
        return "GROQ_API_KEY"
    return f"MOA_PROVIDER_{provider.upper().replace('-', '_')}_API_KEY"


@dataclass(frozen=True)
class Provider:
    name: str  # "groq" or the declared name
    base_url: str
    client: AsyncGroq

    @property
    def is_groq(self) -> bool:
        return self.name == GROQ

    @property
    def key_variable(self) -> str:
        """The environment variable that holds this provider's API key."""
        return key_variable(self.name)

    @property
    def keys_url(self) -> str | None:
        """Where to get a key, when known."""
        return GROQ_KEYS_URL if self.is_groq else None
