"""Graded answers kept as they come, one JSON line each, keyed by (question, config).

A run appends every outcome the moment it is graded and flushes it, so Ctrl-C or a crash loses at most
the answers in flight, and the same command run again asks only what is missing. A line cut short by a
kill is ignored (that answer is asked again). An outcome is kept only for the same config: a record
whose config fingerprint differs (the file or preset changed) is asked again.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """One config's graded answer to one question (or why there is none: `failed`)."""

    question_id: str
    config: str  # the name exactly as given on the command line
    config_key: str  # fingerprint of what the config asks, so a changed config is not mixed in
    correct: bool
    expected: str
    extracted: str | None  # the final answer found in the reply, None when none was
    failed: str | None = None  # why no answer came (a sentence); such a question counts as wrong
    seconds: float = 0.0
    first_word_s: float | None = None
    calls: int = 0
    prompt_tokens: int = 0
    cached_tokens: int | None = None  # None: the provider did not say
    completion_tokens: int = 0
    cost_usd: float | None = None  # None: some call's price is unknown
    reply_tail: str = ""  # the reply's last characters, to audit a grade
    tokens_estimated: bool = False  # some call's tokens were counted from the text: its server said none
    agents_s: float = 0.0  # the proposers' calls: time their servers spent on them, summed
    agents_queued_s: float = 0.0  # … and time they waited for a busy server (or its budget), summed

    @property
    def key(self) -> tuple[str, str]:
        return self.question_id, self.config


class ResultsFile:
    """The outcomes of earlier runs, and the place new ones are appended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.outcomes: dict[tuple[str, str], Outcome] = {}
        self.skipped_lines = 0
        if path.exists():
            self._read()

    def _read(self) -> None:
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    outcome = Outcome(**json.loads(line))
                except (json.JSONDecodeError, TypeError):
                    self.skipped_lines += 1  # cut short by a kill, or not ours: that answer is asked again
                    continue
                self.outcomes[outcome.key] = outcome

    def done(self, question_id: str, config: str, config_key: str, *, retry_failed: bool = False) -> Outcome | None:
        outcome = self.outcomes.get((question_id, config))
        if outcome is None or outcome.config_key != config_key:
            return None
        if retry_failed and outcome.failed is not None:
            return None
        return outcome

    def append(self, outcome: Outcome) -> None:
        """Keep `outcome` on disk now (flushed and synced), then in memory."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(_jsonable(outcome), ensure_ascii=False) + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.outcomes[outcome.key] = outcome


def _jsonable(outcome: Outcome) -> dict[str, Any]:
    return asdict(outcome)
