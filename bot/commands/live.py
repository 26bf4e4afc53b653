"""Checking model ids against the provider's live model list before a config that uses them is stored."""

from __future__ import annotations

import difflib

from bot.commands.deps import ModelCatalog
from bot.commands.grammar import CommandError
from moa.config.schema import MoaConfig
from moa.errors import ProviderError

MAX_LISTED_MODELS = 30  # an unknown-model reply lists at most this many live models


async def live_spelling(catalog: ModelCatalog, model: str, config: MoaConfig) -> str:
    """`model` as the provider spells it if it is live now; models already in `config` are trusted."""
    if model in config.models():
        return model
    return (await check_live(catalog, [model]))[model]


async def require_live(catalog: ModelCatalog, config: MoaConfig) -> None:
    """CommandError unless every model in `config` is live and spelled as the provider spells it."""
    canonical = await check_live(catalog, config.models())
    mismatched = [m for m, c in canonical.items() if m != c]
    if mismatched:  # a whole pasted config is not silently rewritten: say the right spelling
        raise CommandError("Model ids are case-sensitive: " + ", ".join(
            f"use `{canonical[m]}` instead of `{m}`" for m in mismatched) + ".")


async def check_live(catalog: ModelCatalog, models: list[str]) -> dict[str, str]:
    """Each model → its live spelling; CommandError for any model not served now."""
    try:
        unknown = await catalog.unknown_models(models)
        live = await catalog.live_models() if unknown else []
    except ProviderError as err:
        raise CommandError(f"I couldn't fetch the live model list to check the model ({err}). "
                           "Try again in a minute.") from None
    resolved = {m: m for m in models}
    missing = []
    for model in unknown:
        same = [m for m in live if m.casefold() == model.casefold()]
        if same:
            resolved[model] = same[0]
        else:
            missing.append(model)
    if not missing:
        return resolved
    names = ", ".join(f"`{m[:80]}`" for m in missing)
    text = f"Unknown model {names}." if len(missing) == 1 else f"Unknown models {names}."
    guess = difflib.get_close_matches(missing[0], live, n=1, cutoff=0.5)
    if guess:
        text += f" Did you mean `{guess[0]}`?"
    shown = sorted(live)[:MAX_LISTED_MODELS]
    more = len(live) - len(shown)
    text += " Live models: " + ", ".join(shown) + (f" and {more} more." if more else ".")
    raise CommandError(text)
