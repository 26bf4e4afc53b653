"""Every config answers every question through the chat engine, and each answer is graded as it comes.

A config is a MoA config (run by `MoaEngine`, with chat's pacing, retries and quorum) or one model
answering alone (`single:MODEL`: one streamed call through the same provider registry, so the same
pacing and retries). Questions go one at a time, question by question with the configs in turn, so an
interrupted run leaves every config with about as many answers, and the models' rate limits are paced,
never flooded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace

from moa import trace
from moa.calls.providers import ProviderRegistry
from moa.config.labels import config_label
from moa.config.schema import DEFAULT_MAIN_PROMPT, MoaConfig
from moa.errors import MoaError
from moa.eval.results import Outcome, ResultsFile
from moa.eval.sets import Question
from moa.eval.solo import SOLO_MAX_TOKENS, SOLO_TEMPERATURE
from moa.events import AggregatorStarted, LayerResult, ProposerFinished, RunFailed, RunFinished, Usage
from moa.judge.extract import final_answer, grade
from moa.messages.prompts import build_messages, render_system
from moa.run.engine import MoaEngine

TAIL_CHARS = 300


@dataclass(frozen=True)
class EvalConfig:
    """A config to measure, under the name it was given on the command line."""

    name: str
    moa: MoaConfig | None = None  # None: `solo` answers alone
    solo: str | None = None
    solo_max_tokens: int = SOLO_MAX_TOKENS  # the longest answer `solo` may write

    @property
    def key(self) -> str:
        """A fingerprint of what the config asks the models."""
        what: dict[str, object] = {"single": self.solo} if self.moa is None else self.moa.export()
        if self.moa is None and self.solo_max_tokens != SOLO_MAX_TOKENS:  # answers kept at 2,048 stay valid
            what["max_tokens"] = self.solo_max_tokens
        return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:12]

    def models(self) -> list[str]:
        return [self.solo] if self.solo is not None else self.moa.models() if self.moa else []


@dataclass(frozen=True)
class Answered:
    """A reply, or why there is none, with what it took."""

    text: str | None
    failed: str | None
    seconds: float
    first_word_s: float | None
    calls: int
    usage: Usage
    cost_usd: float | None
    agents: tuple[ProposerFinished, ...] = ()  # a MoA answer's proposer calls


async def answer_moa(engine: MoaEngine, config: MoaConfig, question: str) -> Answered:
    """One MoA answer, as one trace (moa/trace.py)."""
    answer_trace = trace.AnswerTrace.start(conversation=None, run_key=None, question=question, attributes={
        "moa.platform": "eval", "moa.config": config_label(config), "moa.layers": config.layers,
        "moa.agents": len(config.agents)})
    try:
        return await _events_answered(engine, config, question, answer_trace)
    finally:
        answer_trace.end(sys.exc_info()[1])


async def _events_answered(engine: MoaEngine, config: MoaConfig, question: str,
                           answer_trace: trace.AnswerTrace) -> Answered:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    restarts = 0
    async with aclosing(engine.run(question, config)) as events:
        async for event in events:
            answer_trace.see(event)
            match event:
                case RunFinished() as done:
                    calls = sum(len(layer.outputs) for layer in done.layers) + 1 + restarts
                    return Answered(done.answer, None, done.timings.total_s, done.timings.first_token_s, calls,
                                    done.usage, done.cost_usd, _agents(done.layers))
                case RunFailed() as failed:
                    calls = sum(len(layer.outputs) for layer in failed.layers)
                    return Answered(None, failed.error, loop.time() - t0, None, calls, failed.usage, None,
                                    _agents(failed.layers))
                case AggregatorStarted(restarted=True):  # the fallback wrote the answer: one call more
                    restarts += 1
    raise AssertionError("a run always ends with RunFinished or RunFailed")


def _agents(layers: Sequence[LayerResult]) -> tuple[ProposerFinished, ...]:
    return tuple(output for layer in layers for output in layer.outputs)


async def answer_solo(registry: ProviderRegistry, model: str, question: str,
                      max_tokens: int = SOLO_MAX_TOKENS) -> Answered:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    messages = build_messages(render_system(DEFAULT_MAIN_PROMPT, ""), question)
    try:
        with trace.chat(model, registry.provider_of(model), messages, max_tokens=max_tokens,
                        temperature=SOLO_TEMPERATURE) as span:
            done = await registry.complete(model, messages, temperature=SOLO_TEMPERATURE,
                                           max_tokens=max_tokens, on_delta=lambda _piece: None)
            span.done(done.text, done.usage, done.finish_reason, done.attempts)
    except MoaError as err:
        return Answered(None, str(err), loop.time() - t0, None, 1, Usage(), None)
    usage = done.usage or Usage()
    cost = registry.prices.cost_usd(model, done.usage)
    return Answered(done.text, None, done.latency_s, done.first_token_s, 1, usage, cost)


def graded(question: Question, config: EvalConfig, answered: Answered,
           scrub: Callable[[str], str] = lambda text: text) -> Outcome:
    """The answer graded; `scrub` cleans what is kept (reasons and the reply's tail) of secrets."""
    text = answered.text or ""
    found = final_answer(text, question.kind) if answered.text else None
    return Outcome(
        question_id=question.id, config=config.name, config_key=config.key,
        correct=answered.failed is None and grade(text, question.answer, question.kind, question.question),
        expected=question.answer, extracted=found.value if found else None,
        failed=scrub(answered.failed) if answered.failed is not None else None,
        seconds=round(answered.seconds, 4),
        first_word_s=round(answered.first_word_s, 4) if answered.first_word_s is not None else None,
        calls=answered.calls, prompt_tokens=answered.usage.prompt_tokens,
        cached_tokens=_cached_tokens(answered.usage),
        completion_tokens=answered.usage.completion_tokens, cost_usd=answered.cost_usd,
        reply_tail=scrub(text[-TAIL_CHARS:]), reply=scrub(text), tokens_estimated=answered.usage.estimated,
        agents_s=round(sum(a.server_s for a in answered.agents), 4),
        agents_queued_s=round(sum(a.queued_s for a in answered.agents), 4))


def regrade_changed(questions: Sequence[Question], configs: Sequence[EvalConfig], results: ResultsFile) -> int:
    """Grade kept answers again, without a call, where the set's expected answer changed since they were
    graded (the reply is kept; older records kept only its tail, which holds the final answer). The new
    grade is appended, so the file follows the set. Returns how many were graded again."""
    regraded = 0
    for question in questions:
        for config in configs:
            kept = results.done(question.id, config.name, config.key)
            if kept is None or kept.expected == question.answer:
                continue
            text = kept.reply or kept.reply_tail
            found = final_answer(text, question.kind) if kept.failed is None and text else None
            results.append(replace(
                kept, expected=question.answer, extracted=found.value if found else None,
                correct=kept.failed is None and grade(text, question.answer, question.kind, question.question)))
            regraded += 1
    return regraded


def _cached_tokens(usage: Usage) -> int | None:
    """The prompt tokens served from the provider's prefix cache; None when some call's usage was estimated
    from the text (the server reported none, so nor did it say what it cached)."""
    return None if usage.estimated else usage.cached_tokens


@dataclass(frozen=True)
class Task:
    question: Question
    config: EvalConfig


def pending(questions: Sequence[Question], configs: Sequence[EvalConfig], results: ResultsFile,
            retry_failed: bool = False) -> list[Task]:
    """What is not graded yet, question by question with the configs in turn."""
    return [Task(q, c) for q in questions for c in configs
            if results.done(q.id, c.name, c.key, retry_failed=retry_failed) is None]


# This many failed answers in a row (a day's limit spent, a key revoked, the provider down) stop the run
# rather than mark every question left as failed.
STOP_AFTER_FAILURES = 5


class RunStopped(MoaError):
    """The run stopped early; the message says why and how to continue."""


async def run_tasks(tasks: Sequence[Task], engine: MoaEngine, registry: ProviderRegistry, results: ResultsFile,
                    on_start: Callable[[Task], None] = lambda _t: None,
                    on_outcome: Callable[[Task, Outcome], None] = lambda _t, _o: None,
                    stop_after_failures: int = STOP_AFTER_FAILURES,
                    scrub: Callable[[str], str] = lambda text: text) -> None:
    """Answer and grade each task in turn, appending each outcome to `results` as it comes; RunStopped
    after `stop_after_failures` failed answers in a row. `scrub` masks secrets in what is kept."""
    in_a_row = 0
    for task in tasks:
        on_start(task)
        if task.config.moa is not None:
            answered = await answer_moa(engine, task.config.moa, task.question.question)
        else:
            assert task.config.solo is not None
            answered = await answer_solo(registry, task.config.solo, task.question.question,
                                         task.config.solo_max_tokens)
        outcome = graded(task.question, task.config, answered, scrub)
        results.append(outcome)
        on_outcome(task, outcome)
        in_a_row = in_a_row + 1 if outcome.failed is not None else 0
        if in_a_row >= stop_after_failures:
            raise RunStopped(f"Stopped after {in_a_row} failed answers in a row; the last: {outcome.failed} "
                             "Run the same command with --retry-failed to continue and ask those again.")
