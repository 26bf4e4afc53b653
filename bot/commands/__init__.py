"""The `/moa` command grammar both platforms share: parse → check admin → validate → apply → reply.

Adapters pass the text after `/moa` (Discord rebuilds it from its typed options) and a context saying
who asks and how to find out whether they may change things. Every bad input gets a sentence saying
what would work, and nothing is stored unless the whole new config is valid, within the operator's
limits and uses only live models.

- `grammar` — the typed commands and `parse()`; `values` reads the numbers, names and JSON in them.
- `deps` — what commands need: config store, history, live model list (`CommandDeps`).
- `run` — `execute()`: parse, admin check, one edit at a time per channel, errors as replies.
- `replies` — the read-only commands' text; `edits` — the changing ones; `live` — model checks;
  `current` — the setup a channel uses now and where it comes from.
"""

from bot.commands.deps import CommandDeps, ConfigStore, HistoryStore, ModelCatalog
from bot.commands.grammar import Command, CommandError, parse
from bot.commands.live import MAX_LISTED_MODELS
from bot.commands.replies import redact_secrets
from bot.commands.run import ADMIN_REFUSAL, MAX_COMMAND_CHARS, NOTHING_CHANGED, execute

__all__ = [
    "ADMIN_REFUSAL",
    "MAX_COMMAND_CHARS",
    "MAX_LISTED_MODELS",
    "NOTHING_CHANGED",
    "Command",
    "CommandDeps",
    "CommandError",
    "ConfigStore",
    "HistoryStore",
    "ModelCatalog",
    "execute",
    "parse",
    "redact_secrets",
]
