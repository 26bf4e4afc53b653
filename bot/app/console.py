"""`moa-bot run` with no platform token, on a terminal: the bot as one console channel.

Lines are questions; `/moa …` are the bot's commands; a few console commands (`/layers`, `/help`,
`/quit`) are answered here. Progress updates one line in place, like `ask`, and each answer ends with the
same done/tokens/cost line. Ctrl-C cancels the answer in progress (at the prompt it leaves).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import sys
import time
from pathlib import Path

from rich.console import Console

from bot.app.local_files import files_in
from bot.app.terminal import done_footer, share_console
from bot.checks.preflight import model_checks
from bot.commands.context import CommandContext
from bot.commands.values import import_json
from bot.conversation.service import ConversationService, Mention
from bot.settings import Settings
from bot.surface import AgentProgress, FinalAnswer, Progress
from bot.text.render import PLAIN, render_layers, render_progress, waiting_line, writing_line
from moa.durations import agent_time
from moa.events import Usage
from moa.pricing import PriceTable
from storage.models import ChannelKey, RunRecord

CHANNEL = ChannelKey("console", "local", "terminal")
THREAD = "main"
WELCOME = ("moa-bot console — type a question and press Enter. `/help` lists the console's commands, "
           "`/moa help` the bot's.")
CONSOLE_COMMANDS = """Console commands:
  /moa …              the bot's commands (`/moa help` lists them)
  /moa import         then paste a config JSON (an empty line ends it); or `/moa import @FILE`
  /layers             the last answer's intermediate layers
  /help               this list
  /quit               leave (or Ctrl-D). Ctrl-C cancels an answer in progress."""
CANCELLED = "Cancelled."


def progress_line(progress: Progress) -> str:
    """The one-line status `ask` shows too: queue place, layer and agents left, or the aggregator."""
    if progress.queued_ahead is not None or progress.reading:
        return render_progress(progress, PLAIN)
    if progress.aggregating:
        return writing_line(progress.aggregator_model)
    left = sum(1 for a in progress.agents if a.state in ("waiting", "running"))
    return waiting_line(progress.layer, progress.total_layers, left, len(progress.agents))


def agent_line(agent: AgentProgress) -> str:
    """'  ✓ a · model · 4.9 s on the server + 6.1 s queued', or '  ✗ a · model · why'."""
    if agent.state == "failed":
        return f"  ✗ {agent.name} · {agent.model} · {agent.error or 'failed'}"
    return f"  ✓ {agent.name} · {agent.model} · {agent_time(agent.latency_s or 0.0, agent.queued_s)}"


class ConsoleSurface:
    """Progress in place on stderr, the answer on stdout."""

    min_update_interval = 0.1

    def __init__(self, err: Console, out: Console) -> None:
        self._err = err
        self._out = out
        self._status = err.status("Starting…", spinner="dots")
        self._live = False
        self.cancelled = False  # Ctrl-C: say "Cancelled.", not the service's restart notice
        self._told: set[tuple[int, str]] = set()  # (layer, agent) whose line is printed

    def stop(self) -> None:
        if self._live:
            self._status.stop()
            self._live = False

    async def show_progress(self, progress: Progress) -> None:
        finished = [a for a in progress.agents if a.state in ("done", "failed")
                    and (progress.layer, a.name) not in self._told]
        if finished:  # one line per agent as it answers, as `ask` prints them
            self.stop()
            for agent in finished:
                self._told.add((progress.layer, agent.name))
                self._err.print(agent_line(agent), style="dim", highlight=False, markup=False)
        self._status.update(progress_line(progress))
        if not self._live:
            self._status.start()
            self._live = True

    async def stream_answer(self, partial: str) -> None:
        pass  # the terminal prints the whole answer once; re-printing partials would repeat text

    async def finish(self, answer: FinalAnswer) -> list[str]:
        self.stop()
        self._out.print(answer.text, highlight=False, markup=False, soft_wrap=True)
        if answer.verdict:
            self._err.print(answer.verdict, style="dim", highlight=False, markup=False)
        for warning in answer.warnings:
            self._err.print(f"⚠️  {warning}", highlight=False, markup=False)
        return [f"console-{answer.run_id}"]

    def handle(self) -> str | None:
        return None  # a terminal's lines cannot be edited after a restart

    async def fail(self, message: str, run_id: int | None) -> None:
        self.stop()
        if self.cancelled:
            self._err.print(CANCELLED, highlight=False, markup=False)
        else:
            self._err.print(f"✗ {message}", style="red", highlight=False, markup=False)


# Keys a terminal sends as characters but nobody means as text: arrows and the like (ESC sequences), ^L and
# other control characters. A tab stays (pasted code).
_KEYS = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|O.|.)?|[\x00-\x08\x0b-\x1f\x7f]")


def typed(line: str) -> str:
    """A line as the person meant it: without the control keys that ended up in it."""
    return _KEYS.sub("", line.rstrip("\r"))


class LineReader:
    """Lines typed or pasted on stdin, read by the event loop (no thread, so Ctrl-C and leaving never wait
    on a blocked read). None at end of input."""

    def __init__(self) -> None:
        self._fd = sys.stdin.fileno()
        self._pending = b""
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        data = os.read(self._fd, 65536)
        if not data:
            self.close()
            if self._pending:
                self._lines.put_nowait(self._pending.decode(errors="replace"))
            self._lines.put_nowait(None)
            return
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            self._lines.put_nowait(typed(line.decode(errors="replace")))

    def end(self) -> None:
        """Make `next` answer None (leave)."""
        self._lines.put_nowait(None)

    async def next(self) -> str | None:
        return await self._lines.get()

    def close(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self._fd)


# A line that only opens or closes a Markdown code block (chat platforms draw those; a terminal would
# print the backticks).
_FENCE = re.compile(r"^[ \t]*```[\w-]*[ \t]*\n?", re.MULTILINE)


def unfenced(text: str) -> str:
    """A chat reply for the terminal: without the ``` lines around its tables and JSON."""
    return _FENCE.sub("", text)


def _read_file(name: str) -> str:
    return Path(name).expanduser().read_text(encoding="utf-8")


def _whole_json(text: str) -> bool:
    try:
        json.loads(import_json(text))
    except json.JSONDecodeError:
        return False
    return True


class ConsoleChat:
    """One console session over the service."""

    def __init__(self, service: ConversationService, err: Console, out: Console) -> None:
        self.service = service
        self.err = err
        self.out = out
        self.reader = LineReader()
        self.answer: asyncio.Task[int | None] | None = None
        self.surface: ConsoleSurface | None = None

    def interrupt(self) -> None:
        """Ctrl-C: cancel the answer in progress; at the prompt, leave."""
        if self.answer is not None and not self.answer.done():
            if self.surface is not None:
                self.surface.cancelled = True
            self.answer.cancel()
        else:
            self.reader.end()

    def prompt(self) -> None:
        self.out.print("› ", end="", highlight=False, markup=False)
        self.out.file.flush()

    async def loop(self) -> None:
        self.err.print(WELCOME, highlight=False, markup=False)
        while True:
            self.prompt()
            line = await self.reader.next()
            if line is None:
                self.out.print()
                return
            line = line.strip()
            if not line:
                continue
            word = line.split(None, 1)[0]
            if word in ("/quit", "/exit"):
                return
            if word == "/moa":
                await self.command(line[4:].strip())
            elif word == "/layers":
                await self.layers()
            elif word.startswith("/"):
                unknown = "" if word == "/help" else f"{word} is not a console command. "
                self.err.print(unknown + CONSOLE_COMMANDS, highlight=False, markup=False)
            else:
                await self.ask(line)

    async def layers(self) -> None:
        run = await self.service.last_run(CHANNEL, THREAD)
        if run is None:
            self.err.print("No answer yet — ask something first.")
        else:
            self.out.print(render_layers(run, PLAIN), highlight=False, markup=False, soft_wrap=True)

    async def command(self, text: str) -> None:
        verb, _, rest = text.partition(" ")
        if verb == "import":
            payload = await self.import_payload(rest.strip())
            if payload is None:
                return
            text = f"import {payload}"
        reply = await self.service.run_command(CommandContext(CHANNEL, "console", _admin), text)
        # soft_wrap: an export must stay copyable — no line breaks inside its JSON strings.
        self.out.print(unfenced(reply.text), highlight=False, markup=False, soft_wrap=True)

    async def import_payload(self, rest: str) -> str | None:
        """The config to import: `@FILE`'s text, or the JSON pasted on this and the following lines."""
        if rest.startswith("@"):
            try:
                return await asyncio.to_thread(_read_file, rest[1:])
            except OSError as err:
                self.err.print(f"Cannot read {rest[1:]}: {err.strerror or err}.", highlight=False, markup=False)
                return None
        if rest and _whole_json(rest):
            return rest
        if not rest:
            self.err.print("Paste the config JSON; an empty line ends it.", highlight=False, markup=False)
        lines = [rest] if rest else []
        while (line := await self.reader.next()) is not None and line.strip():
            lines.append(line)
            if _whole_json("\n".join(lines)):
                break
        return "\n".join(lines)

    async def ask(self, question: str) -> None:
        try:
            question, files, not_files = files_in(question)
        except ValueError as err:
            self.err.print(str(err), style="red", highlight=False, markup=False)
            return
        for file in files:
            size = f" ({file.size:,} bytes)" if file.size is not None else ""
            self.err.print(f"📎 {file.name} attached{size}.", highlight=False, markup=False)
        for word in not_files:  # a typo'd file name is still asked, as written; say why it was not read
            self.err.print(f"(There is no file {word}: “@{word}” is sent as written.)", style="dim",
                           highlight=False, markup=False)
        surface = ConsoleSurface(self.err, self.out)
        mention = Mention(CHANNEL, THREAD, f"console-{time.time_ns()}", "console", question, attachments=files)
        self.surface = surface
        self.answer = asyncio.create_task(self.service.handle_mention(mention, surface))
        try:
            await asyncio.wait({self.answer})
        finally:
            surface.stop()
        if self.answer.cancelled():
            return
        run_id = self.answer.result()
        run = await self.service.reveal_layers(CHANNEL, run_id=run_id) if run_id is not None else None
        if run is not None and run.status == "done":
            self.err.print(_footer(run, self.service.providers.prices), style="dim", highlight=False, markup=False)


def _footer(run: RunRecord, prices: PriceTable) -> str:
    # The stored flag makes the same `about()` mark as `ask`'s footer: ≈ when a server counted nothing.
    usage = Usage(run.prompt_tokens or 0, run.completion_tokens or 0, run.cached_tokens or 0,
                  estimated=run.usage_estimated)
    calls = [(p.model, Usage(p.prompt_tokens or 0, p.completion_tokens or 0, p.cached_tokens or 0,
                             estimated=p.usage_estimated)
              if p.prompt_tokens is not None else None) for p in run.proposers]
    return done_footer(run.total_s or 0.0, usage, calls, run.aggregator, prices)


async def _admin() -> bool:
    return True  # whoever holds the terminal owns this channel


async def chat(settings: Settings) -> int:
    """Read questions from stdin until EOF, /quit or Ctrl-C at the prompt."""
    err, out = Console(stderr=True), Console()
    share_console(err)  # log lines above the progress spinner, never over it
    logging.getLogger("moa.answers").setLevel(logging.WARNING)  # the footer says it; no log line in the chat
    service = await ConversationService.create(settings)  # the database first, as `run` does
    # The same checks as `run` with chat platforms, refusing an unreachable provider too: every question
    # would fail on it.
    check = await model_checks(settings, refuse_unreachable=True)
    if check.problems:
        for problem in check.problems:
            err.print(problem, style="red", highlight=False, markup=False)
        await service.aclose()
        return check.exit_code  # as `ask`: a server down is 1, a mistyped model 2
    for warning in check.warnings:
        err.print(f"⚠ {warning}", style="yellow", highlight=False, markup=False)
    session = ConsoleChat(service, err, out)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, session.interrupt)
    try:
        await session.loop()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        session.reader.close()
        await service.aclose()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(asyncio.run(chat(Settings.load())))
