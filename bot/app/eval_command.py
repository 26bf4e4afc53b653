"""`moa-bot eval`: configs answer graded questions through the chat engine; the report says how well.

The report (a rich table, then the paired comparisons) goes to stdout; progress and warnings go to
stderr — a progress bar with ETA on a terminal, one plain line per answer off one. Every graded answer
is appended to a results file as it comes, so Ctrl-C stops cleanly and the same command continues.

Exit codes: 0 measured (or planned), 1 stopped (failures in a row, Ctrl-C) or nothing could be measured,
2 a usage problem (a bad option, a model no provider serves, a missing key).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.progress import Task as BarTask
from rich.table import Table
from rich.text import Text

from bot.app.terminal import load_config
from bot.checks.preflight import unknown_models_sentence
from bot.settings import Settings
from bot.text.redact import Redactor
from bot.text.render import plural
from moa.calls.providers import MISSING_GROQ_KEY, ProviderRegistry
from moa.config.schema import MOST_MAX_TOKENS, check_limits, preset
from moa.durations import agent_time, measured, rounded
from moa.errors import ConfigError
from moa.eval.plan import Pace, RunPlan, answers_left, plan_run
from moa.eval.report import Report, build_report
from moa.eval.results import Outcome, ResultsFile
from moa.eval.runner import EvalConfig, RunStopped, Task, pending, regrade_changed, run_tasks
from moa.eval.sets import Question, listing, load_set
from moa.eval.solo import SINGLE, solo_max_tokens
from moa.run.engine import MoaEngine


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def resolve_config(spec: str, settings: Settings) -> EvalConfig:
    """`--config`: `single:MODEL`, a config file (seed format or export), or a preset name."""
    spec = spec.strip()
    if spec.startswith(SINGLE):
        model = spec[len(SINGLE):].strip()
        if not model:
            raise ConfigError("--config single: needs a model, e.g. single:openai/gpt-oss-120b.")
        return EvalConfig(spec, solo=model)
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".json" or path.exists():
        return EvalConfig(spec, moa=load_config(path, None, settings))
    try:
        return EvalConfig(spec, moa=check_limits(preset(spec), settings.limits))
    except ConfigError as err:
        raise ConfigError(f"--config {spec}: {err} Or give a config file, or single:MODEL.") from None


def default_results_path(set_spec: str, configs: Sequence[str], json_out: Path | None, env: dict[str, str]) -> Path:
    """Next to --json (`report.json` → `report.answers.jsonl`), else in the cache, named by set and configs."""
    if json_out is not None:
        return json_out.with_name(json_out.stem + ".answers.jsonl")
    cache = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "moa-bot" / "eval"
    where = str(Path(set_spec).resolve()) if Path(set_spec).exists() else set_spec.strip().lower()
    digest = hashlib.sha256(json.dumps([where, sorted(configs)]).encode()).hexdigest()[:10]
    stem = Path(set_spec).stem if Path(set_spec).exists() else set_spec.strip().lower()
    return cache / f"{stem}-{digest}.jsonl"


def print_set_list(out: TextIO) -> int:
    table = Table(title="Bundled question sets (generated from seeded templates)")
    table.add_column("set")
    table.add_column("questions", justify="right")
    table.add_column("what")
    for name, size, description in listing():
        table.add_row(name, str(size), description)
    Console(file=out, highlight=False).print(table)
    return 0


async def evaluate(set_spec: str, config_specs: Sequence[str], settings: Settings, *, limit: int | None = None,
                   json_out: Path | None = None, chart_out: Path | None = None, resume: Path | None = None,
                   retry_failed: bool = False, plan_only: bool = False, single_max_tokens: int | None = None,
                   out: TextIO | None = None) -> int:
    """Run the evaluation; returns the exit code. Answers already in the results file are not asked again.
    `single_max_tokens`: the single:MODEL baseline's answer budget (default: the compared configs')."""
    out = out if out is not None else sys.stdout
    err = _stderr()
    if set_spec.strip().lower() == "list":
        return print_set_list(out)
    try:
        notes: list[str] = []
        configs, questions = _inputs(set_spec, config_specs, settings, limit, notes, single_max_tokens)
        for note in notes:
            err.print(Text(note, style="yellow"))
        registry = ProviderRegistry.from_env(settings.env, call_timeout_s=settings.call_timeout_s,
                                             deadline_s=settings.run_deadline_s)
    except ConfigError as exc:
        err.print(Text(str(exc), style="red"))
        return 2
    results = ResultsFile(resume or default_results_path(set_spec, config_specs, json_out, dict(settings.env)))
    # A kept answer is graded again where the set's expected answer changed (no call; not in a plan).
    for sentence in results_notes(results, 0 if plan_only else regrade_changed(questions, configs, results)):
        err.print(Text(sentence, style="yellow"))
    tasks = pending(questions, configs, results, retry_failed)
    pace = Pace.of(results.outcomes.values(), configs)
    budget = solo_budget_sentence(configs, single_max_tokens)
    if plan_only:  # what the run would ask, and nothing asked
        print_plan(plan_run([], [], registry.pacer, tasks=tasks, pace=pace, sends_limits=registry.is_groq), out)
        if budget:
            print(budget, file=out)
        await registry.aclose()
        return 0
    try:
        problem = await _preflight(registry, configs)
        if problem is not None:
            err.print(Text(Redactor.from_env(settings.env).redact(problem), style="red"))
            return 2
        total = len(questions) * len(configs)
        if budget:
            err.print(Text(budget, style="dim"))
        err.print(Text(plan_sentence(plan_run([], [], registry.pacer, tasks=tasks, pace=pace,
                                              sends_limits=registry.is_groq)), style="dim"))
        if total - len(tasks):
            err.print(Text(f"Continuing: {total - len(tasks)} of {total} answers were graded already "
                           f"({results.path}).", style="dim"))
        engine = MoaEngine(registry, call_timeout_s=settings.call_timeout_s, deadline_s=settings.run_deadline_s,
                           quorum=settings.quorum or None)
        try:
            await _run_with_progress(tasks, engine, registry, results, err, total,
                                     Redactor.from_env(settings.env).redact, pace)
        except RunStopped as stopped:
            err.print(Text(Redactor.from_env(settings.env).redact(str(stopped)), style="red"))
            return 1
        except asyncio.CancelledError:  # Ctrl-C: what was graded is on disk already
            kept = sum(1 for q in questions for c in configs if (q.id, c.name) in results.outcomes)
            err.print(f"Stopped: {kept} of {total} answers are kept in {results.path}; run the same command "
                      "again to continue.")
            raise
    finally:
        await registry.aclose()
    report = build_report(set_spec, [q.id for q in questions], [c.name for c in configs], results.outcomes)
    print_report(report, out)
    err.print(Text(f"Answers are kept in {results.path}.", style="dim"))
    for sentence in write_outputs(report, json_out, chart_out):
        err.print(Text(sentence, style="yellow"))
    return 0 if any(c.n for c in report.configs) else 1


def results_notes(results: ResultsFile, regraded: int) -> list[str]:
    """What the results file needed: lines set aside or mended, answers graded again against a changed set."""
    notes = [results.problem()] if results.problem() else []
    if regraded:
        notes.append(f"{plural(regraded, 'kept answer')} graded again against the set's changed expected answers "
                     "(no calls).")
    return [n for n in notes if n]


def write_outputs(report: Report, json_out: Path | None, chart_out: Path | None) -> list[str]:
    """Write --json and --chart; a sentence for each that could not be written."""
    problems: list[str] = []
    if json_out is not None:
        try:
            json_out.write_text(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as err:
            problems.append(f"--json: cannot write {json_out}: {err.strerror or err}.")
    if chart_out is not None:
        from bot.app.eval_chart import draw_chart

        sentence = draw_chart(report, chart_out)
        if sentence is not None:
            problems.append(sentence)
    return problems


def _inputs(set_spec: str, config_specs: Sequence[str], settings: Settings, limit: int | None,
            notes: list[str], single_max_tokens: int | None = None) -> tuple[list[EvalConfig], list[Question]]:
    if not config_specs:
        raise ConfigError("Name at least one config to measure: --config article --config single:openai/gpt-oss-120b")
    repeated = sorted({s for s in config_specs if list(config_specs).count(s) > 1})
    if repeated:
        raise ConfigError(f"--config {repeated[0]} is given twice; each config is measured once.")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be 1 or more, not {limit}.")
    if single_max_tokens is not None and not 1 <= single_max_tokens <= MOST_MAX_TOKENS:
        raise ConfigError(f"--single-max-tokens must be 1 to {MOST_MAX_TOKENS:,}, not {single_max_tokens}.")
    configs = [resolve_config(spec, settings) for spec in config_specs]
    budget = solo_max_tokens((c.moa.max_tokens for c in configs if c.moa is not None), single_max_tokens)
    configs = [replace(c, solo_max_tokens=budget) if c.moa is None else c for c in configs]
    questions = load_set(set_spec, notes)
    return configs, questions[:limit] if limit else questions


def solo_budget_sentence(configs: Sequence[EvalConfig], chosen: int | None) -> str | None:
    """What the single:MODEL baselines may write and why, or None when there is none."""
    solos = [c for c in configs if c.moa is None]
    if not solos:
        return None
    budget = solos[0].solo_max_tokens
    names = ", ".join(c.name for c in solos)
    if chosen is not None:
        why = "as --single-max-tokens sets"
    else:
        followed = [c.name for c in configs if c.moa is not None and c.moa.max_tokens == budget]
        why = (f"the final-answer max_tokens of {followed[0]}; --single-max-tokens sets another" if followed
               else "no MoA config to follow; --single-max-tokens sets another")
    return f"{names} may write up to {budget:,} tokens ({why})."


async def _preflight(registry: ProviderRegistry, configs: Sequence[EvalConfig]) -> str | None:
    """A sentence when a config cannot run at all (no key, a model not served), before any call is spent."""
    models = [m for c in configs for m in c.models()]
    if registry.needs_groq_key(models):
        return MISSING_GROQ_KEY
    for config in configs:
        if config.moa is not None:
            problem = await unknown_models_sentence(registry, config.moa, f"--config {config.name}")
        else:
            unknown = await registry.unknown_models(config.models())
            problem = (f"--config {config.name}: {unknown[0]} is not served now; `moa-bot models` lists the live "
                       "ones.") if unknown else None
        if problem is not None:
            return problem
    return None


class _Eta(ProgressColumn):
    """Time left at the pace of the answers timed so far, per config (rich's own ETA needs several
    answers within 30 s, which a slow server never gives); said plainly while it cannot be told."""

    def __init__(self, pace: Pace, left: dict[str, int]) -> None:
        super().__init__()
        self.pace = pace
        self.left = left

    def render(self, task: BarTask) -> Text:
        return Text(eta(self.pace, self.left), style="progress.remaining")


def eta(pace: Pace, left: dict[str, int]) -> str:
    """'ETA 12 min', or what it waits for: 'ETA after the first answer of single:m'."""
    seconds = pace.time_left(left)
    if seconds is not None:
        return f"ETA {rounded(seconds)}" if seconds > 0 else "ETA —"
    return f"ETA after the first answer of {', '.join(pace.untimed(left))}"


async def _run_with_progress(tasks: Sequence[Task], engine: MoaEngine, registry: ProviderRegistry,
                             results: ResultsFile, err: Console, total: int, scrub: Callable[[str], str],
                             pace: Pace) -> None:
    done = total - len(tasks)
    if not tasks:
        return
    left = answers_left(tasks)

    def counted(task: Task, outcome: Outcome) -> None:
        left[task.config.name] -= 1
        pace.add(task.config.name, outcome.seconds)

    if err.is_terminal:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   _Eta(pace, left))
        with Progress(*columns, console=err, transient=False) as progress:
            bar = progress.add_task("answering", total=total, completed=done)

            def started(task: Task) -> None:
                progress.update(bar, description=f"{task.config.name} · {task.question.id}")

            def finished(task: Task, outcome: Outcome) -> None:
                counted(task, outcome)
                progress.advance(bar)

            await run_tasks(tasks, engine, registry, results, started, finished, scrub=scrub)
        return
    count = [done]

    def line(task: Task, outcome: Outcome) -> None:
        count[0] += 1
        counted(task, outcome)
        verdict = "right" if outcome.correct else (f"failed: {outcome.failed}" if outcome.failed else
                                                   f"wrong (answered {outcome.extracted}, expected {outcome.expected})")
        err.print(f"[{count[0]}/{total}] {task.config.name} · {task.question.id} · {verdict} · "
                  f"{measured(outcome.seconds)}{_agents_waited(outcome)} · {eta(pace, left)}", markup=False)

    await run_tasks(tasks, engine, registry, results, on_outcome=line, scrub=scrub)


def _agents_waited(outcome: Outcome) -> str:
    """' (agents: 24.1 s on the server + 12.3 s queued)' when the answer's agents waited for a busy server."""
    if not outcome.agents_queued_s:
        return ""
    return f" (agents: {agent_time(outcome.agents_s, outcome.agents_queued_s)})"


def plan_sentence(plan: RunPlan) -> str:
    """What the run asks and how long it takes, as far as can honestly be told."""
    when: list[str] = []
    if plan.seconds is not None:
        when.append(f"at the limits known now that takes at least {rounded(plan.seconds)}")
    else:
        learnt = [m.model for m in plan.models if m.seconds is None and m.learns]
        silent = [m.model for m in plan.models if m.seconds is None and not m.learns]
        if learnt:
            when.append(f"the limits of {', '.join(learnt)} are learnt from the first answers' headers")
        if silent:
            when.append(f"{', '.join(silent)} {'has' if len(silent) == 1 else 'have'} no declared rate limit "
                        "(its server sends none; MOA_LIMITS declares one)")
    if plan.paced_s is not None and plan.answers:
        when.append(f"at the pace of the answers timed so far it takes about {rounded(plan.paced_s)}")
    elif plan.untimed:
        when.append(f"how long it takes cannot be told before {', '.join(plan.untimed)} "
                    f"{'has' if len(plan.untimed) == 1 else 'have'} answered once (the ETA starts then; "
                    "or run with --limit 1, then --plan again)")
    return (f"{plural(plan.answers, 'answer')} to go: up to {plan.calls:,} calls and {plan.tokens:,} tokens counted "
            f"against the limits (prompt + max_tokens, as Groq counts them); {'; '.join(when)}.")


def print_plan(plan: RunPlan, out: TextIO) -> None:
    table = Table(title=f"{plural(plan.answers, 'answer')}: what the run asks of each model")
    for column in ("model", "calls", "tokens counted", "limit", "least time"):
        table.add_column(column, justify="left" if column in ("model", "limit") else "right")
    for m in plan.models:
        table.add_row(m.model, f"{m.calls:,}", f"{m.tokens:,}", m.limit,
                      "—" if m.seconds is None else rounded(m.seconds))
    console = Console(file=out, highlight=False, soft_wrap=True, width=160 if not out.isatty() else None)
    console.print(table)
    console.print(plan_sentence(plan), markup=False)


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def print_report(report: Report, out: TextIO) -> None:
    console = Console(file=out, highlight=False, soft_wrap=True, width=160 if not out.isatty() else None)
    table = Table(title=f"{report.set_name}: {report.questions} questions")
    for column in ("config", "n", "correct", "accuracy (95% CI)", "median s", "p95 s", "first word s", "calls",
                   "tokens in/out", "cost", "cost/answer"):
        table.add_column(column, justify="left" if column == "config" else "right")
    for c in report.configs:
        cached = f" ({c.tokens_cached:,} cached)" if c.tokens_cached else ""
        mark = "≈" if c.tokens_estimated else ""  # counted from the text where the server said none
        table.add_row(
            c.name, str(c.n), str(c.correct) + (f" ({c.failed} failed)" if c.failed else ""),
            f"{c.accuracy:.0%} ({c.ci_low:.0%}–{c.ci_high:.0%})" if c.n else "—",
            _seconds(c.median_s), _seconds(c.p95_s), _seconds(c.first_word_s), f"{c.calls:,}",
            f"{mark}{c.tokens_in:,}{cached} / {mark}{c.tokens_out:,}",
            "unknown" if c.cost_usd is None else f"${c.cost_usd:.4f}",
            "unknown" if c.cost_per_answer is None else f"${c.cost_per_answer:.5f}")
    console.print(table)
    if any(c.tokens_estimated for c in report.configs):
        console.print("≈ tokens counted from the text: the server reported none for some calls.", markup=False)
    for pair in report.pairs:
        console.print(pair.sentence(), markup=False)
    for c in report.configs:
        for reason in c.failures[:3]:
            console.print(Text(f"{c.name} failed: {reason}", style="yellow"))

