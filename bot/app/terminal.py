"""`moa-bot ask` and `moa-bot models`: one MoA answer, or the live model list, in a terminal.

The answer (streamed as the aggregator writes it) goes to stdout and nothing else does, so
`moa-bot ask "…" > answer.md` keeps just the answer; progress per layer and proposer, intermediate
answers (`--show-layers`), warnings and errors go to stderr through rich.

Exit codes: 0 answered, 1 the run or the provider failed, 2 a usage problem (bad config, bad
`--layers`, missing GROQ_API_KEY).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from contextlib import aclosing
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.logging import RichHandler
from rich.panel import Panel
from rich.text import Text

from bot.app.local_files import local_attachment
from bot.checks.preflight import provider_checks
from bot.conversation.reading import FILES_ONLY, models_of, read_attachments
from bot.observe.traces import start_answer
from bot.settings import Settings
from bot.text.redact import Redactor, redact_event
from bot.text.render import budget_wait_line, plural, waiting_line, writing_line
from moa.calls.counting import about
from moa.calls.providers import MISSING_GROQ_KEY, ProviderRegistry
from moa.config.schema import MoaConfig, check_limits, load_config_file
from moa.durations import agent_time
from moa.errors import ConfigError, ProviderError
from moa.events import (
    AggregatorDelta,
    AggregatorStarted,
    BudgetWaiting,
    LayerStarted,
    ProposerFinished,
    RunFailed,
    RunFinished,
    Usage,
    aggregator_share,
)
from moa.pricing import PRICES_AS_OF, PRICES_SOURCE, PriceTable, format_cost, is_self_hosted
from moa.run.engine import MoaEngine, layer_cost, layer_usage


def share_console(console: Console) -> None:
    """Log lines go through `console`, so rich prints them above its spinner instead of over it."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, RichHandler):
            handler.console = console


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def load_config(config_file: str | Path | None, layers: int | None, settings: Settings) -> MoaConfig:
    """The config to run: the file's (any accepted shape) or the default, `--layers` applied."""
    if config_file is not None:
        try:
            config = load_config_file(config_file, limits=settings.limits)
        except ConfigError as err:
            raise ConfigError(f"--config: {err}") from None  # name the flag the person typed
    else:
        config = settings.default_config
    if layers is not None:
        if layers < 1:
            raise ConfigError(f"--layers must be 1 or more, not {layers}.")
        most = settings.limits.max_layers
        if layers > most:
            raise ConfigError(f"--layers {layers} is more than the {most} layers allowed: use 1 to {most}, or "
                              "raise MOA_MAX_LAYERS.")
        config = config.model_copy(update={"layers": layers})
    try:
        return check_limits(config, settings.limits)
    except ConfigError as err:
        if layers is None:
            raise
        # The calls limit is crossed with the layers the person typed: name the flag too.
        raise ConfigError(f"With --layers {layers}: {err} (MOA_MAX_CALLS sets the limit.)") from None


async def ask(question: str, config_file: str | Path | None, layers: int | None, show_layers: bool,
              settings: Settings, *, out: TextIO | None = None, files: Sequence[str] = ()) -> int:
    """Answer `question` once (with `files` read as a mention's attachments); the answer streams to stdout,
    progress and notes to stderr. Returns the exit code."""
    out = out if out is not None else sys.stdout
    err = _stderr()
    try:
        attachments = [local_attachment(path) for path in files]
    except ValueError as exc:
        err.print(Text(str(exc), style="red"))
        return 2
    question = question.strip() or (FILES_ONLY if attachments else "")
    if not question:
        err.print("Ask a question, e.g. moa-bot ask \"What is a mixture of agents?\"")
        return 2
    try:
        config = load_config(config_file, layers, settings)
        registry = ProviderRegistry.from_env(settings.env, call_timeout_s=settings.call_timeout_s,
                                             deadline_s=settings.run_deadline_s)
    except ConfigError as exc:
        err.print(Text(str(exc), style="red"))
        return 2
    where = f"--config {config_file}" if config_file is not None else (
        f"MOA_CONFIG ({settings.default_config_path})" if settings.default_config_path else "The default config")
    check = await provider_checks(registry, config, where)  # the checks `run` and `doctor` make too
    if check.problems:
        for problem in check.problems:
            err.print(Text(problem, style="red"))
        await registry.aclose()
        return check.exit_code  # an unreachable provider is a failure (1), a config that cannot work usage (2)
    engine = MoaEngine(registry, call_timeout_s=settings.call_timeout_s, deadline_s=settings.run_deadline_s,
                       quorum=settings.quorum or None)
    view = _AskView(err, out, show_layers, config, registry.prices)
    share_console(err)
    redactor = Redactor.from_env(settings.env)
    reading = await read_attachments(attachments, settings.file_limits)
    answer_trace = start_answer(config, question)
    try:
        async with aclosing(engine.run(reading.question(question), config, shown=reading.shown)) as events:
            async for event in events:
                answer_trace.see(event)
                view.show(redact_event(event, redactor))
    finally:
        answer_trace.end(sys.exc_info()[1])
        view.stop()
        await registry.aclose()
    for note in reading.notes(models_of(config)):
        err.print(Text(note, style="yellow"))
    return view.exit_code


class _AskView:
    """Renders the event stream: a line per proposer on stderr, the answer streamed to stdout."""

    def __init__(self, err: Console, out: TextIO, show_layers: bool, config: MoaConfig, prices: PriceTable) -> None:
        self.err = err
        self.prices = prices
        self.out = out
        self.show_layers = show_layers
        self.config = config
        self.status = err.status("Starting…", spinner="dots")
        self.status_running = False
        self.pending: list[ProposerFinished] = []
        self.layer_total = 0
        self.layers = 0  # the run's proposer layers
        self.waiting = 0
        self.streamed = False
        # Streamed only to a terminal: piped, stdout gets the whole answer at the end or, when the run
        # fails, nothing (never half an answer with exit code 1).
        self.stream_out = out.isatty()
        self.exit_code = 1

    def _set_status(self, text: str) -> None:
        self.status.update(text)
        if not self.status_running:
            self.status.start()
            self.status_running = True

    def stop(self) -> None:
        if self.status_running:
            self.status.stop()
            self.status_running = False

    def show(self, event: object) -> None:
        match event:
            case LayerStarted(layer=layer, total_layers=total, agents=agents):
                self._flush_layer()
                self.layer_total = len(agents)
                self.waiting = len(agents)
                self.stop()
                self.err.print(Text(f"Layer {layer}/{total}: {plural(len(agents), 'agent')}", style="bold"))
                self.layers = total
                self._set_status(waiting_line(layer, total, self.waiting, len(agents)))
            case ProposerFinished() as p:
                self.pending.append(p)
                self.waiting -= 1
                self.stop()
                self.err.print(_proposer_line(p))
                if self.waiting > 0:
                    self._set_status(waiting_line(p.layer, self.layers, self.waiting, self.layer_total))
                else:
                    self.err.print(Text(f"  layer {p.layer}: {layer_usage(self.pending).total_tokens:,} tokens · "
                                        f"cost {format_cost(layer_cost(self.pending))}", style="dim"))
            case BudgetWaiting() as wait if wait.wait_s > 0:
                self._set_status(budget_wait_line(wait))
            case AggregatorStarted(model=model, restarted=True):
                self.stop()
                if self.streamed:
                    self.out.write("\n")
                    self.streamed = False
                self.err.print(Text(f"The aggregator failed; {model} writes the answer instead…", style="yellow"))
                self._set_status(writing_line(model))
            case AggregatorStarted(model=model):
                self._flush_layer()
                self.stop()
                self.err.print(Text(f"Aggregating with {model}…", style="bold"))
                self._set_status(writing_line(model))
            case AggregatorDelta(text=text) if self.stream_out:
                if not self.streamed:
                    self.stop()
                    self.streamed = True
                self.out.write(text)
                self.out.flush()
            case RunFinished() as done:
                self.stop()
                if not self.streamed:
                    self.out.write(done.answer)
                self.out.write("\n")
                self.out.flush()
                if done.verdict:
                    self.err.print(Text(done.verdict, style="dim"))
                for warning in done.warnings:
                    self.err.print(Text(f"⚠ {warning}", style="yellow"))
                calls = [(o.model, o.usage) for layer in done.layers for o in layer.outputs]
                footer = done_footer(done.timings.total_s, done.usage, calls, done.model, self.prices)
                self.err.print(Text(footer, style="dim"))
                self.exit_code = 0
            case RunFailed() as failed:
                self._flush_layer()
                self.stop()
                if self.streamed:
                    self.out.write("\n")
                    self.out.flush()
                self.err.print(Text(f"✗ {failed.error}", style="red"))
                self.exit_code = 1

    def _flush_layer(self) -> None:
        """With --show-layers, print the finished layer's answers in agent order."""
        if not self.pending:
            return
        done, self.pending = self.pending, []
        if not self.show_layers:
            return
        self.stop()
        order = {name: i for i, name in enumerate(self.config.layer_agent_config)}
        for p in sorted(done, key=lambda p: order.get(p.agent, 0)):
            title = Text(f"Layer {p.layer} · {p.agent} · {p.model}")
            body = Text(p.text) if p.ok else Text(p.error or "failed", style="red")
            # soft_wrap off for the panel: long lines wrap inside it instead of being cropped at its edge.
            self.err.print(Panel(body, title=title, title_align="left", border_style="dim" if p.ok else "red"),
                           soft_wrap=False)


def done_footer(total_s: float, usage: Usage, proposers: list[tuple[str, Usage | None]], aggregator: str,
                prices: PriceTable) -> str:
    """"Done in 4.2 s · 1,234 tokens (1,000 in, 234 out) · cost $0.0012" — `ask` and the console print it.
    `proposers`: (model, usage) of each proposer call; the aggregator's usage is what the total leaves."""
    cost = prices.describe_cost([*proposers, (aggregator, aggregator_share(usage, proposers, aggregator))])
    mark = about(usage)  # "≈": some call's tokens were estimated, its server counted none
    cached = f" of them {usage.cached_tokens:,} cached," if usage.cached_tokens else ""
    return (f"Done in {total_s:.1f} s · {mark}{usage.total_tokens:,} tokens "
            f"({mark}{usage.prompt_tokens:,} in,{cached} {mark}{usage.completion_tokens:,} out) · cost {cost}")


def _proposer_line(p: ProposerFinished) -> Text:
    if p.ok:
        tokens = f" · {p.usage.total_tokens:,} tokens" if p.usage is not None else ""
        line = Text("  ✓ ", style="green")
        line.append(f"{p.agent} · {p.model} · {agent_time(p.latency_s, p.queued_s)}{tokens}")
        return line
    line = Text("  ✗ ", style="red")
    line.append(f"{p.agent} · {p.model} · {p.error}")
    return line


async def models(settings: Settings, *, out: TextIO | None = None) -> int:
    """List the models the configured providers serve now, one per line with its price."""
    out = out if out is not None else sys.stdout
    err = _stderr()
    try:
        registry = ProviderRegistry.from_env(settings.env, call_timeout_s=settings.call_timeout_s,
                                             deadline_s=settings.run_deadline_s)
    except ConfigError as exc:
        err.print(Text(str(exc), style="red"))
        return 2
    if not registry.has_groq and not registry.provider_names:
        err.print(MISSING_GROQ_KEY)
        return 2
    try:
        ids = await registry.live_models(refresh=True)
    except ProviderError as exc:
        err.print(Text(str(exc), style="red"))
        return 1
    finally:
        await registry.aclose()
    width = max((len(i) for i in ids), default=0)
    for model in ids:
        price = registry.prices.price_for(model)
        if price is None:
            note = "price unknown (add it to MOA_PRICES)"
        elif is_self_hosted(model) and price.input_per_m == price.output_per_m == 0:
            note = "self-hosted: free unless MOA_PRICES declares a price"
        else:
            note = f"${price.input_per_m:g} in / ${price.output_per_m:g} out per M tokens"
        out.write(f"{model.ljust(width)}  {note}\n")
    out.flush()
    for why in registry.listing_errors.values():
        err.print(Text(f"⚠ {Redactor.from_env(settings.env).redact(str(why))}", style="yellow"))
    if not registry.has_groq:
        err.print(Text(f"Groq models are not listed: {MISSING_GROQ_KEY}", style="yellow"))
    prices = f"; Groq prices as of {PRICES_AS_OF} from {PRICES_SOURCE}" if any(registry.is_groq(m) for m in ids) \
        else ""
    err.print(Text(f"{plural(len(ids), 'model')}{prices}.", style="dim"))
    return 0
