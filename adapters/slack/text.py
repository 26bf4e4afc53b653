"""Slack message text as the models get it: the bot's own mention taken out, Slack's escaping undone.

One function for channel mentions, DMs and the assistant pane alike: the pane used to send
`Is 3 &lt; 5 &amp;&amp; 5 &gt; 2? <@UBOT>` to the models where a mention sent `Is 3 < 5 && 5 > 2?`.
"""

from __future__ import annotations

import re


def _mention_pattern(bot_user: str | None) -> re.Pattern[str] | None:
    return re.compile(rf"<@{re.escape(bot_user)}(\|[^>]*)?>") if bot_user else None


def mentions_bot(text: str, bot_user: str | None) -> bool:
    """Whether `text` mentions the bot (`<@UBOT>` or `<@UBOT|moa>`)."""
    pattern = _mention_pattern(bot_user)
    return bool(pattern and pattern.search(text))


def question_text(text: str, bot_user: str | None) -> str:
    """`text` without the bot's mention, unescaped and stripped."""
    pattern = _mention_pattern(bot_user)
    return unescape((pattern.sub("", text) if pattern else text).strip()).strip()


def unescape(text: str) -> str:
    """Undo Slack's escaping of &, < and > in message and command text (only those three are escaped)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
