"""The thread someone tagged the bot into: its earlier messages, read as the answer's history.

Mentioned in a thread it has not answered in (nothing stored for it), the bot reads what was said there
before — the adapter fetches it from the platform, from that thread only — and the models get it as
earlier turns, authors named, newest kept first within the history budget (a message too long to keep
whole is cut, with a mark, to a third of it), the messages' files read by the same rules (and limits) as the
question's.
"""

from __future__ import annotations

import asyncio
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


@dataclass(frozen=True)
class EarlierMessages:
    """What a reader found when it stopped short of the thread's start: the newest messages before the
    mention, oldest first, older ones left unread (a note then says so, and counts only what was read)."""

    messages: Sequence[EarlierMessage]
    older_unread: bool = True


# Fetches the thread's messages before the mention, oldest first (from that thread only): all of them, or
# `EarlierMessages` when older ones were left unread.
EarlierReader = Callable[[], Awaitable[Sequence[EarlierMessage] | EarlierMessages]]


@dataclass(frozen=True)
class ThreadContext:
    turns: tuple[Turn, ...] = ()
    images: tuple[Image, ...] = ()
    note: str | None = None


CUT_MARK = "\n[… cut: this message was too long to keep whole]"
MESSAGE_SHARE = 3  # one message keeps at most a third of the budget: a long paste never crowds out the rest
LEAST_WORTH_CUTTING = 40  # tokens: less room than this left, an older message is not cut to fit it


async def read_thread(reader: EarlierReader, budget: int, limits: FileLimits) -> ThreadContext:
    """The thread's earlier messages as turns within `budget` tokens, the newest kept first; a message too
    long is cut (with a mark), not the reason older ones are dropped. A failed read is a note, not a failure."""
    try:
        found = await reader()
    except Exception as err:  # the answer goes on without the thread
        log.warning("reading the thread's earlier messages failed", exc_info=True)
        return ThreadContext(note=f"I could not read this thread's earlier messages ({type(err).__name__}), "
                                  "so I answered the question alone.")
    older_unread = isinstance(found, EarlierMessages) and found.older_unread
    messages = list(found.messages if isinstance(found, EarlierMessages) else found)
    messages = [m for m in messages if m.text.strip() or m.attachments]  # e.g. content hidden by the platform
    texts, images = await _with_files(messages, limits)
    turns: list[Turn] = []
    room, cut = budget, 0
    for message, text in zip(reversed(messages), reversed(texts), strict=True):  # the newest matter most
        cost = _cost(message.author, text)
        most = min(room, max(budget // MESSAGE_SHARE, LEAST_WORTH_CUTTING))
        if cost > most:
            if most < LEAST_WORTH_CUTTING:
                break
            text, cost, cut = _cut(message.author, text, most), most, cut + 1
        room -= cost
        turns.append(Turn(role="assistant" if message.from_bot else "user", text=text,
                          author=None if message.from_bot else message.author))
    turns.reverse()
    notes = []
    if len(turns) < len(messages):
        if older_unread:
            notes.append(f"Only the last {len(turns)} of the {len(messages)} earlier messages I read fit the history "
                         f"budget ({budget:,} tokens); older ones in this thread were not read.")
        else:
            notes.append(f"Only the last {len(turns)} of {len(messages)} earlier messages in this thread fit the "
                         f"history budget ({budget:,} tokens).")
    elif older_unread:
        notes.append(f"I read {len(messages)} earlier messages of this thread, not all of them: older ones were "
                     "not read.")
    if cut:
        notes.append(f"{cut} long earlier message{'s were' if cut > 1 else ' was'} cut to fit.")
    return ThreadContext(tuple(turns), tuple(images), " ".join(notes) or None)


async def _with_files(messages: Sequence[EarlierMessage], limits: FileLimits) -> tuple[list[str], list[Image]]:
    """Each message's text with its files' text after it: the newest messages with files are read, side by
    side (so within one download budget), sharing MOA_FILE_MAX_TOKENS."""
    with_files = [i for i in reversed(range(len(messages))) if messages[i].attachments][:limits.max_count]
    texts = [m.text for m in messages]
    if not with_files or limits.max_tokens <= 0:
        return texts, []
    share = replace(limits, max_tokens=max(1, limits.max_tokens // len(with_files)))
    readings = await asyncio.gather(*(read_attachments(messages[i].attachments, share) for i in with_files))
    images: list[Image] = []
    for index, reading in zip(with_files, readings, strict=True):
        texts[index] = reading.question(texts[index])
        images += reading.shown.images
    return texts, images


def _cost(author: str, text: str) -> int:
    return estimate_tokens([{"content": f"{author}: {text}"}])


def _cut(author: str, text: str, most: int) -> str:
    """`text` cut (with the mark) so that it costs at most `most` tokens."""
    keep = len(text)
    while keep > 0:
        keep = keep * most // max(_cost(author, text[:keep] + CUT_MARK), 1) - 1
        if _cost(author, text[:max(keep, 0)] + CUT_MARK) <= most:
            break
    return text[:max(keep, 0)].rstrip() + CUT_MARK
