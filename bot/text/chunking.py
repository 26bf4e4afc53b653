"""Split long text into messages that fit a platform limit, never cutting content.

Parts are split at the most natural boundary that fits: a paragraph break or code-fence edge, then a
line break, then a sentence end, then a space, and only as a last resort mid-word. Only the whitespace
at a split point is dropped. When a split falls inside a ``` code block, the part closes the fence and
the next part reopens it with the same info string (language tag), so every part renders on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# CommonMark: up to 3 spaces of indentation, then 3+ backticks; an opener may carry an info string.
_FENCE = re.compile(r"^ {0,3}(`{3,})([^`]*)$")
_SENTENCE_END = re.compile(r"[.!?…:;][)\"'»”’]*( +)")

# A boundary closer to the start than this share of the room makes a needlessly small part;
# a less natural boundary further along is then preferred.
_MIN_SHARE = 0.3
_MAX_LANGUAGE = 20
MIN_LIMIT = 80  # room for a reopened fence, its closer and some text


@dataclass(frozen=True)
class _Fence:
    marker: str  # the backticks of the opener; the closer needs at least as many
    opener: str  # what reopens it: the marker and the language tag, e.g. "```python"

    @property
    def close(self) -> str:
        return "\n" + self.marker


def _open_fence_at(text: str, end: int) -> _Fence | None:
    """The code fence still open after text[:end] (whole lines only), or None."""
    fence: _Fence | None = None
    for line in text[:end].split("\n"):
        match = _FENCE.match(line)
        if not match:
            continue
        ticks, info = match.groups()
        if fence is None:
            fence = _Fence(marker=ticks, opener=ticks + _language(info))
        elif len(ticks) >= len(fence.marker) and not info.strip():
            fence = None
    return fence


def _language(info: str) -> str:
    # Only the language tag is repeated when reopening; it is capped so the fence always fits.
    words = info.split()
    return words[0][:_MAX_LANGUAGE] if words else ""


def _is_closing_fence(line: str, fence: _Fence) -> bool:
    match = _FENCE.match(line)
    return match is not None and len(match.group(1)) >= len(fence.marker) and not match.group(2).strip()


def _fence_edges(text: str) -> list[int]:
    """Line starts right before an opening fence and right after a closing one: ideal split points."""
    edges: list[int] = []
    pos = 0
    fence: _Fence | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if match:
            if fence is None:
                fence = _Fence(match.group(1), "")
                edges.append(pos)
            elif _is_closing_fence(line, fence):
                fence = None
                edges.append(pos + len(line))
        pos += len(line) + 1
    return edges


def _boundaries(text: str, room: int) -> list[list[tuple[int, int]]]:
    """Candidate splits (cut, resume) in text[:room + 1], most natural kind first.

    The part keeps text[:cut]; the next one resumes at text[resume:].
    """
    window = text[: room + 1]
    # Only blank lines are dropped at a split: indentation on the next line may be code.
    paragraphs = [(m.start(), m.end()) for m in re.finditer(r"\n[ \t]*\n(?:[ \t]*\n)*", window)]
    paragraphs += [(e, e) for e in _fence_edges(window) if 0 < e <= room]  # window starts outside a fence
    lines = [(m.start(), m.end()) for m in re.finditer(r"\n", window)]
    sentences = [(m.start(1), m.end(1)) for m in _SENTENCE_END.finditer(window)]
    spaces = [(m.start(), m.end()) for m in re.finditer(r"[ \t]+", window)]
    return [paragraphs, lines, sentences, spaces]


def _choose_cut(text: str, room: int, floor: int) -> tuple[int, int]:
    """Where to end a part of at most `room` characters of text, keeping more than `floor` of them."""
    kinds = _boundaries(text, room)
    for min_cut in (max(int(room * _MIN_SHARE), floor + 1), floor + 1):
        for candidates in kinds:
            fitting = [(cut, resume) for cut, resume in candidates if min_cut <= cut <= room]
            if fitting:
                return max(fitting)
    return room, room  # one unbroken run of text: a hard split is the only way


def close_open_fence(text: str) -> str:
    """`text` with a closing fence added if it ends inside a code block (e.g. an answer cut off)."""
    fence = _open_fence_at(text, len(text))
    return text + fence.close if fence is not None else text


def split_text(text: str, limit: int) -> list[str]:
    """Split `text` into parts of at most `limit` characters each, in order, losing no content.

    Short text comes back as a single part; empty or blank text as no parts.
    """
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must leave room for a code fence and some text (at least {MIN_LIMIT})")
    parts: list[str] = []
    rest = text.strip("\n")
    prefix = ""  # the reopened code fence the next part starts with
    while rest.strip():
        current = prefix + rest
        if len(current) <= limit:
            parts.append(current.rstrip())
            break
        # A part keeps more than the reopened fence, so every round makes progress.
        cut, resume = _choose_cut(current, limit, len(prefix))
        fence = _open_fence_at(current, cut)
        if fence is not None:  # the part must close the fence: make room for the closer
            cut, resume = _choose_cut(current, limit - len(fence.close), len(prefix))
            fence = _open_fence_at(current, cut)
        part = current[:cut].rstrip()
        rest = current[resume:].lstrip("\n")
        prefix = ""
        if fence is not None:
            first_line, _, after = rest.partition("\n")
            if _is_closing_fence(first_line, fence):
                rest = after.lstrip("\n")  # the block ends right here: our closer replaces its own
            else:
                prefix = fence.opener + "\n"
            part += fence.close
        if part.strip():
            parts.append(part)
    return parts
