"""What one reply concluded, read the way a careful person would — or nothing when that is unclear.

Chat models reason first and conclude in bold, after "so"/"the answer is", in the first or the last
sentence; they mention numbers they did not choose (in brackets, "one more than the usual 365"), negate
("9.11 is not larger"), compare in either direction and answer in Chinese. The reader looks where a
conclusion is (a `\\boxed{}`, a stated answer, the last bold sentence; else the last or the first
sentence) and reads one of: an ordering of two numbers ("9.9 > 9.11", "9.11比9.9小"), the larger or
smaller one ("the larger is 9.9", "9.9更大"), a quantity with its unit, a date (`dates.py`: a region naming
one concludes that date or nothing), a choice letter, yes/no, or a short name. It returns None whenever
the places it looks disagree, a negation is left it cannot place, or a number or a date is ambiguous:
agreement built on it is then silent rather than wrong.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from moa.judge.dates import ABBREVIATED, DATE, Found, dates, mentions_date, qualified
from moa.judge.quantity import DIGITS, NUMBER, Quantity, comma_is_decimal, quantities

Kind = Literal["order", "larger", "smaller", "quantity", "date", "choice", "yesno", "name"]


@dataclass(frozen=True)
class Conclusion:
    """One reply's conclusion: `key` compares (equal keys are the same answer), `label` names it."""

    kind: Kind
    key: tuple[object, ...]
    label: str


class _Doubt(Exception):
    """The region says something the reader cannot place (a stray negation, an ambiguous number)."""


# Not after a digit and a space: "000" in "1 000 is larger than 999" is no number of its own.
_NUM = rf"(?<![\d.])(?<!\d,)(?<!\d\s)[-−]?{DIGITS}(?:\s?%)?"
# A conclusion is a sentence; a longer run of text without a sentence end is not read (and not scanned).
MAX_REGION = 1200
_BIG = "larger|greater|bigger|higher|more"
_SMALL = "smaller|less|lower|fewer|lesser"
_ADVERB = r"(?:(?:strictly|slightly|much|a bit|a little|actually|indeed|definitely|clearly|still|numerically)\s+)?"
_ORDER_EN = re.compile(
    rf"(?P<a>{_NUM})\s*(?:is|are|was|'s)(?P<neg>\s+not|n't)?\s+{_ADVERB}(?P<rel>{_BIG}|{_SMALL})\s+than\s+"
    rf"(?P<b>{_NUM})", re.IGNORECASE)
_ORDER_SYMBOL = re.compile(rf"(?P<a>{_NUM})\s*(?P<rel>[<>])\s*(?P<b>{_NUM})")
_ORDER_ZH = re.compile(
    rf"(?P<a>{_NUM})\s*(?P<neg>不)?\s*(?:比\s*(?P<b>{_NUM})\s*(?:更|还|要)?\s*(?P<rel>大|小|多|少|高|低)"
    rf"|(?P<rel2>大于|小于|多于|少于|高于|低于)\s*(?P<b2>{_NUM}))")
_EXTREME_EN = re.compile(
    rf"\bthe\s+(?P<rel>{_BIG}|{_SMALL}|largest|smallest)(?:\s+(?:number|one|value|of the two|decimal))?"
    rf"(?:\s+(?:is|was|would be)|\s*[:=])\s*(?P<a>{_NUM})"
    rf"|(?P<a2>{_NUM})\s*(?:is|was|would be|'s)(?P<neg>\s+not|n't)?\s+{_ADVERB}(?:the\s+)?"
    rf"(?P<rel2>{_BIG}|{_SMALL}|largest|smallest)\b(?!\s+than)(?:\s+(?:number|one|value|of the two))?",
    re.IGNORECASE)
_EXTREME_ZH = re.compile(
    rf"(?P<a>{_NUM})\s*(?P<neg>不)?(?:更|较|比较|要)(?P<rel>大|小)"
    rf"|(?:更|较|比较)(?P<rel2>大|小)的(?:数|数字|那个|是)*\s*(?:是)?\s*(?P<a2>{_NUM})")
_BIG_WORDS = {"larger", "greater", "bigger", "higher", "more", "largest", "大", "多", "高", "大于", "多于", "高于"}

_NEGATION = re.compile(r"\b(?:not|no|never|neither|nor|cannot)\b|n't\b|不|没|非|并非", re.IGNORECASE)
# Words that make a stated amount a guess or a range: no agreement is built on them.
_HEDGE = re.compile(
    r"\b(?:maybe|perhaps|probably|possibly|might|could|unsure|either|or|at least|at most|almost|nearly|roughly"
    r"|approximately|about|around|between|somewhere|circa)\b|\bca?\.(?=\s?\d)|可能|大概|也许|或|约|左右|大约",
    re.IGNORECASE)
# Short replies that are not names.
_NOT_NAMES = {"none", "nothing", "unknown", "sure", "ok", "okay", "hmm", "well", "thanks", "hello", "hi", "great",
              "n a", "it depends", "depends", "good question", "but", "so", "and", "however", "therefore", "thus"}
# What an answer rules out ("B, not C", "5 m rather than 5 km", "而不是9.11"): set aside before reading.
_EXCLUDED = re.compile(
    rf"(?:\bnot\b|\brather than\b|\binstead of\b|而不是|不是|并非)\s*(?:the\s+)?"
    rf"(?:\(?[A-H]\)?(?![\w])|{DATE.pattern}|{NUMBER.pattern}|(?-i:[A-Z][\w-]*(?:\s[A-Z][\w-]*)?)|[\u4e00-\u9fff]{{1,6}})",
    re.IGNORECASE)
# Numbers mentioned only to be compared with ("one more than the usual 365", "up from 12").
_DISTRACTOR = re.compile(
    rf"(?:\b(?:more|less|fewer|greater|larger|smaller|higher|lower)\s+than|\bup from|\bdown from|\bcompared (?:to|with)"
    rf"|\bversus|\bvs\.?)\s+(?:the\s+)?(?:usual|normal|typical|standard|regular|expected|original|old)?\s*"
    rf"(?:{NUMBER.pattern})", re.IGNORECASE)
_ASIDE = re.compile(r"\((?![A-Ha-h]\))[^()]*\)|（[^（）]*）|\[[^\]]*\]")
_STATED = re.compile(
    r"(?:\bfinal answer\s*(?:is|:)?|\bthe (?:correct |right |short )?answer (?:is|would be|will be)\s*:?"
    r"|\banswer\s*[:：]"
    r"|\bso,?\b|\btherefore,?|\bthus,?|\bhence,?|\bin (?:short|conclusion|summary),?|答案(?:是|为|：|:)"
    r"|所以|因此|综上(?:所述)?[，,]?|结论(?:是|：|:))",
    re.IGNORECASE)
# A month's abbreviation or "c." (circa) before a number ("Oct. 14", "c. 1066") ends no sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?=\s)(?<!\d\.)"
                           r"(?!(?<=\bc\.)\s+\d)(?!(?<=\bca\.)\s+\d)"
                           + "".join(rf"(?!(?<=(?:{names})\.)\s+\d)" for names in ABBREVIATED)
                           + r"|(?<=[。！？])|\n+")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_YES = re.compile(r"^(?:(?:yes|yeah|yep|correct|true)(?=\s*[.,!;:—–-]|\s*$)|(?:是的|是|对|正确)(?![\w]))",
                  re.IGNORECASE)
_NO = re.compile(r"^(?:(?:no|nope|false|incorrect)(?=\s*[.,!;:—–-]|\s*$)|(?:不是|不对|否|不|没有|错)(?![\w]))",
                 re.IGNORECASE)
_CHOICE = (
    re.compile(r"^\s*(?:option|choice|选项|选)?\s*\(?([A-H])\)?(?:[.):：,。]|\s*$)"),
    re.compile(r"\b(?:option|choice)\s+\(?([A-H])\)?(?![\w'])", re.IGNORECASE),
    re.compile(r"选(?:项)?\s*([A-H])(?![\w])"),
    re.compile(r"(?<![\w(])\(([A-H])\)"),
)
_NAME_AT_END = re.compile(r"\b(?:is|was|are)\s+((?:[A-Z][\w'-]*)(?:\s[A-Z][\w'-]*){0,2})\s*[.!]?$")
_ARTICLES = {"a", "an", "the"}
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_KEEP = {space: chr(0xE000 + i) for i, space in enumerate("\u00a0\u2007\u2009\u202f")}  # private-use stand-ins
_KEPT = str.maketrans({ord(stand_in): space for space, stand_in in _KEEP.items()})
# A number right after a capitalised word names something ("Apollo 11", "Windows 2000", "Easter 2025"),
# unless the word only starts the sentence ("Exactly 144.", "Total 144"; see _sentence_word).
_LABELLED = re.compile(r"(?<![\w'’-])((?-i:[A-Z][a-z]+))\s+[-−]?\d")
_SENTENCE_WORDS = {"answer", "total", "result", "so", "thus", "hence", "therefore", "just", "only", "about",
                   "around", "over", "under", "and", "then", "now", "yes", "no", "it", "that", "which", "is", "was",
                   "are", "equals", "makes", "gives", "get", "got", "we", "they", "you", "i", "final", "sum"}
# Reasons given after the conclusion ("…, because 11 is more than 9") are not the conclusion.
_REASON = re.compile(r"[,，;；]\s*(?:because|since|as)\b.*$|\s+because\b.*$|[,，;；]?\s*(?:因为|由于).*$",
                     re.IGNORECASE)
# "It's Jupiter", "That is Canberra": the name without its lead-in.
_LEAD_IN = re.compile(r"^(?:it|this|that|the answer)(?:'s|\s+is|\s+was|\s+would be)\s+", re.IGNORECASE)
# An opening sentence this short can be an answer given first ("42. Here is why: …").
SHORT_OPENING_WORDS = 8


def conclusion(text: str) -> Conclusion | None:
    """What `text` concluded, or None when it cannot be read without doubt."""
    text = _plain(text)
    strong = [r for r in (_boxed(text), _stated(text), _bold_sentence(text), _verdict_first(text)) if r is not None]
    try:
        found = [c for c in (_read(region, bold, names=True) for region, bold in strong) if c is not None]
        if found:
            return found[0] if all(c.key == found[0].key for c in found) else None
        if strong:  # it states an answer the reader cannot read ("the answer is **none of them**"): unclear
            return None
        sentences = _sentences(text)
        if not sentences:
            return None
        last = _read(sentences[-1], None, names=True)
        if last is not None or len(sentences) == 1 or len(sentences[0].split()) > SHORT_OPENING_WORDS:
            return last
        return _read(sentences[0], None, names=False)
    except _Doubt:
        return None


def _plain(text: str) -> str:
    text = re.sub(r"<think>.*?</think>", " ", text, flags=re.DOTALL)
    # "10⁶" is a power; NFKC alone would make it "106".
    text = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+", lambda m: "^" + m.group(0).translate(_SUPERSCRIPT), text)
    # NFKC makes thin and no-break spaces plain ones: those between digits are kept (thousands separators).
    text = re.sub(r"(?<=\d)[\u00a0\u2007\u2009\u202f](?=\d)", lambda m: _KEEP[m.group(0)], text)
    text = unicodedata.normalize("NFKC", text).translate(_KEPT)
    text = re.sub(r"\\\(|\\\)|\\\[|\\\]|\$\$", " ", text)
    text = re.sub(r"\\text\{([^}]*)\}", r"\1", text).replace("\\times", "×").replace("\\%", "%")
    text = re.sub(r"^\s*(?:#+|[-*•]|\d+[.)])\s+", "", text, flags=re.MULTILINE)  # headings and list marks
    return text.replace("`", "").replace("*answer*", "answer")


def _boxed(text: str) -> tuple[str, str | None] | None:
    found = list(re.finditer(r"\\(?:boxed|fbox)\{((?:[^{}]|\{[^{}]*\})*)\}", text))
    return (found[-1].group(1), None) if found else None


def _sentences(text: str) -> list[str]:
    """The text's sentences without its markup, questions left out (they ask, they do not conclude)."""
    parts = [p.replace("**", "").replace("__", "").strip() for p in _SENTENCE_END.split(text)]
    return [p for p in parts if p and not p.endswith(("?", "？")) and re.search(r"\w", p)]


def _stated(text: str) -> tuple[str, str | None] | None:
    plain = text.replace("**", "").replace("__", "")
    marks = [m for m in _STATED.finditer(plain)]
    if not marks:
        return None
    tail = plain[marks[-1].end():]
    region = _SENTENCE_END.split(tail.strip(" :：,，"), maxsplit=1)[0].strip()
    return (region, None) if region and not region.endswith(("?", "？")) else None


def _verdict_first(text: str) -> tuple[str, str | None] | None:
    """A reply that opens with its verdict ("Yes.", "**No**, because…", "不是。"): that opening."""
    sentences = _sentences(text)
    if sentences and _yes_no(sentences[0]) is not None:
        return sentences[0], None
    return None


def _bold_sentence(text: str) -> tuple[str, str | None] | None:
    """The sentence holding the last bold phrase that is not a heading, and the phrase."""
    for sentence in reversed(_SENTENCE_END.split(text)):
        if sentence.strip().endswith(("?", "？")) or len(sentence) > MAX_REGION:
            continue
        bolds = [b.group(1) or b.group(2) for b in _BOLD.finditer(sentence)]
        bolds = [b.strip() for b in bolds if not b.strip().endswith((":", "：")) and not _NEGATION.fullmatch(b.strip())]
        if bolds:
            return sentence.replace("**", "").replace("__", "").strip(), bolds[-1]
    return None


def _read(region: str, bold: str | None, *, names: bool) -> Conclusion | None:
    """One region's conclusion; raises _Doubt when it says something the reader cannot place."""
    if len(region) > MAX_REGION:
        return None
    region = _REASON.sub("", _ASIDE.sub(" ", region.replace("**", ""))).strip()
    if not region:
        return None
    decimal_comma = comma_is_decimal(region)
    dated = mentions_date(region)  # its digits are a date's: no ordering of numbers is read from them
    compared, rest = (None, region) if dated else _comparison(region, decimal_comma)
    if compared is not None:
        if _NEGATION.search(_EXCLUDED.sub(" ", rest)):
            raise _Doubt
        return compared
    verdict = _yes_no(bold or region) or (_yes_no(region) if bold else None)
    if verdict is not None:
        return verdict
    rest = _EXCLUDED.sub(" ", region)
    focus = _EXCLUDED.sub(" ", bold) if bold else None
    if _NEGATION.search(rest) or (focus is not None and _NEGATION.search(focus)):
        raise _Doubt
    if dated:  # a date is the answer, or the context of a bold answer beside it: its digits are never one
        if focus is None or mentions_date(focus):
            return _date(focus, rest)
        rest = focus
    if _HEDGE.search(focus if focus is not None else rest):
        raise _Doubt
    for reader in (_choice, _quantity, _name) if names else (_choice, _quantity):
        found = reader(focus, decimal_comma) if focus is not None else None
        if found is None and (focus is None or reader is not _name):
            found = reader(rest, decimal_comma)
        if found is not None:
            return found
    return None


def _date(focus: str | None, rest: str) -> Conclusion | None:
    """The one date the bold phrase (else the region) names with no other number beside it, unqualified."""
    if _HEDGE.search(rest):
        raise _Doubt
    around = dates(rest)
    found = dates(focus) if focus is not None else around
    if any(f.date is None for f in [*around, *found]):
        raise _Doubt
    read = {f.date.key: f.date for f in found if f.date is not None}
    if len(read) != 1:
        return None
    (key, date), = read.items()
    if re.search(r"\d", _without(focus if focus is not None else rest, found)):
        return None  # "14 October 1066, 19 days after…": which is the answer is not said
    same = [f for f in around if f.date is not None and f.date.key == key]
    if not same or any(qualified(rest, f) for f in same):
        return None  # a bold date the sentence rules out, or "before 14 October", "on a Saturday"
    return Conclusion("date", key, date.written)


def _without(text: str, found: list[Found]) -> str:
    for f in reversed(found):
        text = text[:f.start] + " " + text[f.end:]
    return text


def _number(raw: str, decimal_comma: bool | None) -> Quantity:
    read = [q for q in quantities(raw, decimal_comma)]
    if len(read) != 1 or read[0] is None:
        raise _Doubt
    return read[0]


def _comparison(region: str, decimal_comma: bool | None) -> tuple[Conclusion | None, str]:
    """An ordering or an extreme stated in `region` (all such statements must agree), and the rest."""
    facts: list[Conclusion] = []
    rest = region
    for pattern in (_ORDER_EN, _ORDER_SYMBOL, _ORDER_ZH):
        for m in pattern.finditer(region):
            a = _number(m.group("a"), decimal_comma)
            b = _number(m.group("b") or m.group("b2") if "b2" in pattern.groupindex else m.group("b"), decimal_comma)
            rel = m.group("rel") or (m.group("rel2") if "rel2" in pattern.groupindex else None) or ""
            a_bigger = rel.lower() in _BIG_WORDS or rel == ">"
            if "neg" in pattern.groupindex and m.group("neg"):
                a_bigger = not a_bigger
            if a.value == b.value:
                raise _Doubt
            hi, lo = (a, b) if a_bigger else (b, a)
            facts.append(Conclusion("order", (hi.value, lo.value), f"{hi.written} > {lo.written}"))
            rest = rest.replace(m.group(0), " ")
    for pattern in (_EXTREME_EN, _EXTREME_ZH):
        for m in pattern.finditer(rest):
            a = _number(m.group("a") or m.group("a2"), decimal_comma)
            rel = (m.group("rel") or m.group("rel2")).lower()
            big = rel in _BIG_WORDS or rel.startswith("larg")
            if m.group("neg"):
                big = not big
            kind: Kind = "larger" if big else "smaller"
            facts.append(Conclusion(kind, (a.value,), f"{a.written} {kind}"))
            rest = rest.replace(m.group(0), " ")
    if not facts:
        return None, region
    merged = settle(facts)
    if merged is None:
        raise _Doubt
    return merged, rest


def settle(facts: list[Conclusion]) -> Conclusion | None:
    """Comparison facts as one: orderings win and must agree; "9.9 larger" joins "9.9 > 9.11"; None when
    they contradict or cannot be joined."""
    orders = {f.key for f in facts if f.kind == "order"}
    if len(orders) > 1:
        return None
    if orders:
        order = next(f for f in facts if f.kind == "order")
        hi, lo = order.key
        for f in facts:
            if (f.kind == "larger" and f.key != (hi,)) or (f.kind == "smaller" and f.key != (lo,)):
                return None
        return order
    if len({(f.kind, f.key) for f in facts}) > 1:
        return None
    return facts[0]


def _yes_no(region: str) -> Conclusion | None:
    head = region.strip().strip("*_ ").lstrip("—-–:：")
    if m := _NO.match(head):
        return Conclusion("yesno", ("no",), m.group(0))
    if (m := _YES.match(head)) and not head.startswith("是否"):
        return Conclusion("yesno", ("yes",), m.group(0))
    return None


def _choice(region: str, decimal_comma: bool | None) -> Conclusion | None:
    letters: set[str] = set()
    for pattern in _CHOICE:
        letters |= {m.group(1).upper() for m in pattern.finditer(region)}
    if len(letters) > 1:
        raise _Doubt
    if not letters:
        return None
    letter = letters.pop()
    return Conclusion("choice", (letter,), letter)


def _quantity(region: str, decimal_comma: bool | None) -> Conclusion | None:
    region = _DISTRACTOR.sub(" ", region)
    if any(m.start() > 0 or not _sentence_word(m.group(1)) for m in _LABELLED.finditer(region.strip())):
        raise _Doubt  # "Apollo 11" and "Gemini 11", "Easter 2025" and "Christmas 2025": a name, not an amount
    if "=" in region:  # "0.1 + 0.2 = 0.3": the equation's result
        region = region.rsplit("=", 1)[1]
    found = quantities(region, decimal_comma)
    if not found:
        return None
    if any(q is None for q in found):
        raise _Doubt
    read = [q for q in found if q is not None]
    if len({(q.dimension, q.value) for q in read}) > 1:
        return None  # several amounts: which one is the answer is not said here
    q = read[0]
    return Conclusion("quantity", (q.dimension, q.value), q.written)


def _sentence_word(word: str) -> bool:
    """Whether a capitalised word before a number at a region's start is only the sentence's first word."""
    return word.lower() in _SENTENCE_WORDS or word.endswith("ly")


def _name(region: str, decimal_comma: bool | None) -> Conclusion | None:
    """A short proper name ("Canberra", "New York", "木星"): capitalised words or a few CJK characters.
    Lower-case phrases are left unread: "paris is nice" and "Paris" would look like two answers."""
    region = _LEAD_IN.sub("", region.strip().strip(".!。！,，:：;；").strip())
    if re.search(r"\d", region):
        return None
    if not _proper(region):
        m = _NAME_AT_END.search(region)
        if m is None:
            return None
        region = m.group(1)
    key = normalise_name(region)
    return Conclusion("name", (key,), region) if key and key not in _NOT_NAMES else None


def _proper(phrase: str) -> bool:
    words = phrase.split()
    if len(words) == 1 and re.fullmatch(r"[\u4e00-\u9fff]{1,6}", phrase):
        return True
    return 1 <= len(words) <= 3 and all(re.fullmatch(r"[A-Z][\w'-]*", w) for w in words)


def normalise_name(text: str) -> str:
    """A short answer as compared: case, punctuation and articles set aside ('The Eiffel-Tower' → 'eiffel tower')."""
    folded = re.sub(r"[^\w\s]", " ", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(w for w in folded.split() if w not in _ARTICLES)
