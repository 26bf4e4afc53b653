"""How many calls a provider serves at once, so a call waiting its turn is not taken for a straggler.

A self-hosted server (llama.cpp, Ollama on one CPU) often answers one request at a time: the second
agent's call queues behind the first and finishes one service time later. Without knowing that, the
layer would leave it out as a straggler and hedge it with a duplicate call to the same busy server.

- Declared: `MOA_PROVIDERS="local=http://127.0.0.1:8080/v1;parallel=1"` gives the provider that many
  slots; calls wait for a free slot here, before they go out, so the engine counts only the time the
  server actually spends on them, and a hedge is sent only when a slot is free at once.
- Not declared, on a self-hosted provider: treated as possibly serial (a call's time counts from when
  the call before it to the same server answered, and no hedge goes to it) until its calls are seen
  running side by side — two pairs of overlapping calls that finished together rather than one service
  time apart (one pair could be a short answer queued behind a long one).
  From then on its stragglers are left out and hedged as Groq's are.
- Groq runs calls in parallel.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from dataclasses import dataclass, field

from moa.errors import ConfigError

_OPTION = re.compile(r"^\s*parallel\s*=\s*(\d+)\s*$", re.IGNORECASE)
# Two overlapping calls that end closer than this share of the shorter one's duration ran side by side
# (a serial server finishes them one whole service time apart).
_TOGETHER_SHARE = 0.25
_PAIRS_NEEDED = 2


def parse_options(name: str, options: str) -> int | None:
    """The `parallel=N` of one MOA_PROVIDERS entry (the text after `;`); None when not given."""
    parallel: int | None = None
    for option in (o for o in options.split(";") if o.strip()):
        match = _OPTION.match(option)
        if match is None or int(match.group(1)) < 1:
            raise ConfigError(f"MOA_PROVIDERS option {option.strip()!r} for {name!r} is not understood: the one "
                              "option is parallel=N (how many calls the server answers at once, 1 or more), "
                              f"e.g. {name}=http://127.0.0.1:8080/v1;parallel=1.")
        parallel = int(match.group(1))
    return parallel


@dataclass
class ProviderCapacity:
    """One provider's parallelism: declared, built in (Groq), or learned from how its calls finish."""

    name: str
    declared: int | None = None  # parallel=N
    always_parallel: bool = False  # a cloud API such as Groq
    parallel_seen: bool = False  # its calls were seen running side by side
    _slots: asyncio.Semaphore | None = field(default=None, repr=False)
    # (sent, ended, already one half of a pair seen side by side) of its latest answered calls
    _recent: deque[list[float | bool]] = field(default_factory=lambda: deque(maxlen=16), repr=False)
    _pairs_seen: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if self.declared is not None:
            self._slots = asyncio.Semaphore(self.declared)

    @property
    def may_queue(self) -> bool:
        """Whether the server itself may queue calls out of sight: undeclared, self-hosted, and not seen
        running calls in parallel. (Declared slots are waited for here, in sight.)"""
        return not (self.always_parallel or self.declared is not None or self.parallel_seen)

    def has_room(self) -> bool:
        """Whether one more call would be served at once (a hedge must not queue behind its original)."""
        if self.declared is not None:
            return self._slots is not None and not self._slots.locked()
        return not self.may_queue

    async def take(self, deadline: float) -> None:
        """Wait for a slot (declared providers; others at once); TimeoutError at `deadline` (loop time)."""
        if self._slots is not None:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()

    def give_back(self) -> None:
        if self._slots is not None:
            self._slots.release()

    def observe(self, sent_at: float, ended_at: float) -> None:
        """Learn from one answered call (loop times) whether the server runs calls side by side.

        One pair of calls that finished together could also be a short answer queued behind a long one
        on a serial server, so it takes two pairs with no call in common."""
        paired = False
        if not self.parallel_seen:
            for other in self._recent:
                other_sent, other_ended, other_paired = float(other[0]), float(other[1]), bool(other[2])
                if other_paired:
                    continue
                overlap = min(ended_at, other_ended) - max(sent_at, other_sent)
                shorter = min(ended_at - sent_at, other_ended - other_sent)
                if overlap > 0 and abs(ended_at - other_ended) < _TOGETHER_SHARE * shorter:
                    other[2] = paired = True
                    self._pairs_seen += 1
                    self.parallel_seen = self._pairs_seen >= _PAIRS_NEEDED
                    break
        self._recent.append([sent_at, ended_at, paired])
