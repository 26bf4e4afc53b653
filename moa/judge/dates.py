"""Dates as answers write them, read to one day, month or year — or marked unreadable.

"14 October 1066", "October 14th, 1066", "the 14th of Oct. 1066", "14-Oct-1066", "1066-10-14", "14/10/1066"
and "1066年10月14日" are one day; "October 1066" and "1066年10月" a month; "44 BC", "AD 1066" and "公元前44年" a
year. Read as None (unreadable): numeric dates whose day and month could swap ("03/04/2025": day-first and
month-first writers would look alike), two-digit years ("3/4/25"), a date with a time ("2025-07-21T10:00")
and days no month has ("31 April").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAMES = ("January Jan", "February Feb", "March Mar", "April Apr", "May", "June Jun", "July Jul", "August Aug",
          "September Sept Sep", "October Oct", "November Nov", "December Dec")
MONTHS = {name: number for number, names in enumerate(_NAMES, 1) for name in names.split()}
# The months' abbreviations, which a point may follow ("Oct.", "Sept."; "May." and "June." end a sentence),
# grouped by length: a look-behind takes alternatives of one width only.
_SHORT = [short for names in _NAMES for short in names.split()[1:]]
ABBREVIATED = tuple("|".join(n for n in _SHORT if len(n) == width) for width in (3, 4))
_DAYS_IN = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 29 February: leap rules differ by calendar

# Month names and eras are matched case-sensitively ("may" is a verb), even inside an IGNORECASE pattern.
# "{p}" prefixes group names: each format has its own.
_MONTH = (r"(?-i:(?P<{p}_m>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r"))(?![A-Za-z])"
          r"(?:(?:" + "|".join(f"(?<={names})" for names in ABBREVIATED) + r")\.)?")  # "Oct.", not "5 May."
_ERA = r"(?-i:BCE|BC|B\.C\.|AD|CE|A\.D\.)"
_BEFORE_CHRIST = {"BCE", "BC", "B.C.", "公元前"}
_DAY = r"(?P<{p}_d>[12]\d|3[01]|0?[1-9])(?!\d)(?:st|nd|rd|th)?(?![A-Za-z])"
# A year is four digits, or fewer with an era ("44 BC"): "14 October, 250 soldiers" has no year 250.
_YEAR = r"(?:(?-i:AD)\s?)?(?P<{p}_y>\d{4}|\d{1,4}(?=\s?" + _ERA + r"))(?!\d)(?:\s?(?P<{p}_e>" + _ERA + "))?"
_START = r"(?<![\w.,/\-–—])"  # not inside a number, a token or a range ("1–14 October")
_END = r"(?![\-–—]\d)"


def _named(p: str) -> str:
    month, day, year = (piece.replace("{p}", p) for piece in (_MONTH, _DAY, _YEAR))
    return {"dmy": rf"{_START}{day}(?:\s+of)?[\s-]+{month}(?:,?[\s-]+{year})?{_END}",
            "mdy": rf"{_START}{month}\s+(?:the\s+)?{day}(?:,?\s+{year})?{_END}",
            "my": rf"{_START}{month}(?:\s+of)?,?\s+{year}{_END}"}[p]


_FORMATS = {
    **{p: _named(p) for p in ("dmy", "mdy", "my")},
    # Numbers only: year first is always year-month-day; else day and month by which can be which.
    "num": rf"{_START}(?:(?P<num_y>\d{{4}})(?P<num_s>[-/.])(?P<num_m>\d{{1,2}})(?P=num_s)(?P<num_d>\d{{1,2}})"
           r"|(?P<num_a>\d{1,2})(?P<num_t>[-/.])(?P<num_b>\d{1,2})(?P=num_t)(?P<num_y2>\d{4}|(?<=/)\d{2}))"
           r"(?P<num_time>T\d|[ T]\d{1,2}:\d)?(?(num_time)|(?![\w]|[-/.:]\d))",
    "zh": r"(?<![\d.,])(?P<zh_e>公元前|公元)?\s*(?P<zh_y>\d{1,4})\s*年\s*(?P<zh_m>\d{1,2})\s*月"
          r"(?:\s*(?P<zh_d>\d{1,2})\s*[日号])?",
    "zhmd": r"(?<![\d.,年])(?P<zhmd_m>\d{1,2})\s*月\s*(?P<zhmd_d>\d{1,2})\s*[日号]",
    "era": rf"{_START}(?:(?-i:AD)\s?(?P<era_y>\d{{1,4}})|(?P<era_y2>\d{{1,4}})\s?(?P<era_e>{_ERA}))(?![A-Za-z])"
           r"|(?P<zhera_e>公元前|公元)\s*(?P<zhera_y>\d{1,4})\s*年",
}
DATE = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _FORMATS.items()))
# A month named next to a digit ("mid-October 1066", "10月") names a date even where no format reads it; so
# do a season, quarter or half ("spring 2025", "Q3 2025", "2025年春") and a bound on a year ("before 1066"):
# their year is no plain number ("spring 2025" and "autumn 2025" are not one answer).
_MENTION = re.compile(
    _MONTH.replace("{p}", "x") + r"[\s,-]{0,3}(?:of\s+)?\d|\d(?:st|nd|rd|th)?[\s,-]{0,3}(?:of\s+)?"
    + _MONTH.replace("{p}", "y") + r"|\d\s*月"
    r"|(?i:\b(?:spring|summer|autumn|fall|winter|quarter|half|(?:before|after|until|till|since|prior to"
    r"|early|mid|late|end of|beginning of|start of|middle of)(?=[\s-]+\d{4}(?!\d)))\b[\s,-]{0,3}(?:of\s+)?\d)"
    r"|(?-i:\b[QH][1-4]\s?\d{4}\b)|\d\s*年\s*(?:[春夏秋冬]|第?[一二三四1-4]季度|[上下]半年|前|后|以前|以后|之前|之后|初|底|末)")


@dataclass(frozen=True)
class Date:
    """One date: (year, month, day) with None where it was not written (BC years negative), as written."""

    key: tuple[int | None, int | None, int | None]
    written: str


@dataclass(frozen=True)
class Found:
    """A date's place in a text, and the date (None when it cannot be read without doubt)."""

    start: int
    end: int
    date: Date | None


def dates(text: str) -> list[Found]:
    """Every date in `text`, in order."""
    return [Found(m.start(), m.end(), _date(m)) for m in DATE.finditer(text)]


def mentions_date(text: str) -> bool:
    """Whether `text` names a date, read or not."""
    return bool(DATE.search(text) or _MENTION.search(text))


def _date(m: re.Match[str]) -> Date | None:
    g = {name: value for name, value in m.groupdict().items() if value is not None}
    written = m.group(0).strip()
    if "num" in g:
        if "num_time" in g:
            return None
        if "num_y" in g:
            return _valid(int(g["num_y"]), int(g["num_m"]), int(g["num_d"]), written)
        a, b = int(g["num_a"]), int(g["num_b"])
        if len(g["num_y2"]) != 4 or (a != b and a <= 12 and b <= 12):
            return None
        day, month = (a, b) if a > 12 else (b, a)
        return _valid(int(g["num_y2"]), month, day, written)
    for p in ("dmy", "mdy", "my", "zh", "zhmd"):
        if p in g:
            written_month, written_day = g[f"{p}_m"], g.get(f"{p}_d")
            return _valid(_year(g.get(f"{p}_y"), g.get(f"{p}_e")), MONTHS.get(written_month) or int(written_month),
                          int(written_day) if written_day else None, written)
    return Date((_year(g.get("era_y") or g.get("era_y2") or g["zhera_y"], g.get("era_e") or g.get("zhera_e")),
                 None, None), written)


def _year(digits: str | None, era: str | None) -> int | None:
    if digits is None:
        return None
    return -int(digits) if era in _BEFORE_CHRIST else int(digits)


def _valid(year: int | None, month: int, day: int | None, written: str) -> Date | None:
    if not 1 <= month <= 12 or (day is not None and not 1 <= day <= _DAYS_IN[month - 1]) or year == 0:
        return None
    return Date((year, month, day), written)


# Words that make a date a bound or a part of a month ("before 14 October", "late October 1066", "1066年10月底");
# weekdays, times of day, time zones and calendars: two answers naming one day this way can still differ, and
# two naming different days can agree ("14 October 1066" Julian is 20 October Gregorian).
_BOUND_BEFORE = re.compile(
    r"(?:(?:\b(?:before|after|by|until|till|since|from|through|prior to|no later than|no earlier than|early|mid"
    r"|late|circa|(?:end|beginning|start|middle|half|week|weekend|fortnight)\s+of)\b|\bca?\.)"
    r"[\W_]*(?:\w+[\W_]+){0,2}"
    r"|(?:从|自|截至|截止|直到|到|至|早于|晚于)\s*)$", re.IGNORECASE)
_BOUND_AFTER = re.compile(r"^[\W_]*(?:(?:or|and)\s+(?:later|earlier|after|before)|at\s+the\s+(?:latest|earliest)"
                          r"|onwards?\b|之前|以前|之后|以后|前后|前|后|起|初|中旬|上旬|下旬|底|末|为止)", re.IGNORECASE)
_DETAIL = re.compile(r"(?-i:\b(?:Mon|Tues?|Wed(?:nes)?|Thu(?:rs?)?|Fri|Sat(?:ur)?|Sun)(?:day)?\b)"
                     r"|(?-i:\b(?:UTC|GMT|[A-Z]{2,4}T|O\.S\.|N\.S\.)(?!\w)"
                     r"|\b(?:Julian|Gregorian|Old Style|New Style)\b)"
                     r"|\b(?:time zone|local time|calendar)\b|农历|阴历|旧历|公历|阳历|儒略|格里|时区"
                     r"|\b(?:noon|midnight|o'clock|morning|afternoon|evening|night|dawn|dusk)\b"
                     r"|\d:\d\d|\d\s*(?:am|pm|a\.m\.|p\.m\.)(?!\w)"
                     r"|星期|礼拜|周[一二三四五六日天]|[上下]午|早上|晚上|中午|凌晨|傍晚|[零一二三四五六七八九十两]点",
                     re.IGNORECASE)


def qualified(text: str, found: Found) -> bool:
    """Whether `text` makes the date it holds at `found` a bound or a part of a month, or names a weekday, a time
    of day, a time zone or a calendar."""
    return bool(_BOUND_BEFORE.search(text[:found.start]) or _BOUND_AFTER.match(text[found.end:])
                or _DETAIL.search(text))
