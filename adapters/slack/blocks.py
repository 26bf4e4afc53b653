"""Block Kit payloads the Slack adapter sends, kept within Slack's limits.

Limits (Slack docs): a section's text ≤ 3,000 characters, `markdown` blocks ≤ 12,000 characters in total
per message, ≤ 50 blocks per message, and a plain `text` much above 4,000 characters can fail with
`msg_too_long`. Answers travel as `markdown` blocks (the models write standard Markdown) with the same
part as the `text` fallback, so one part stays under 4,000 characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from bot.text.chunking import split_text

Block = dict[str, Any]

SHOW_LAYERS_ACTION = "moa_show_layers"
FEEDBACK_ACTION = "moa_feedback"  # the feedback_buttons element; plain buttons add _up / _down
ANSWER_PART_LIMIT = 3_900  # one answer message: `text` and its markdown block stay under 4,000
SECTION_LIMIT = 3_000
MESSAGE_CHARS = 11_700  # what we put in one message at most, under the 12,000 markdown total
MAX_BLOCKS = 45  # under Slack's 50, leaving room for a header or a button


# `<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^…>` and `<@U…>` notify people. Slack has no
# allowed_mentions: any of them echoed from a question or written by a model would ping from the bot.
_PING = re.compile(r"<(?=[!@])")
_WORD_JOINER = "\u2060"  # invisible; breaks the syntax so it shows as text


def no_pings(text: str) -> str:
    """`text` with Slack's mention syntax defused (shown, never notifying)."""
    return _PING.sub("<" + _WORD_JOINER, text)


def markdown(text: str) -> Block:
    return {"type": "markdown", "text": no_pings(text)}


def section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": no_pings(mrkdwn)}}


def context(mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": no_pings(mrkdwn)}]}


def show_layers_button(run_id: int) -> Block:
    return {
        "type": "actions",
        "block_id": f"moa_layers_{run_id}",
        "elements": [{
            "type": "button",
            "action_id": SHOW_LAYERS_ACTION,
            "text": {"type": "plain_text", "text": "Show layers"},
            "value": str(run_id),
        }],
    }


def feedback_block(run_id: int) -> Block:
    """👍/👎 as Slack's own `feedback_buttons` element (in a `context_actions` block)."""
    def button(text: str, vote: str, label: str) -> dict[str, Any]:
        return {"text": {"type": "plain_text", "text": text}, "value": f"{vote}:{run_id}",
                "accessibility_label": label}

    return {"type": "context_actions", "block_id": f"moa_feedback_{run_id}", "elements": [{
        "type": "feedback_buttons", "action_id": FEEDBACK_ACTION,
        "positive_button": button("👍", "up", "Good answer"),
        "negative_button": button("👎", "down", "Not a good answer"),
    }]}


def plain_feedback_buttons(run_id: int) -> list[dict[str, Any]]:
    """👍/👎 as two ordinary buttons, for workspaces that refuse `feedback_buttons`."""
    return [{"type": "button", "action_id": f"{FEEDBACK_ACTION}_{vote}", "value": f"{vote}:{run_id}",
             "text": {"type": "plain_text", "text": text}} for vote, text in (("up", "👍"), ("down", "👎"))]


def has_native_feedback(blocks: Sequence[Block]) -> bool:
    return any(b.get("type") == "context_actions" for b in blocks)


def with_plain_feedback(blocks: Sequence[Block]) -> list[Block]:
    """The same tail with the `context_actions` feedback replaced by plain buttons beside Show layers."""
    out: list[Block] = []
    run_id: int | None = None
    for block in blocks:
        if block.get("type") == "context_actions":
            run_id = int(str(block["block_id"]).rsplit("_", 1)[1])
        else:
            out.append(dict(block))
    if run_id is None:
        return out
    for block in out:
        if block.get("type") == "actions":
            block["elements"] = [*block["elements"], *plain_feedback_buttons(run_id)]
            return out
    out.append({"type": "actions", "block_id": f"moa_feedback_{run_id}", "elements": plain_feedback_buttons(run_id)})
    return out


def warnings_block(warnings: Iterable[str]) -> Block | None:
    notes = [w for w in warnings if w.strip()]
    if not notes:
        return None
    return context(" · ".join(f":warning: {w}" for w in notes)[:SECTION_LIMIT])


def answer_message(part: str, tail: Sequence[Block] = ()) -> dict[str, Any]:
    """`text` + `blocks` for one answer part; `tail` (warnings, button) goes on the last part only."""
    return {"text": no_pings(part), "blocks": [markdown(part), *tail]}


def tail_blocks(run_id: int | None, warnings: Iterable[str] = (), *, feedback: str = "none",
                verdict: str | None = None) -> list[Block]:
    """What follows the last answer part: the agents' verdict, warnings, the Show layers button, and 👍/👎
    when `feedback` is "native" (Slack's feedback buttons) or "plain" (ordinary buttons)."""
    blocks: list[Block] = [context(verdict)] if verdict else []
    note = warnings_block(warnings)
    if note is not None:
        blocks.append(note)
    if run_id is not None:
        blocks.append(show_layers_button(run_id))
        if feedback == "native":
            blocks.append(feedback_block(run_id))
        elif feedback == "plain":
            blocks[-1]["elements"] += plain_feedback_buttons(run_id)
    return blocks


def status_message(text: str) -> dict[str, Any]:
    """The status (progress) message: mrkdwn sections, first line as the notification text."""
    pages = split_text(text, SECTION_LIMIT) or [text]
    first_line = text.strip().splitlines()[0] if text.strip() else "Working…"
    return {"text": no_pings(first_line[:SECTION_LIMIT]), "blocks": [section(p) for p in pages[:MAX_BLOCKS]]}


def pack_sections(pages: list[str], *, title: str) -> list[dict[str, Any]]:
    """Group mrkdwn pages (each ≤ 3,000 chars) into as few messages as the limits allow, in order."""
    messages: list[dict[str, Any]] = []
    blocks: list[Block] = []
    size = 0
    for page in pages:
        for piece in split_text(page, SECTION_LIMIT):  # a page that is too long still fits, unbroken
            if blocks and (size + len(piece) > MESSAGE_CHARS or len(blocks) >= MAX_BLOCKS):
                messages.append({"text": title, "blocks": blocks})
                blocks, size = [], 0
            blocks.append(section(piece))
            size += len(piece)
    if blocks:
        messages.append({"text": title, "blocks": blocks})
    return messages


def pack_markdown(text: str, *, limit: int = ANSWER_PART_LIMIT, per_message: int = 3) -> list[dict[str, Any]]:
    """Command replies: Markdown split into parts, up to `per_message` markdown blocks per message."""
    parts = split_text(text, limit) or ["(empty)"]
    messages = []
    for i in range(0, len(parts), per_message):
        group = parts[i:i + per_message]
        messages.append({"text": no_pings(group[0]), "blocks": [markdown(p) for p in group]})
    return messages
