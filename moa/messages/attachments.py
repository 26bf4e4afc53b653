"""Images a question shows, and which models see them.

Text files reach the models inside the question; images cannot, so they travel beside it. A model that
reads images gets them as OpenAI-compatible `image_url` parts of the question's message; any other model
is told by name what it was not shown, and the answer says so too.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from moa.messages.prompts import ANSWERS_BREAK

# Models known to accept images (Groq's vision models); MOA_VISION_MODELS adds more (e.g. a local llava).
KNOWN_VISION_MODELS = frozenset({
    "meta-llama/llama-4-scout-17b-16e-instruct",
    "meta-llama/llama-4-maverick-17b-128e-instruct",
})
IMAGE_TOKENS = 1600  # what one image is counted as in a prompt's token estimate (a cautious guess)


@dataclass(frozen=True)
class Image:
    """One image a person attached."""

    name: str
    mimetype: str
    data: bytes

    def data_url(self) -> str:
        return f"data:{self.mimetype};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True)
class Shown:
    """The images of one question, and the models that read images."""

    images: tuple[Image, ...] = ()
    readers: frozenset[str] = field(default_factory=frozenset)

    def reads(self, model: str) -> bool:
        return model in self.readers

    def messages_for(self, model: str, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """`messages` with the images added to the question's (the last user) message: as parts for a model
        that reads them, as a sentence naming them for one that does not."""
        out = list(messages)
        # The question is the last user message: with prompt_layout shared_prefix the agent's own
        # instructions come after it, with instruction_first the earlier answers end it, and images belong
        # to a user turn.
        users = [i for i, message in enumerate(out) if message.get("role") == "user"]
        if not self.images or not users:
            return out
        at = users[-1]
        last = out[at]
        text = str(last.get("content", ""))
        if self.reads(model):
            parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
            parts += [{"type": "image_url", "image_url": {"url": image.data_url()}} for image in self.images]
            out[at] = {**last, "content": parts}
        else:  # said right after the question, before any earlier answers (instruction_first)
            question, answers_break, answers = text.partition(ANSWERS_BREAK)
            out[at] = {**last, "content": f"{question}\n\n({self.unseen()} also attached, but you cannot see "
                                          f"images; say so if the answer depends on them.){answers_break}{answers}"}
        return out

    def unseen(self) -> str:
        return _names(image.name for image in self.images)

    def note(self, models: Iterable[str]) -> str | None:
        """The answer's note naming the models that were not shown the images, or None."""
        blind = sorted({m for m in models if not self.reads(m)})
        if not self.images or not blind:
            return None
        reads = "which read" if len(blind) > 1 else "which reads"
        return f"{self.unseen()} {'were' if len(self.images) > 1 else 'was'} not shown to {_names(blind)}, " \
               f"{reads} no images."


def _names(names: Iterable[str]) -> str:
    items = list(names)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def readers(extra: Iterable[str] = ()) -> frozenset[str]:
    """The known vision models plus the operator's own."""
    return KNOWN_VISION_MODELS | {m.strip() for m in extra if m.strip()}
