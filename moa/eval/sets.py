"""Graded question sets: JSONL files (GSM8K's own included) and the sets this project generates.

A line is `{"question": …, "answer": …}` with an optional `"kind"` (number, choice, text); GSM8K's
answers end in `#### 72` and are read as 72. The bundled sets are generated from seeded templates in
code, so nothing is copied and the same name always gives the same questions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from moa.errors import ConfigError

GradeKind = Literal["number", "choice", "text", "auto"]
_KINDS = ("number", "choice", "text", "auto")


@dataclass(frozen=True)
class Question:
    """One graded question; `id` is stable across runs (a hash of the question text)."""

    id: str
    question: str
    answer: str
    kind: GradeKind = "auto"


def question_id(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:12]


def make(question: str, answer: str, kind: GradeKind = "auto") -> Question:
    return Question(question_id(question), question, answer, kind)


def load_jsonl(path: Path, notes: list[str] | None = None) -> list[Question]:
    """The questions of a JSONL file; ConfigError names the line that is wrong. A question left out (empty,
    or the same as an earlier line's) is named in `notes`. A UTF-8 byte-order mark is accepted."""
    notes = notes if notes is not None else []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as err:
        raise ConfigError(f"Cannot read the question set {path}: {err.strerror or err}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text: a question set is JSON lines.") from None
    out: list[Question] = []
    seen: dict[str, tuple[int, Question]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path} line {number} is not JSON ({err.msg}); each line is "
                              '{"question": …, "answer": …}.') from None
        if not isinstance(data, dict) or not isinstance(data.get("question"), str) \
                or not isinstance(data.get("answer"), str | int | float) or isinstance(data.get("answer"), bool):
            raise ConfigError(f'{path} line {number} needs "question" (text) and "answer" (text or a number).')
        kind = data.get("kind", "auto")
        if kind not in _KINDS:
            raise ConfigError(f'{path} line {number}: "kind" is number, choice or text, not {kind!r}.')
        question = make(data["question"], str(data["answer"]), kind)
        if not question.question.strip() or not question.answer.strip():
            what = "question" if not question.question.strip() else "answer"
            notes.append(f"{path.name} line {number}: the {what} is empty; that line is left out.")
            continue
        if question.id in seen:  # the same question twice would be graded twice under one key
            first, kept = seen[question.id]
            other = "" if kept.answer == question.answer else \
                f" with another answer ({question.answer!r}; line {first}'s {kept.answer!r} is kept)"
            notes.append(f"{path.name} line {number} repeats the question of line {first}{other}; it is asked once.")
            continue
        seen[question.id] = (number, question)
        out.append(question)
    if not out:
        raise ConfigError(f"{path} has no questions.")
    return out


# ---- the bundled sets --------------------------------------------------------------------------
_NAMES = ("Ada", "Bela", "Chen", "Dara", "Emeka", "Farah", "Goran", "Hana", "Ines", "Jonas", "Kemi", "Luca")
_ITEMS = ("apples", "notebooks", "stamps", "marbles", "cupcakes", "tickets", "seedlings", "pencils")
_WORDS = ("strawberry", "bookkeeper", "mississippi", "parallel", "committee", "assessment", "balloon",
          "occurrence", "necessary", "possession", "tomorrow", "raspberry", "millennium", "embarrass",
          "successful", "bottleneck", "coffee", "referee", "banana", "address", "hippopotamus", "independence",
          "pepper", "lullaby", "giraffe", "kangaroo", "chocolate", "elephant", "programming", "accommodate")


def _decimals(rng: random.Random, n: int) -> list[Question]:
    out: list[Question] = []
    while len(out) < n:
        whole = rng.randint(1, 20)
        short = rng.randint(1, 9)  # 9.9-style: one decimal
        long = rng.choice([v for v in range(10, 100) if v % 10])  # 9.11-style: more digits, often smaller
        a, b = f"{whole}.{long}", f"{whole}.{short}"
        if a == b or float(a) == float(b):
            continue
        pair = [a, b]
        rng.shuffle(pair)
        larger = max(pair, key=float)
        out.append(make(f"Which number is larger: {pair[0]} or {pair[1]}? Give the larger number.", larger,
                        "number"))
    return out


def _arithmetic(rng: random.Random, n: int) -> list[Question]:
    out: list[Question] = []
    for _ in range(n):
        name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
        boxes, per, given, price = rng.randint(3, 12), rng.randint(4, 24), rng.randint(1, 20), rng.randint(2, 9)
        template = rng.randrange(3)
        if template == 0:
            total = boxes * per - given
            text = (f"{name} buys {boxes} boxes of {item} with {per} in each box, then gives {given} away. "
                    f"How many {item} does {name} have left?")
            answer = total
        elif template == 1:
            answer = (boxes * per - given) * price
            text = (f"{name} packs {boxes} crates of {per} {item}, {given} of them are damaged, and the rest sell "
                    f"for ${price} each. How many dollars does {name} earn?")
        else:
            friends = rng.randint(2, 6)
            total = friends * per
            answer = total + given
            text = (f"{name} shares {item} equally among {friends} friends so each gets {per}, and keeps {given}. "
                    f"How many {item} did {name} start with?")
        out.append(make(text, str(answer), "number"))
    return out


def _dates_units(rng: random.Random, n: int) -> list[Question]:
    out: list[Question] = []
    for i in range(n):
        if i % 2 == 0:
            start = dt.date(2020, 1, 1) + dt.timedelta(days=rng.randint(0, 2500))
            days = rng.randint(10, 400)
            end = start + dt.timedelta(days=days)
            out.append(make(f"What date is {days} days after {start.isoformat()}? Answer as YYYY-MM-DD.",
                            end.isoformat(), "text"))
        else:
            template = rng.randrange(3)
            if template == 0:
                hours, minutes = rng.randint(1, 9), rng.choice((0, 15, 30, 45))
                out.append(make(f"How many minutes are in {hours} hours and {minutes} minutes?",
                                str(hours * 60 + minutes), "number"))
            elif template == 1:
                km = rng.randint(2, 40) * 250
                out.append(make(f"How many kilometres is {km:,} metres?", _plain(km / 1000), "number"))
            else:
                speed, time_h = rng.randint(30, 120), rng.choice((0.5, 1.5, 2, 2.5, 3))
                out.append(make(f"A train goes {speed} km/h for {_plain(time_h)} hours. How many kilometres "
                                "does it cover?", _plain(speed * time_h), "number"))
    return out


def _plain(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _letters(rng: random.Random, n: int) -> list[Question]:
    out: list[Question] = []
    seen: set[tuple[str, str]] = set()
    while len(out) < n:
        word = rng.choice(_WORDS)
        letter = rng.choice(sorted(set(word)))
        if (word, letter) in seen:
            if len(seen) >= sum(len(set(w)) for w in _WORDS):
                break
            continue
        seen.add((word, letter))
        out.append(make(f"How many times does the letter '{letter}' appear in the word '{word}'?",
                        str(word.count(letter)), "number"))
    return out


def _logic(rng: random.Random, n: int) -> list[Question]:
    out: list[Question] = []
    while len(out) < n:
        people = rng.sample(_NAMES, rng.randint(3, 5))  # listed tallest first
        clues = [f"{people[i]} is taller than {people[i + 1]}" for i in range(len(people) - 1)]
        rng.shuffle(clues)
        facts = ". ".join(clues)
        if rng.random() < 0.5:
            a, b = rng.sample(people, 2)
            answer = "yes" if people.index(a) < people.index(b) else "no"
            text = f"{facts}. Is {a} taller than {b}? Answer yes or no."
        else:
            which = rng.choice(("tallest", "shortest"))
            answer = people[0] if which == "tallest" else people[-1]
            text = f"{facts}. Who is the {which}? Answer with the name."
        question = make(text, answer)  # auto: yes/no graded as yes/no, a name as text
        if question.id not in {q.id for q in out}:
            out.append(question)
    return out


@dataclass(frozen=True)
class BundledSet:
    name: str
    description: str
    size: int
    build: Callable[[random.Random, int], list[Question]]
    seed: int

    def questions(self) -> list[Question]:
        """The same `size` distinct questions every time (a template may repeat: repeats are dropped)."""
        unique: dict[str, Question] = {}
        for question in self.build(random.Random(self.seed), self.size * 2):
            unique.setdefault(question.id, question)
        return list(unique.values())[:self.size]


BUNDLED: dict[str, BundledSet] = {s.name: s for s in (
    BundledSet("decimals", "which of two decimals is larger (9.11 vs 9.9)", 100, _decimals, 911),
    BundledSet("arithmetic", "multi-step arithmetic word problems", 100, _arithmetic, 72),
    BundledSet("dates-units", "date arithmetic and unit conversions", 100, _dates_units, 2024),
    BundledSet("letters", "counting a letter in a word", 100, _letters, 3),
    BundledSet("logic", "who is taller: orderings from clues", 100, _logic, 5),
)}


MIXED_EACH = 20


def mixed() -> list[Question]:
    """Twenty of each bundled set, taken in turn (so `--limit` keeps the mix): 100 questions."""
    sets = [s.questions()[:MIXED_EACH] for s in BUNDLED.values()]
    return [group[i] for i in range(MIXED_EACH) for group in sets]


def load_set(spec: str, notes: list[str] | None = None) -> list[Question]:
    """A bundled set by name ("mixed" takes ten of each) or a JSONL file; ConfigError says which exist.
    Lines of a file that are left out are named in `notes`."""
    key = spec.strip().lower()
    if key in BUNDLED:
        return BUNDLED[key].questions()
    if key == "mixed":
        return mixed()
    path = Path(spec).expanduser()
    if path.exists() or spec.endswith(".jsonl") or "/" in spec:
        return load_jsonl(path, notes)
    raise ConfigError(f"There is no question set called {spec!r}. Sets: {', '.join(set_names())}, or a "
                      ".jsonl file of {\"question\", \"answer\"} lines.")


def set_names() -> list[str]:
    return [*BUNDLED, "mixed"]


def listing() -> list[tuple[str, int, str]]:
    """(name, size, description) of every bundled set, for `moa-bot eval --set list`."""
    rows = [(s.name, s.size, s.description) for s in BUNDLED.values()]
    rows.append(("mixed", len(mixed()), f"{MIXED_EACH} questions of each set above, in turn"))
    return rows
