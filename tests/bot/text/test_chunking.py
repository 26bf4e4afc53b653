"""Long answers become several messages in order, each within the platform limit, nothing cut."""

from __future__ import annotations

import random
import re

import pytest

from bot.text.chunking import split_text

FENCE_LINE = re.compile(r"^ {0,3}`{3,}[^`]*$")
LIMITS = (80, 200, 2000, 3000, 4096)


def _visible(text: str) -> str:
    """The content without fence lines or whitespace: what must survive splitting, in order."""
    kept = [line for line in text.split("\n") if not FENCE_LINE.match(line)]
    return "".join("\n".join(kept).split())


def _fences_balanced(part: str) -> bool:
    open_marker = None
    for line in part.split("\n"):
        m = re.match(r"^ {0,3}(`{3,})([^`]*)$", line)
        if not m:
            continue
        if open_marker is None:
            open_marker = m.group(1)
        elif len(m.group(1)) >= len(open_marker) and not m.group(2).strip():
            open_marker = None
    return open_marker is None


def _random_text(rng: random.Random, size: int) -> str:
    words = ["alpha", "beta", "gamma", "δέλτα", "ε", "🙂", "x" * 30, "naïve", "end.", "why?", "yes!"]
    blocks: list[str] = []
    total = 0
    while total < size:
        kind = rng.random()
        if kind < 0.2:
            lang = rng.choice(["", "python", "json", "c++"])
            lines = [" " * rng.choice([0, 4, 8]) + " ".join(rng.choices(words, k=rng.randint(1, 12)))
                     for _ in range(rng.randint(1, 60))]
            block = f"```{lang}\n" + "\n".join(lines) + "\n```"
        elif kind < 0.25:
            block = "".join(rng.choices("abcdefghij", k=rng.randint(50, 5000)))  # an unbroken run
        else:
            sentences = [" ".join(rng.choices(words, k=rng.randint(3, 25))) + rng.choice([".", "?", "!", ""])
                         for _ in range(rng.randint(1, 12))]
            block = rng.choice([" ", "\n"]).join(sentences)
        blocks.append(block)
        total += len(block)
    return rng.choice(["\n\n", "\n", "\n\n\n"]).join(blocks)


@pytest.mark.parametrize("seed", range(40))
def test_random_texts_split_within_limit_with_all_content_in_order(seed: int) -> None:
    rng = random.Random(seed)
    text = _random_text(rng, rng.choice([500, 3000, 12000, 30000]))
    for limit in LIMITS:
        parts = split_text(text, limit)
        assert parts, "non-empty text gives at least one part"
        assert all(len(p) <= limit for p in parts), [len(p) for p in parts]
        assert all(p.strip() for p in parts), "no blank messages"
        assert _visible("\n".join(parts)) == _visible(text)
        assert all(_fences_balanced(p) for p in parts)


def test_short_text_is_one_part_and_blank_text_none() -> None:
    assert split_text("Hello **world**", 2000) == ["Hello **world**"]
    assert split_text("", 2000) == []
    assert split_text("\n \n", 2000) == []


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    first, second = "A" * 1200 + ".", "B " * 700
    parts = split_text(f"{first}\n\n{second}", 2000)
    assert parts == [first, second.rstrip()]


def test_lines_are_preferred_over_words_inside_a_paragraph() -> None:
    lines = [f"line {i} " + "word " * 20 for i in range(40)]
    parts = split_text("\n".join(lines), 2000)
    assert len(parts) > 1
    for part in parts:
        assert all(line.rstrip() in {x.rstrip() for x in lines} for line in part.split("\n"))


def test_a_long_line_splits_at_a_sentence_end_before_any_space() -> None:
    text = ("This is a sentence that goes on. " * 50) + "Tail words without end " * 10
    parts = split_text(text, 300)
    assert all(p.endswith(".") for p in parts[:-1])


def test_an_unbroken_run_is_hard_split_without_losing_characters() -> None:
    text = "".join(random.Random(1).choices("abc", k=5000))
    parts = split_text(text, 2000)
    assert [len(p) for p in parts] == [2000, 2000, 1000]
    assert "".join(parts) == text


def test_code_block_split_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"    value_{i} = compute({i})  # step {i}" for i in range(200))
    text = f"Here is the code:\n\n```python\n{code}\n```\n\nThat is all."
    parts = split_text(text, 2000)
    assert len(parts) >= 4
    assert parts[0].startswith("Here is the code:")
    for part in parts[:-1]:
        assert part.endswith("\n```")
    for part in parts[1:-1]:
        assert part.startswith("```python\n    value_")  # reopened, indentation intact
    assert all(_fences_balanced(p) for p in parts)
    # every line of code survives whole, indentation included
    out_lines = {line for p in parts for line in p.split("\n")}
    assert all(line in out_lines for line in code.split("\n"))


def test_block_ending_at_the_split_is_not_reopened_empty() -> None:
    code = "\n".join("x = 1" for _ in range(300))
    for limit in range(80, 400, 7):
        parts = split_text(f"```\n{code}\n```\nafter", limit)
        assert not any(re.match(r"^```[a-z]*\n```", p) for p in parts)
        assert parts[-1].endswith("after")


def test_longer_fences_survive_with_inner_backticks() -> None:
    inner = "\n".join(["```js", "let a = 1;", "```"] * 40)
    text = f"````markdown\n{inner}\n````"
    parts = split_text(text, 200)
    for part in parts:
        assert part.startswith("````markdown\n")
        assert part.endswith("\n````")
    assert _visible("\n".join(parts)) == _visible(text)


def test_limit_too_small_for_a_fence_is_refused() -> None:
    with pytest.raises(ValueError):
        split_text("text", 10)
