"""Graded answers kept as they come, one JSON line each, keyed by (question, config).

A run appends every outcome the moment it is graded and flushes it, so Ctrl-C or a crash loses at most
the answers in flight, and the same command run again asks only what is missing. A line cut short by a
kill (or a full disk) is set aside and that answer asked again; the next outcome starts on a line of its
own, so it is not glued to the cut one and lost. Bytes that are not UTF-8 are read as U+FFFD: the line
still counts when it is still JSON. Such a file is mended once, on opening: unreadable lines move to
`<name>.unreadable` beside it and the rest is written back whole, so the next run has nothing to say.
`problem()` says what was set aside, in a sentence. An outcome is
kept only for the same config: a record whose config fingerprint differs (the file or preset changed) is
asked again; the last line for a question and config wins, so nothing is counted twice. Each outcome
keeps its expected answer and the reply, so a changed expected answer is graded again without a call.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


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
    reply: str = ""  # the whole reply, to grade it again when the expected answer changes ("" in old files)

    @property
    def key(self) -> tuple[str, str]:
        return self.question_id, self.config


class ResultsFile:
    """The outcomes of earlier runs, and the place new ones are appended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.outcomes: dict[tuple[str, str], Outcome] = {}
        self.skipped_lines = 0
        self.mended_lines = 0  # lines with bytes that are not UTF-8, read with them replaced
        self._needs_newline = False  # the file ends in a cut line: the next outcome starts a new one
        self.set_aside: Path | None = None  # where unreadable lines were moved, when they were
        if path.exists():
            self._read()

    def _read(self) -> None:
        try:
            data = self.path.read_bytes()
        except OSError:
            return
        self._needs_newline = bool(data) and not data.endswith(b"\n")
        unreadable: list[bytes] = []
        for raw in data.splitlines():
            if not raw.strip():
                continue
            line = raw.decode("utf-8", errors="replace")
            try:
                outcome = Outcome(**json.loads(line))
            except (json.JSONDecodeError, TypeError, ValueError):
                self.skipped_lines += 1  # cut short by a kill, or not ours: that answer is asked again
                unreadable.append(raw)
                continue
            if "\ufffd" in line and "\ufffd".encode() not in raw:
                self.mended_lines += 1
            self.outcomes[outcome.key] = outcome
        if unreadable or self.mended_lines:
            self._mend(unreadable)

    def _mend(self, unreadable: list[bytes]) -> None:
        """Move unreadable lines beside the file and write the readable outcomes back, each whole and in
        UTF-8 (atomically: a kill now leaves the old file or the new one). Left as it is when the disk
        refuses; the lines are then set aside in memory only, and said again next time."""
        aside = self.path.with_name(self.path.name + ".unreadable")
        fresh = self.path.with_name(self.path.name + ".mending")
        try:
            if unreadable:
                with aside.open("ab") as handle:
                    handle.write(b"".join(raw + b"\n" for raw in unreadable))
                    handle.flush()
                    os.fsync(handle.fileno())
            with fresh.open("w", encoding="utf-8") as handle:
                handle.writelines(_line(outcome) for outcome in self.outcomes.values())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(fresh, self.path)
        except OSError:
            fresh.unlink(missing_ok=True)
            return
        self._needs_newline = False
        self.set_aside = aside if unreadable else None

    def problem(self) -> str | None:
        """A sentence about lines that could not be read as they were, or None."""
        said: list[str] = []
        if self.skipped_lines:
            moved = f" (moved to {self.set_aside})" if self.set_aside is not None else ""
            said.append(f"{_lines(self.skipped_lines)} of {self.path} could not be read (cut short, or not an "
                        f"answer of ours){moved}; those answers are asked again")
        if self.mended_lines:
            said.append(f"{_lines(self.mended_lines)} held bytes that are not UTF-8 and were read with them "
                        "replaced")
        return "; ".join(said) + "." if said else None

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
        line = _line(outcome)
        if self._needs_newline:
            line = "\n" + line
            self._needs_newline = False
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.outcomes[outcome.key] = outcome


def _lines(n: int) -> str:
    return "1 line" if n == 1 else f"{n} lines"


def _line(outcome: Outcome) -> str:
    return json.dumps(asdict(outcome), ensure_ascii=False) + "\n"
