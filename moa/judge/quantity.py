"""Numbers as people write them in answers, read to one exact value with its unit.

"minus 5 °C", "2,5 km", "1.234,5", "10^3", "1×10⁶", "3/4", "75 %", "3 hours", "零下5度": each becomes a
`Quantity` (a Decimal in the unit's base — metres, seconds, kelvin… — and the unit's dimension), so
"5 km" and "5000 m" are the same answer and "3 hours" and "3 minutes" are not. A comma between digits is
a thousands separator or a decimal comma by context (`comma_is_decimal`: "1,234" is 1234 unless the same
text writes "2,5"); groups that fit neither way read as None. Thousands grouped by spaces ("1 000 000",
"2 234.", a thin or narrow no-break space) are one number; "2 3" or "2 500 ml bottles" are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

# Digits kept after converting units: more than any answer writes (0.30000000000000004 has 17).
SIGNIFICANT = 20
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")

# (dimension, factor to the base unit); temperatures are converted separately (offsets).
_UNITS: dict[str, tuple[str, Decimal]] = {}


def _units(dimension: str, factor: str, *names: str) -> None:
    for name in names:
        _UNITS[name] = (dimension, Decimal(factor))


_units("length", "1000", "km", "kms", "kilometer", "kilometers", "kilometre", "kilometres", "公里", "千米")
_units("length", "1", "m", "meter", "meters", "metre", "metres", "米")
_units("length", "0.01", "cm", "centimeter", "centimeters", "centimetre", "centimetres", "厘米")
_units("length", "0.001", "mm", "millimeter", "millimeters", "millimetre", "millimetres", "毫米")
_units("length", "1609.344", "mi", "mile", "miles", "英里")
_units("length", "0.3048", "ft", "foot", "feet")
_units("mass", "1000", "kg", "kilogram", "kilograms", "公斤", "千克")
_units("mass", "1", "g", "gram", "grams", "克")
_units("mass", "453.59237", "lb", "lbs", "pound", "pounds")
_units("time", "1", "s", "sec", "secs", "second", "seconds", "秒")
_units("time", "60", "min", "mins", "minute", "minutes", "分钟")
_units("time", "3600", "h", "hr", "hrs", "hour", "hours", "小时")
_units("time", "86400", "day", "days", "天")
_units("time", "604800", "week", "weeks", "周")
_units("time", "31557600", "year", "years", "年")
_units("speed", "1", "m/s")
_units("speed", "0.2777777777777777777777777778", "km/h", "kph")
_units("speed", "0.44704", "mph")
_units("money", "1", "$", "usd", "dollar", "dollars")
_units("money_eur", "1", "€", "eur", "euro", "euros")
_units("money_cny", "1", "元", "yuan", "rmb", "¥")
_units("angle", "1", "°", "deg", "degree", "degrees", "度")
_TEMPERATURE = {"°c": "C", "℃": "C", "celsius": "C", "degrees celsius": "C", "摄氏度": "C",
                "°f": "F", "℉": "F", "fahrenheit": "F", "degrees fahrenheit": "F", "华氏度": "F",
                "k": "K", "kelvin": "K"}

_UNIT_WORDS = sorted([*_UNITS, *_TEMPERATURE], key=len, reverse=True)
_UNIT = "|".join(re.escape(u) for u in _UNIT_WORDS)

# Thousands grouped by spaces. Thin, narrow and figure spaces are made for grouping digits and always
# separate thousands; a plain space does when two or more groups follow ("1 000 000") or one group ends
# the phrase ("Answer: 2 234."), since "2 500 ml bottles" or "day 5 100 people" are two numbers. The whole
# run of digit groups must be one number: "555 123 4567" is not grouped at all.
_THIN = "[\u2007\u2009\u202f]"
_SPACE = "[ \u00a0\u2007\u2009\u202f]"
_GROUPED = (
    rf"(?<!\d{_SPACE})\d{{1,3}}"
    rf"(?:(?:{_THIN}\d{{3}})+|(?:{_SPACE}\d{{3}}){{2,}}"
    rf"|{_SPACE}\d{{3}}(?=(?:[.,]\d+)?\s*(?:[.,;:!?](?!\d)|[)\]*_。，；：！？）]|$)))"
    rf"(?!{_SPACE}?\d)"
)
# The digits of one number: space-grouped thousands with a decimal part, or digits with dots and commas.
DIGITS = rf"(?:{_GROUPED}(?:[.,]\d{{1,30}})?|\d{{1,30}}(?:[.,]\d{{1,30}}){{0,8}})"

# One number: an optional sign (symbol or word), digits with separators, then an exponent, a percent, a
# fraction's denominator, and a unit. Words for signs: minus/negative, 负, 零下 (below zero).
NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.^/:-])(?<![0-9],)"  # a comma only joins digits: "，9.9" (after NFKC) starts one
    r"(?P<sign>(?:minus|negative)\s+|零下|负|[-−–+](?=\s?\d))?\s?"
    r"(?P<money>[$€£¥])?\s?"
    rf"(?P<digits>{DIGITS})"
    r"(?:\s?(?:[x×*·]\s?10\s?(?:\^|\*\*)\s?\(?(?P<sci>[-−]?\d+)\)?|[eE](?P<e>[-+]?\d+)(?![\w])"
    r"|\^\s?\(?(?P<pow>[-−]?\d+)\)?|\*\*\s?(?P<pow2>\d+)|(?P<sup>[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)))?"
    r"(?:\s?/\s?(?P<den>\d+)(?!\d|[.,]\d))?"
    r"(?P<pct>\s?%)?"
    rf"(?:\s?(?P<unit>(?:{_UNIT}))(?![a-zA-Z]))?"
    r"(?P<below>\s*below zero)?"
    r"(?![A-Za-z0-9_]|[-/.:]\d)",  # not part of a token: "gpt-oss-20b", "2025-07-21", "3:30"
    re.IGNORECASE,
)

_DECIMAL_COMMA = re.compile(r"(?<![\d,.])\d+,(?:\d{1,2}|\d{4,})(?![\d,.])|\d\.\d{3}(?:\.\d{3})*,\d")
_DECIMAL_POINT = re.compile(r"(?<![\d,.])\d+\.(?:\d{1,2}|\d{4,})(?![\d,.])|\d,\d{3}(?:,\d{3})*\.\d")


@dataclass(frozen=True)
class Quantity:
    """One stated amount: exact `value` in the base unit of `dimension` ("" for a bare number)."""

    value: Decimal
    dimension: str
    written: str  # as the text had it, for a split's label


def comma_is_decimal(text: str) -> bool | None:
    """Whether a comma between digits is a decimal comma in `text`: True ("2,5"), False ("1,234.5",
    "9.11"), None when the text uses both or neither way."""
    comma, point = bool(_DECIMAL_COMMA.search(text)), bool(_DECIMAL_POINT.search(text))
    if comma == point:
        return None
    return comma


def _digits(raw: str, decimal_comma: bool | None) -> Decimal | None:
    if re.search(r"\s", raw):  # grouped by spaces: a comma or point after the groups is the decimal mark
        raw = re.sub(r"\s", "", raw)
        if re.search(r"[.,]\d{3}$", raw):
            return None  # "1 234,567": three decimals look like one more group written another way
        raw = raw.replace(",", ".")
    if "," in raw and "." in raw:  # both: the last one is the decimal mark
        european = raw.rfind(",") > raw.rfind(".")
        raw = raw.replace(".", "").replace(",", ".") if european else raw.replace(",", "")
    elif "," in raw:
        groups = raw.split(",")
        thousands = all(len(g) == 3 for g in groups[1:]) and 1 <= len(groups[0]) <= 3
        if len(groups) > 2:
            if not thousands:
                return None
            raw = raw.replace(",", "")
        elif not thousands:
            raw = raw.replace(",", ".")  # "2,5": only a decimal comma reads this way
        else:  # "1,234": thousands, unless the text writes its decimals with a comma
            raw = raw.replace(",", "." if decimal_comma else "")
    elif raw.count(".") > 1:
        groups = raw.split(".")
        if not all(len(g) == 3 for g in groups[1:]):
            return None
        raw = raw.replace(".", "")  # "1.234.567": dots as thousands separators
    try:
        return Decimal(raw)
    except InvalidOperation:
        return None


def read(match: re.Match[str], decimal_comma: bool | None) -> Quantity | None:
    """The quantity one NUMBER match says, or None when it is ambiguous or no finite number."""
    value = _digits(match.group("digits"), decimal_comma)
    if value is None:
        return None
    with localcontext() as ctx:
        ctx.prec = 40
        try:
            exponent = match.group("sci") or match.group("e")
            power = match.group("pow") or match.group("pow2") or (match.group("sup") or "").translate(_SUPERSCRIPT)
            if exponent:
                value *= Decimal(10) ** int(exponent.replace("−", "-"))
            elif power:
                if abs(int(power.replace("−", "-"))) > 400:
                    return None
                value = value ** int(power.replace("−", "-"))
            if match.group("den"):
                if int(match.group("den")) == 0:
                    return None
                value /= Decimal(match.group("den"))
            if match.group("pct"):
                value /= 100
            sign = (match.group("sign") or "").strip().lower()
            if sign in ("minus", "negative", "零下", "负", "-", "−", "–") or match.group("below"):
                value = -value
            dimension = ""
            unit = (match.group("unit") or match.group("money") or "").lower()
            if unit in _TEMPERATURE:
                value, dimension = _kelvin(value, _TEMPERATURE[unit]), "temperature"
            elif unit in _UNITS:
                dimension, factor = _UNITS[unit]
                value *= factor
            if not value.is_finite():
                return None
            ctx.prec = SIGNIFICANT  # unit factors like 1000/3600 are inexact: 72 km/h is 20 m/s
            value = (+value).normalize()
        except (InvalidOperation, OverflowError, ValueError):
            return None
    return Quantity(value, dimension, match.group(0).strip())


def _kelvin(value: Decimal, scale: str) -> Decimal:
    if scale == "C":
        return value + Decimal("273.15")
    if scale == "F":
        return (value - 32) * 5 / 9 + Decimal("273.15")
    return value


def quantities(text: str, decimal_comma: bool | None) -> list[Quantity | None]:
    """Every number in `text`, in order (None for one that cannot be read without doubt)."""
    return [read(m, decimal_comma) for m in NUMBER.finditer(text)]
