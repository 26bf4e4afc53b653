"""The thread someone tagged the bot into: its earlier messages, read as the answer's history.

Mentioned in a thread it has not answered in (nothing stored for it), the bot reads what was said there
before — the adapter fetches it from the platform, from that thread only — and the models get it as
earlier turns, authors named, newest kept first within the history budget, the messages' files read by
the same rules (and limits) as the question's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from bot.conversation.attachments import Attachment, FileLimits
from bot.conversation.reading import read_attachments
from moa.events import Turn
from moa.messages.attachments import Image
from moa.messages.tokens import estimate_tokens

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EarlierMessage:
    """A message said in the thread before the mention."""

    author: str  # how the models see who said it
    text: str
    attachments: tuple[Attachment, ...] = ()
    from_bot: bool = False  # the bot's own message: an assistant turn


# Fetches the thread's messages before the mention, oldest first (from that thread only).
EarlierReader = Callable[[], Awaitable[Sequence[EarlierMessage]]]


@dataclass(frozen=True)
class ThreadContext:
    turns: tuple[Turn, ...] = ()
    images: tuple[Image, ...] = ()
    note: str | None = None


async def read_thread(reader: EarlierReader, budget: int, limits: FileLimits) -> ThreadContext:
    """The thread's earlier messages as turns within `budget` tokens; a failed read is a note, not a failure."""
    try:
        messages = list(await reader())
    except Exception as err:  # the answer goes on without the thread
        log.warning("reading the thread's earlier messages failed", exc_info=True)
        return ThreadContext(note=f"I could not read this thread's earlier messages ({type(err).__name__}), "
                                  "so I answered the question alone.")
    turns: list[Turn] = []
    images: list[Image] = []
    room, files_room, kept = budget, limits.max_tokens, 0
    messages = [m for m in messages if m.text.strip() or m.attachments]  # e.g. content hidden by the platform
    for message in reversed(messages):  # the newest matter most
        text = message.text
        if message.attachments and files_room > 0:
            reading = await read_attachments(message.attachments, replace(limits, max_tokens=files_room))
            text = reading.question(text)
            files_room -= sum(estimate_tokens([{"content": t}]) for _, t in reading.texts)
            images += reading.shown.images
        cost = estimate_tokens([{"content": f"{message.author}: {text}"}])
        if cost > room:
            break
        room -= cost
        kept += 1
        turns.append(Turn(role="assistant" if message.from_bot else "user", text=text,
                          author=None if message.from_bot else message.author))
    turns.reverse()
    note = None
    if kept < len(messages):
        note = (f"Only the last {kept} of {len(messages)} earlier messages in this thread fit the history "
                f"budget ({budget:,} tokens).")
    return ThreadContext(tuple(turns), tuple(images), note)
