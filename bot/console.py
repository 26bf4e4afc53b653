"""`moa-bot run` with no platform token, on a terminal: the bot as one console channel."""

from __future__ import annotations

import asyncio
import sys
import time

from rich.console import Console

from bot.render import PLAIN, render_layers, render_progress
from bot.service import CommandContext, ConversationService, Mention
from bot.settings import Settings
from bot.surface import FinalAnswer, Progress
from storage.models import ChannelKey

CHANNEL = ChannelKey("console", "local", "terminal")
THREAD = "main"
WELCOME = ("moa-bot console — type a question and press Enter. `/moa help` lists commands, `/layers` shows "
           "the last answer's layers, `/quit` (or Ctrl-D) leaves.")


class ConsoleSurface:
    """Progress on stderr, the answer on stdout."""

    min_update_interval = 0.3

    def __init__(self, err: Console, out: Console) -> None:
        self._err = err
        self._out = out
        self._last_status = ""

    async def show_progress(self, progress: Progress) -> None:
        status = render_progress(progress, PLAIN)
        if status != self._last_status:
            self._last_status = status
            self._err.print(status, style="dim", highlight=False)

    async def stream_answer(self, partial: str) -> None:
        pass  # the terminal prints the whole answer once; re-printing partials would repeat text

    async def finish(self, answer: FinalAnswer) -> list[str]:
        self._out.print(answer.text, highlight=False, markup=False)
        for warning in answer.warnings:
            self._err.print(f"⚠️  {warning}", highlight=False, markup=False)
        return [f"console-{answer.run_id}"]

    async def fail(self, message: str, run_id: int | None) -> None:
        self._err.print(f"✗ {message}", style="red", highlight=False, markup=False)

    def handle(self) -> str | None:
        return None  # a terminal's lines cannot be edited after a restart


async def _admin() -> bool:
    return True  # whoever holds the terminal owns this channel


async def chat(settings: Settings) -> int:
    """Read questions from stdin until EOF or /quit."""
    err, out = Console(stderr=True), Console()
    service = await ConversationService.create(settings)
    err.print(WELCOME, highlight=False, markup=False)
    try:
        while True:
            try:
                line = await asyncio.to_thread(input, "› ")
            except (EOFError, KeyboardInterrupt):
                break
            line = line.strip()
            if not line:
                continue
            if line in ("/quit", "/exit"):
                break
            if line == "/layers":
                run = await service.last_run(CHANNEL, THREAD)
                if run is None:
                    err.print("No answer yet — ask something first.")
                else:
                    out.print(render_layers(run, PLAIN), highlight=False, markup=False)
                continue
            if line.startswith("/moa"):
                reply = await service.run_command(CommandContext(CHANNEL, "console", _admin), line[4:].strip())
                out.print(reply.text, highlight=False, markup=False)
                continue
            mention = Mention(CHANNEL, THREAD, f"console-{time.time_ns()}", "console", line)
            await service.handle_mention(mention, ConsoleSurface(err, out))
    finally:
        await service.aclose()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(asyncio.run(chat(Settings.load())))
