"""The final answer in a model's reply, normalised so it can be graded without a judge model.

A number is the reply's *final* number: a `\\boxed{}` wins, then a stated answer ("the answer is …",
"**Answer:** …", GSM8K's "#### 72"), else the last number written. Thousands separators, currency,
units, percent signs and trailing periods are tolerated. A choice is a single letter ("(B)",
"Answer: B", "B."); yes/no is "yes"/"no"; text is compared after normalisation (case, spacing,
punctuation, articles).

Stated answers are searched from the end: a reply that says "the answer is 12… wait, no, the answer
is 15" answers 15, and reasoning that mentions the right number early does not count.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

Kind = Literal["number", "choice", "text", "auto"]


@dataclass(frozen=True)
class Extracted:
    """One final answer: `kind` is number, choice, yesno or text; `value` is its canonical form."""

    kind: Literal["number", "choice", "yesno", "text"]
    value: str


# A number as people write it: optional sign, digits with optional thousands separators, optional decimals.
# Thousands groups are comma, thin space or underscore; a lone "1,5" is read as 15 only when grouped by 3.
_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>[-−–+]?)[$€£¥]?\s?"
    r"(?P<int>\d{1,3}(?:[,\u2009\u202f_]\d{3})+|\d+)?(?P<frac>\.\d+)?(?![\d])"
)
_FRACTION = re.compile(r"(?<![\w./])(?P<sign>[-−]?)(?P<num>\d+)\s*/\s*(?P<den>\d+)(?![\w/])")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\{\s*(?P<num>-?\d+)\s*\}\{\s*(?P<den>\d+)\s*\}")

# Phrases that introduce a stated final answer; the text after the last one is the answer.
_STATED = re.compile(
    r"(?:####"
    r"|\bfinal answer\s*(?:is|:|=)?"
    r"|\bthe (?:correct |right )?answer (?:is|would be|will be)\s*:?"
    r"|\banswer\s*[:=]"
    r"|\*\*answer\*\*\s*:?"
    r"|\*\*answer:\*\*"
    r"|\*\*final answer:?\*\*\s*:?"
    r"|\bso the result is\b"
    r"|\btherefore,? the (?:result|total|number) is\b"
    r")",
    re.IGNORECASE,
)
# "72 apples", "$1,200", "15 km/h", "40%": a number with a unit is still a number to grade.
_NUMBER_WITH_UNIT = re.compile(r"[-−]?[$€£¥]?\s?\d[\d,]*(?:\.\d+)?\s?%?(?:\s?[A-Za-z/²³]+){0,2}\.?")


def _boxed(text: str) -> str | None:
    """The content of the last `\\boxed{…}` (or `\\fbox{…}`), braces balanced."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return "".join(out)
        out.append(ch)
        i += 1
    return None


def _stated(text: str) -> str | None:
    """What follows the last "the answer is …"-style phrase, up to the end of its line."""
    matches = list(_STATED.finditer(text))
    if not matches:
        return None
    tail = text[matches[-1].end():]
    line = tail.strip().split("\n", 1)[0].strip()
    return line or None


def canonical_number(raw: str) -> str | None:
    """'1,234.50' → '1234.5', '-3.0' → '-3', '.25' → '0.25'; None when `raw` is not a number."""
    cleaned = raw.strip().replace("−", "-").replace("–", "-")
    cleaned = re.sub(r"[,\u2009\u202f_\s$€£¥%]", "", cleaned).rstrip(".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return str(int(value))
    text = format(value.normalize(), "f")
    return text


def _numbers_in(text: str) -> list[str]:
    """Every number in `text`, canonical, in order; fractions like 3/4 become 0.75 where exact enough."""
    found: list[tuple[int, str]] = []
    spans: list[tuple[int, int]] = []
    for m in _LATEX_FRAC.finditer(text):
        value = _fraction_value(m.group("num"), m.group("den"))
        if value is not None:
            found.append((m.start(), value))
            spans.append(m.span())
    for m in _FRACTION.finditer(text):
        if any(a <= m.start() < b for a, b in spans):
            continue
        value = _fraction_value(m.group("sign") + m.group("num"), m.group("den"))
        if value is not None:
            found.append((m.start(), value))
            spans.append(m.span())
    for m in _NUMBER.finditer(text):
        if not (m.group("int") or m.group("frac")):
            continue
        if any(a <= m.start() < b for a, b in spans):
            continue
        sign = "-" if m.group("sign") in ("-", "−", "–") else ""
        value = canonical_number(sign + (m.group("int") or "0") + (m.group("frac") or ""))
        if value is not None:
            found.append((m.start(), value))
    found.sort(key=lambda item: item[0])
    return [value for _, value in found]


def _fraction_value(num: str, den: str) -> str | None:
    try:
        denominator = Decimal(den)
        if denominator == 0:
            return None
        return canonical_number(str(Decimal(num.replace("−", "-")) / denominator))
    except InvalidOperation:
        return None


def _strip_markup(text: str) -> str:
    """Drop markdown emphasis and LaTeX wrappers that sit around answers."""
    text = text.replace("\\$", "$").replace("\\%", "%").replace("\\,", "")
    text = re.sub(r"\\text\{([^}]*)\}", r"\1", text)
    text = re.sub(r"\\(?:mathrm|mathbf)\{([^}]*)\}", r"\1", text)
    return text.replace("**", "").replace("__", "").replace("`", "")


def _number(text: str) -> Extracted | None:
    for source in (_boxed(text), _stated(_strip_markup(text).replace("\\(", "").replace("\\)", ""))):
        if source is not None:
            clause = re.split(r"\(|[.;,]\s", source, maxsplit=1)[0]
            if "=" in clause:  # "the answer is 5 - 2 = 3": the equation's result, not a later aside's
                source = clause.rsplit("=", 1)[1]
            numbers = _numbers_in(_strip_markup(source))
            if numbers:
                # The first number after the phrase is the answer ("the answer is 72 apples, 8 each").
                return Extracted("number", numbers[0])
    numbers = _numbers_in(_strip_markup(text))
    return Extracted("number", numbers[-1]) if numbers else None


_CHOICE_PATTERNS = (
    re.compile(r"\banswer\s*(?:is|:)?\s*(?:option\s*)?\(?([A-J])\)?(?![\w'])", re.IGNORECASE),
    re.compile(r"\b(?:option|choice)\s*(?:is\s*)?\(?([A-J])\)?(?![\w'])"),
    re.compile(r"\(([A-J])\)"),
    re.compile(r"^\s*([A-J])[.):]?\s*$", re.MULTILINE),
    re.compile(r"^\s*([A-J])[.):]\s", re.MULTILINE),
)


def _choice(text: str) -> Extracted | None:
    boxed = _boxed(text)
    if boxed is not None:
        m = re.fullmatch(r"\s*(?:\\text\{)?\(?([A-Ja-j])\)?\}?\s*", boxed)
        if m:
            return Extracted("choice", m.group(1).upper())
    plain = _strip_markup(text)
    stated = _stated(plain)
    if stated is not None:
        m = re.match(r"\s*(?:option\s*)?\(?([A-J])\)?(?![\w'])", stated, re.IGNORECASE)
        if m:
            return Extracted("choice", m.group(1).upper())
    for pattern in _CHOICE_PATTERNS:
        matches = list(pattern.finditer(plain))
        if matches:
            return Extracted("choice", matches[-1].group(1).upper())
    return None


_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def _yes_no(text: str) -> Extracted | None:
    plain = _strip_markup(text)
    for source in (_boxed(text), _stated(plain)):
        if source is not None:
            m = _YES_NO.search(source)
            if m:
                return Extracted("yesno", m.group(1).lower())
    first = _YES_NO.match(plain.strip())
    if first:  # "Yes — 9.9 is larger." leads with the verdict
        return Extracted("yesno", first.group(1).lower())
    matches = list(_YES_NO.finditer(plain))
    return Extracted("yesno", matches[-1].group(1).lower()) if matches else None


def normalise_text(text: str) -> str:
    """Case, accents, punctuation, articles and spacing folded away: 'The  Eiffel-Tower.' → 'eiffel tower'."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    folded = re.sub(r"[^\w\s]", " ", folded)
    words = [w for w in folded.split() if w not in ("a", "an", "the")]
    return " ".join(words)


def _text(text: str) -> Extracted | None:
    source = _boxed(text)
    if source is None:
        source = _stated(_strip_markup(text))
    if source is None:
        lines = [line for line in text.strip().splitlines() if line.strip()]
        source = lines[-1] if lines else ""
    value = normalise_text(_strip_markup(source))
    return Extracted("text", value) if value else None


def _looks_like(expected: str) -> Literal["number", "choice", "yesno", "text"]:
    stripped = expected.strip()
    if canonical_number(stripped) is not None or _NUMBER_WITH_UNIT.fullmatch(stripped):
        return "number"
    if re.fullmatch(r"\(?[A-Ja-j]\)?\.?", stripped):
        return "choice"
    if stripped.lower().rstrip(".") in ("yes", "no"):
        return "yesno"
    return "text"


def final_answer(text: str, kind: Kind = "auto") -> Extracted | None:
    """The final answer of `kind` in `text`, or None when there is none.

    With kind "auto" a boxed or stated answer decides the kind (number, a single letter, yes/no);
    otherwise the last number, else the whole reply as text.
    """
    match kind:
        case "number":
            return _number(text)
        case "choice":
            return _choice(text)
        case "text":
            yes_no = _YES_NO.fullmatch(_strip_markup(text).strip().rstrip(".!").strip())
            return Extracted("yesno", yes_no.group(1).lower()) if yes_no else _text(text)
    stated = _boxed(text)
    if stated is None:
        stated = _stated(_strip_markup(text))
    if stated is not None:
        inferred = _looks_like(_strip_markup(stated).rstrip(".").strip())
        if inferred == "yesno" or (inferred == "text" and _YES_NO.match(stated.strip())):
            return _yes_no(text)
        if inferred == "choice":
            return _choice(text)
        if inferred == "number" or _numbers_in(stated):
            return _number(text)
        return _text(text)
    if _YES_NO.match(_strip_markup(text).strip()):  # "Yes, because…" leads with the verdict
        return _yes_no(text)
    return _number(text) or _text(text)


# A sentence that asks: from a sentence start to its "?", never across a sentence end ("7.3" is no end).
_ASKING = re.compile(r"(?:^|(?<=[.!。！？]\s)|(?<=\?\s))(?:[^\n.!?。！？]|\.(?!\s|$))*[?？]", re.MULTILINE)


def without_echo(answer_text: str, question: str) -> str:
    """The reply without what only repeats the question: lines of the question copied back, and sentences
    that ask ("…7.3 or 7.99?"). A number or a choice the question offers is not an answer by itself."""
    for line in (q.strip() for q in question.splitlines()):
        if len(line) >= 8:
            answer_text = answer_text.replace(line, " ")
    return _ASKING.sub(" ", answer_text)


def grade(answer_text: str, expected: str, kind: Kind = "auto", question: str | None = None) -> bool:
    """Whether the reply `answer_text` gives the `expected` answer (GSM8K's "… #### 72" is read as 72).

    With kind "auto" the expected answer's own shape decides: a number, a single letter, yes/no, or text.
    With the `question`, what merely echoes it is not graded (`without_echo`).
    """
    if question is not None:
        answer_text = without_echo(answer_text, question)
    expected_text = expected.rsplit("####", 1)[1] if "####" in expected else expected
    wanted_kind = _looks_like(expected_text) if kind == "auto" else kind
    if wanted_kind == "number":
        want = canonical_number(expected_text.strip())
        if want is None:
            numbers = _numbers_in(expected_text)
            want = numbers[-1] if numbers else None
        got = _number(answer_text)
        return want is not None and got is not None and Decimal(got.value) == Decimal(want)
    if wanted_kind == "choice":
        got = _choice(answer_text)
        letter = re.sub(r"[^A-Ja-j]", "", expected_text)[:1].upper()
        return got is not None and got.value == letter
    if wanted_kind == "yesno":
        got = _yes_no(answer_text)
        return got is not None and got.value == expected_text.strip().lower().rstrip(".")
    got_text = final_answer(answer_text, "text")
    want_text = normalise_text(expected_text)
    if got_text is None:
        return False
    if got_text.value == want_text:
        return True
    # A short expected answer stated inside the final line ("It is Paris.") counts; reasoning elsewhere does not.
    return bool(want_text) and re.search(rf"(?<!\w){re.escape(want_text)}(?!\w)", got_text.value) is not None \
        and len(got_text.value.split()) <= len(want_text.split()) + 4
