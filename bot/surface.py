"""The reply surface: the few things the conversation service asks of a platform.

Each adapter (Slack, Discord, the console) implements it for one answer. The service decides *what*
to show and *when* (it already throttles to `min_update_interval`); the surface only decides *how*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from moa.events import BudgetWaiting

AgentState = Literal["waiting", "running", "done", "failed"]


@dataclass(frozen=True)
class AgentProgress:
    name: str
    model: str
    state: AgentState
    latency_s: float | None = None
    error: str | None = None
    queued_s: float = 0.0  # of latency_s, the wait for a busy server or its budget


@dataclass(frozen=True)
class Progress:
    """What is happening now: which layer runs and the state of each agent (never their answers)."""

    layer: int  # 1-based proposer layer; == total_layers + 1 while the aggregator writes
    total_layers: int
    agents: tuple[AgentProgress, ...] = ()
    aggregator_model: str = ""
    queued_ahead: int | None = None  # set while the request waits for a slot
    reading: tuple[str, ...] = ()  # set while what the mention brought is read (file names, "this thread")
    budget_waits: tuple[BudgetWaiting, ...] = ()  # models whose rate limit holds a call back now

    @property
    def aggregating(self) -> bool:
        return self.layer > self.total_layers


@dataclass(frozen=True)
class FinalAnswer:
    text: str
    run_id: int | None  # None when the run could not be stored: no show-layers control then
    warnings: tuple[str, ...] = field(default=())  # short notes shown with the answer
    verdict: str | None = None  # shown small beside the answer: "3 of 3 agents agreed" (RunFinished.verdict)


class ReplySurface(Protocol):
    """One answer's presence on a platform: a status that evolves into the answer."""

    # Seconds between two edits of the same message that the platform tolerates (Slack/Discord: ~1).
    min_update_interval: float

    async def show_progress(self, progress: Progress) -> None:
        """Post (first call) or update the status message. Called within a second of the mention."""

    async def stream_answer(self, partial: str) -> None:
        """Show the answer written so far (the whole text, not a delta)."""

    async def finish(self, answer: FinalAnswer) -> list[str]:
        """Show the final answer whole (split across messages as needed) with a show-layers control.

        Returns the platform ids of every message that carries the answer, so a reaction or button on
        any of them finds the run later.
        """
        ...

    async def fail(self, message: str, run_id: int | None) -> None:
        """Replace the status with a failure sentence (with show-layers if a run exists)."""

    def handle(self) -> str | None:
        """Where the status message lives, as small JSON the adapter can rebuild this surface from after
        a restart (e.g. Slack channel + ts + whether it is a native stream); None before it is posted."""
