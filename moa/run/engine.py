"""The Mixture-of-Agents engine: proposer layers run concurrently, then the aggregator streams the answer.

`MoaEngine.run(question, config, history)` returns an async iterator of events (moa/events.py). The run
itself goes on in a task of its own, so a slow consumer never delays the model calls; closing the
iterator (`aclose()`, or leaving an `async with contextlib.aclosing(...)` block) or cancelling the task
that iterates it cancels every call in flight.

Flow, as in the paper (Wang et al., 2024): in layer 1 every agent sees its system prompt with
`{helper_response}` replaced by nothing; in layer k+1 every agent sees, in its place, the
aggregate-and-synthesize instruction followed by layer k's successful answers, numbered. The aggregator
gets the same from the last layer and streams. Earlier turns reach every agent. An agent that fails is
reported in its `ProposerFinished` and left out; the run fails only when a whole layer failed or the
aggregator and its fallback both did.

Within real rate limits and real latency tails:
- every call waits for room in its model's budget (`moa.pace`), by the run's ticket, so answers
  competing for one budget finish in arrival order; a call that could never fit the budget is trimmed
  to fit first (`moa.plan.fitting`) and the answer says what was trimmed;
- a layer does not wait for a straggler: once `quorum` agents have answered, one that has run far
  longer than the slowest of them (`straggler_factor` ×, at least `straggler_slack_s` more — a small
  floor, so the deadline scales with call time) is left out;
  before that, such a laggard is hedged with a second, identical call, and the first answer wins;
- when the aggregator fails, the config's fallback (`fallback_model`, else the strongest proposer)
  writes the answer, and the answer says so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Literal

from moa import trace
from moa.calls.counting import estimated_usage
from moa.calls.providers import Completion, ProviderRegistry
from moa.config.schema import DEFAULT_LAYOUT, AgentConfig, MoaConfig
from moa.durations import measured
from moa.errors import MoaError, ModelUnavailable, ProviderError
from moa.events import (
    LEFT_OUT,
    AggregatorDelta,
    AggregatorStarted,
    BudgetWaiting,
    LayerResult,
    LayerStarted,
    MoaEvent,
    ProposerFinished,
    RunFailed,
    RunFinished,
    Timings,
    Turn,
    Usage,
)
from moa.judge.agreement import Agreement
from moa.messages.attachments import Shown
from moa.pace.budget import BudgetWait
from moa.plan.demand import AnswerPlan, plan_answer
from moa.plan.fitting import CallShape, Fitted, fit
from moa.plan.reserve import Reservations, Role
from moa.pricing import total_cost
from moa.run.early_answer import Continuation, LayerSoFar, Opening, gap, opening_note
from moa.run.early_exit import layer_agreement, skipped_note, stops_after

log = logging.getLogger(__name__)

# A proposer's wait for its server (or budget) shorter than this is clock noise, not worth a word.
QUEUE_WORTH_SAYING_S = 0.05

FailureKind = Literal["all_proposers_failed", "aggregator_failed", "model_unavailable", "config", "deadline"]


def empty_answer(model: str, usage: Usage | None) -> str:
    """Why an answer is empty: a model that spent its tokens on hidden reasoning may need a larger
    max_tokens; one that produced nothing at all (0 tokens) was not cut short."""
    if usage is not None and not usage.estimated and usage.completion_tokens == 0:
        return f"{model} returned an empty answer (0 tokens)."
    return f"{model} returned an empty answer; its max_tokens may be too low for its reasoning."


def layer_usage(outputs: Sequence[ProposerFinished]) -> Usage:
    """Tokens of one layer's calls (those whose usage is known)."""
    return sum((o.usage for o in outputs if o.usage is not None), Usage())


def layer_cost(outputs: Sequence[ProposerFinished]) -> float | None:
    """What one layer cost; None when any billed call's price is unknown."""
    return total_cost(o.cost_usd for o in outputs if o.usage is not None)


def _reasons(failed: Sequence[ProposerFinished]) -> str:
    """Why agents failed, each reason said once: "Could not connect to Groq …" when all share it, else
    "a, b: reason; c: other reason"."""
    agents_by_reason: dict[str, list[str]] = {}
    for output in failed:
        agents_by_reason.setdefault((output.error or "").rstrip("."), []).append(output.agent)
    if len(agents_by_reason) == 1:
        return next(iter(agents_by_reason))
    return "; ".join(f"{', '.join(agents)}: {reason}" for reason, agents in agents_by_reason.items())


@dataclass
class _Crash:
    error: BaseException


@dataclass
class _RunState:
    ticket: int  # the run's place in line for every model's budget
    emit: Callable[[MoaEvent | _Crash], None]
    deadline: float  # loop time
    layers: list[LayerResult] = field(default_factory=list)
    dead_models: dict[str, str] = field(default_factory=dict)  # model -> why it is unavailable
    trimmed: list[str] = field(default_factory=list)  # what was cut to fit rate limits, as sentences
    waits: dict[str, dict[int, BudgetWait]] = field(default_factory=dict)  # model -> waiting calls
    drafts: list[asyncio.Task[Opening]] = field(default_factory=list)  # early answer: cancelled at the end
    layout: str = DEFAULT_LAYOUT  # the config's prompt_layout
    shown: Shown = field(default_factory=Shown)  # the question's images, and which models read them
    plan: AnswerPlan = field(default_factory=lambda: AnswerPlan((), {}))  # what each step asks of the models

    def tell_wait(self, wait: BudgetWait) -> None:
        """Report the longest wait of the model's waiting calls (0 once none waits)."""
        calls = self.waits.setdefault(wait.model, {})
        if wait.wait_s > 0:
            calls[wait.waiter] = wait
            trace.event("moa.rate_limit.wait", model=wait.model, resource=wait.resource, wait_s=wait.wait_s)
        else:
            calls.pop(wait.waiter, None)
        longest = max(calls.values(), key=lambda w: w.wait_s, default=None)
        self.emit(BudgetWaiting(model=wait.model, provider=wait.provider,
                                resource=longest.resource if longest else wait.resource,
                                wait_s=longest.wait_s if longest else 0.0))

    def note_trim(self, fitted: Fitted) -> None:
        if fitted.trimmed and fitted.trimmed not in self.trimmed:
            self.trimmed.append(fitted.trimmed)

    def usage(self) -> Usage:
        return sum((layer_usage(layer.outputs) for layer in self.layers), Usage())


@dataclass(eq=False)
class _Attempt:
    """One call made for an agent in a layer (the first, or a hedge)."""

    task: asyncio.Task[ProposerFinished]
    # When it started working on the answer: its first request, moved later by any budget wait since.
    sent_at: float | None = None

    def went_out(self, now: float, held_s: float) -> None:
        self.sent_at = now if self.sent_at is None else self.sent_at + held_s


@dataclass(eq=False)
class _AgentCall:
    """An agent's answer in one layer: its calls, and the result once there is one."""

    name: str
    agent: AgentConfig
    attempts: list[_Attempt] = field(default_factory=list)
    failures: list[ProposerFinished] = field(default_factory=list)
    result: ProposerFinished | None = None

    def running(self) -> list[_Attempt]:
        return [a for a in self.attempts if not a.task.done()]


def _with_queue(result: ProposerFinished, server_s: float) -> ProposerFinished:
    """`result` with the part of its time spent waiting for the server (or its budget) as `queued_s`;
    unchanged where the server began on it at once."""
    queued_s = result.latency_s - server_s
    return replace(result, queued_s=round(queued_s, 4)) if queued_s > QUEUE_WORTH_SAYING_S else result



@dataclass
class _Proposed:
    """What the proposer layers leave the aggregator: the last layer's answers and what to say about them."""

    answers: list[str] = field(default_factory=list)
    layer_times: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    agreement: Agreement | None = None  # the last layer's (moa.judge.agreement)
    skipped: str | None = None  # early exit: which layers were skipped, and why
    draft: asyncio.Task[Opening] | None = None  # early answer: the aggregator's opening


def _layer_warnings(layer: int, outputs: Sequence[ProposerFinished], failed: Sequence[ProposerFinished],
                    left_out: Sequence[ProposerFinished]) -> list[str]:
    """The answer's notes about a layer's failed and left-out agents."""
    warnings = []
    if failed:
        warnings.append(f"{len(failed)} of {len(outputs)} agents failed in layer {layer}: "
                        + "; ".join(f"{o.agent} ({o.model})" for o in failed))
    if left_out:
        warnings.append(f"{len(left_out)} of {len(outputs)} agents were left out of layer {layer} for "
                        "lagging far behind the others: " + "; ".join(f"{o.agent} ({o.model})" for o in left_out))
    return warnings


class MoaEngine:
    def __init__(self, providers: ProviderRegistry, *, call_timeout_s: float = 60.0,
                 deadline_s: float = 300.0, quorum: int | None = None, straggler_factor: float = 1.5,
                 straggler_slack_s: float = 0.25, hedge: bool = True,
                 reservations: Reservations | None = None) -> None:
        """`quorum`: answers a layer needs before it may leave a straggler out (None: all but one, at
        least one). A call is a straggler once it ran `straggler_factor` × as long as the slowest
        answered sibling and at least `straggler_slack_s` more; `hedge` sends such a laggard a second,
        identical call while the quorum is not met. The slack is only a floor against scheduling noise:
        the deadline scales with the calls' own time (a fixed +0.5 s was 1.7× a 300 ms call)."""
        self.providers = providers
        self.call_timeout_s = call_timeout_s
        self.deadline_s = deadline_s
        self.quorum = quorum
        self.straggler_factor = straggler_factor
        self.straggler_slack_s = straggler_slack_s
        self.hedge = hedge
        # What calls reserve of a model's tokens per minute, learned from finished calls (moa.plan.reserve).
        self.reservations = reservations if reservations is not None else Reservations()
        self._continuation = Continuation(providers)

    def plan(self, question: str, config: MoaConfig, history: Sequence[Turn] = ()) -> AnswerPlan:
        """What answering `question` will ask of each model, per step and in all, with what calls reserve
        as learned so far: admission weighs its total (`AnswerPlan.needs`); `run` tells the pacer its steps."""
        return plan_answer(config, question, history, self.reservations.reserve)

    def run(self, question: str, config: MoaConfig, history: Sequence[Turn] = (),
            ticket: int | None = None, shown: Shown | None = None,
            plan: AnswerPlan | None = None) -> AsyncGenerator[MoaEvent, None]:
        """The run's events, ending with exactly one RunFinished or RunFailed.

        An async generator: `aclose()` it (or iterate inside `contextlib.aclosing`) to stop early; that,
        like cancelling the task iterating it, cancels every call in flight. The run takes its place in
        line for the models' budgets now, when `run` is called — or holds the `ticket` its admission
        claimed (`Pacer.claim`) for the `plan` admission weighed (`self.plan`, made now when None).
        `shown`: the question's images, given to the models that read them."""
        ticket = ticket if ticket is not None else self.providers.pacer.ticket()
        history = tuple(history)
        plan = plan if plan is not None else self.plan(question, config, history)
        return self._events(question, config, history, ticket, shown or Shown(), plan)

    async def _events(self, question: str, config: MoaConfig, history: tuple[Turn, ...],
                      ticket: int, shown: Shown, plan: AnswerPlan) -> AsyncGenerator[MoaEvent, None]:
        queue: asyncio.Queue[MoaEvent | _Crash] = asyncio.Queue()
        producer = asyncio.create_task(self._produce(question, config, history, ticket, queue.put_nowait, shown,
                                                     plan), name="moa-run")
        try:
            while True:
                item = await queue.get()
                if isinstance(item, _Crash):
                    raise item.error
                yield item
                if isinstance(item, RunFinished | RunFailed):
                    return
        finally:
            if not producer.done():
                producer.cancel()
            try:
                await producer
            except asyncio.CancelledError:
                pass
            except Exception:  # already reported as a _Crash
                pass

    async def _produce(self, question: str, config: MoaConfig, history: tuple[Turn, ...], ticket: int,
                       emit: Callable[[MoaEvent | _Crash], None], shown: Shown, plan: AnswerPlan) -> None:
        try:
            # The calls keep to the deadline themselves; this only guards against a hang elsewhere.
            async with asyncio.timeout(self.deadline_s + 5.0):
                await self._pipeline(question, config, history, ticket, emit, shown, plan)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            emit(RunFailed(error=f"The answer took longer than the {self.deadline_s:.0f} s limit.",
                           kind="deadline"))
        except BaseException as err:  # a bug: surface it to the consumer instead of hanging
            log.exception("MoA run crashed")
            emit(_Crash(err))

    async def _pipeline(self, question: str, config: MoaConfig, history: tuple[Turn, ...], ticket: int,
                        emit: Callable[[MoaEvent | _Crash], None], shown: Shown, plan: AnswerPlan) -> None:
        started_at = time.time()
        state = _RunState(ticket=ticket, emit=emit, deadline=asyncio.get_running_loop().time() + self.deadline_s,
                          layout=config.prompt_layout, shown=shown, plan=plan)

        pacer = self.providers.pacer
        try:
            await self._steps(question, config, history, state, started_at)
        finally:
            for draft in state.drafts:
                draft.cancel()
            pacer.done(ticket)

    async def _steps(self, question: str, config: MoaConfig, history: tuple[Turn, ...], state: _RunState,
                     started_at: float) -> None:
        t0 = asyncio.get_running_loop().time()
        proposed = await self._proposer_layers(question, config, history, state)
        if proposed is not None:  # else every agent of a layer failed, and the run said so
            await self._aggregator_step(question, config, history, state, proposed, started_at, t0)

    async def _proposer_layers(self, question: str, config: MoaConfig, history: tuple[Turn, ...],
                               state: _RunState) -> _Proposed | None:
        """Layers 1…N (fewer when early exit stops them); None when a layer had no answer (RunFailed sent)."""
        loop = asyncio.get_running_loop()
        deadline, emit, pacer = state.deadline, state.emit, self.providers.pacer
        agents = config.agents
        answers: list[str] = []
        made = _Proposed()
        for layer in range(1, config.layers + 1):
            layer_t0 = loop.time()
            pacer.expect(state.ticket, state.plan.step(layer + 1), starting=state.plan.step_needs(layer))
            emit(LayerStarted(layer=layer, total_layers=config.layers, agents=tuple(n for n, _ in agents),
                              models=tuple(a.model_name for _, a in agents)))
            so_far = None  # early answer: layer 1's answers as they are written, for the opening
            if layer == 1 and self._opens_during_layer_one(config):
                so_far = LayerSoFar(agents=len(agents))
                made.draft = asyncio.create_task(self._opening_from(so_far, config, question, history, state),
                                                 name="moa-opening")
                state.drafts.append(made.draft)
            with trace.layer(layer, config.layers, len(agents)):
                outputs = await self._layer(layer, config, tuple(answers), question, history, state, so_far)
            state.layers.append(LayerResult(layer=layer, outputs=outputs))
            made.layer_times.append(loop.time() - layer_t0)
            made.answers = answers = [o.text for o in outputs if o.ok]
            failed = [o for o in outputs if not o.ok and not o.left_out]
            left_out = [o for o in outputs if o.left_out]
            if not answers:
                reasons = _reasons(failed)
                timed_out = loop.time() >= deadline
                emit(RunFailed(
                    error=(f"The answer took longer than the {self.deadline_s:.0f} s limit. " if timed_out else "")
                    + f"Every agent of layer {layer} failed, so there is nothing to aggregate — {reasons}.",
                    kind="deadline" if timed_out else "all_proposers_failed",
                    layers=tuple(state.layers), usage=state.usage()))
                return None
            made.warnings += _layer_warnings(layer, outputs, failed, left_out)
            made.agreement = agreement = layer_agreement(outputs)
            if stops_after(config, layer, agreement, self.quorum):
                assert agreement is not None
                made.skipped = skipped_note(layer, config.layers, agreement)
                log.info("layer %d: %s", layer, made.skipped)
                break
            if (made.draft is None and config.early_answer and layer < config.layers  # with early_exit on too
                    and self._continuation.can_continue(config.main_model)):
                made.draft = asyncio.create_task(
                    self._draft_opening(config, tuple(answers), question, history, state), name="moa-opening")
                state.drafts.append(made.draft)
        return made

    async def _aggregator_step(self, question: str, config: MoaConfig, history: tuple[Turn, ...], state: _RunState,
                               proposed: _Proposed, started_at: float, t0: float) -> None:
        """The aggregator (or its fallback) writes the answer from the last layer's answers; RunFinished."""
        loop = asyncio.get_running_loop()
        deadline, emit, pacer = state.deadline, state.emit, self.providers.pacer
        answers, warnings, draft = proposed.answers, proposed.warnings, proposed.draft
        agreement, skipped, layer_times = proposed.agreement, proposed.skipped, proposed.layer_times
        agg_t0 = loop.time()
        model = config.main_model
        # The aggregator is the last call: room is kept for it until it takes its place in line, then for nothing.
        pacer.expect(state.ticket, {}, starting=state.plan.step_needs(config.layers + 1))
        opening = await draft if draft is not None else None  # short: it stops at its opening
        prefix = opening.text if opening is not None else ""
        if not prefix:
            emit(AggregatorStarted(model=model))
        try:
            result = await self._aggregate(model, config, tuple(answers), question, history, state,
                                           prefill=prefix or None)
            if prefix:  # the opening, continued with the last layer's answers
                result = dataclasses.replace(result, text=prefix + result.text, first_token_s=None)
                if opening is not None and (opening.unfinished or len(state.layers) > 1):
                    warnings.append(opening_note(opening.unfinished, len(state.layers)))
        except MoaError as err:
            fallback = config.fallback()
            if fallback is None or loop.time() >= deadline:
                self._aggregator_failed(err, model, state)
                return
            log.info("aggregator %s failed (%s); %s writes the answer instead", model, err, fallback)
            emit(AggregatorStarted(model=fallback, restarted=True))
            try:
                result = await self._aggregate(fallback, config, tuple(answers), question, history, state)
            except MoaError as second:
                self._aggregator_failed(err, model, state, fallback=(fallback, second))
                return
            warnings.append(f"The aggregator {model} failed ({str(err).rstrip('.')}), so {fallback} wrote "
                            "this answer instead.")
            model = fallback
        end = loop.time()
        usage = state.usage() + (result.usage or Usage())
        call_costs = [o.cost_usd for layer_result in state.layers for o in layer_result.outputs
                      if o.usage is not None]
        call_costs.append(self.providers.prices.cost_usd(model, result.usage))
        if opening is not None and opening.usage is not None:  # the early answer's opening call
            usage += opening.usage
            call_costs.append(self.providers.prices.cost_usd(config.main_model, opening.usage))
        emit(RunFinished(
            answer=result.text, model=model, layers=tuple(state.layers), usage=usage,
            cost_usd=total_cost(call_costs),
            timings=Timings(started_at=started_at, total_s=end - t0, layers_s=tuple(layer_times),
                            aggregator_s=end - agg_t0,
                            first_token_s=(agg_t0 - t0 + result.first_token_s)
                            if result.first_token_s is not None else
                            opening.first_at - t0 if opening is not None and opening.first_at is not None
                            and model == config.main_model else None),
            warnings=(*warnings, *state.trimmed),
            agreement=agreement.sentence() if agreement else None, skipped=skipped))

    def _opens_during_layer_one(self, config: MoaConfig) -> bool:
        """Early answer from layer 1's answers as they are written (moa.run.early_answer); with early_exit
        on too, the opening waits for layer 1 to be complete, which may end the proposing."""
        return (config.early_answer and not config.early_exit and config.layers > 1
                and self._continuation.can_continue(config.main_model))

    async def _opening_from(self, so_far: LayerSoFar, config: MoaConfig, question: str, history: tuple[Turn, ...],
                            state: _RunState) -> Opening:
        """The opening, once enough of layer 1 is written; none when nothing of it is (every agent failed)."""
        await so_far.ready.wait()
        answers = so_far.answers()
        if not answers:
            return Opening()
        opening = await self._draft_opening(config, answers, question, history, state)
        opening.unfinished = so_far.seen_unfinished
        return opening

    async def _draft_opening(self, config: MoaConfig, answers: tuple[str, ...], question: str,
                             history: tuple[Turn, ...], state: _RunState) -> Opening:
        """Early answer: the aggregator's opening from an earlier layer's answers, streamed as it comes; the
        call stops once the opening is complete. A failure leaves the opening as far as it got (maybe "")."""
        loop = asyncio.get_running_loop()
        opening, complete = Opening(), asyncio.Event()
        trace.step("opening")

        def on_delta(piece: str) -> None:
            kept = opening.take(piece)
            if kept:
                if opening.first_at is None:
                    opening.first_at = loop.time()
                    state.emit(AggregatorStarted(model=config.main_model))
                state.emit(AggregatorDelta(text=kept))
            if opening.done:
                complete.set()

        # It stops after a sentence: it asks for what the aggregator is likely to write (moa.plan.reserve), and
        # if that cuts it short, the opening is shorter or empty and the answer comes as usual.
        shape = CallShape(config.system_prompt, config.aggregate_prompt, answers, question, history,
                          self.reservations.reserve(config.main_model, "aggregator", config.max_tokens),
                          layout=config.prompt_layout)
        call = asyncio.create_task(self._call(config.main_model, shape, "The aggregator", state,
                                              temperature=config.temperature, on_delta=on_delta))
        waiter = asyncio.create_task(complete.wait())
        try:
            await asyncio.wait({call, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            call.cancel()
            waiter.cancel()
        await asyncio.wait({call})  # never raises: the call's own failure is looked at below
        finished = not call.cancelled() and call.exception() is None
        if finished or opening.text:
            # A stopped stream reports no usage; what it was sent and wrote still counts (an estimate).
            done = call.result() if finished else None
            opening.usage = done.usage if done is not None and done.usage is not None else estimated_usage(
                shape.messages(), opening.text)
            if done is None:  # its span has no usage: the answer's estimate goes on the answer's span
                trace.event("moa.opening.estimated_usage", input_tokens=opening.usage.prompt_tokens,
                            output_tokens=opening.usage.completion_tokens)
        if not call.cancelled() and call.exception() is not None:
            log.info("the answer's opening failed (%s); the aggregator writes it after the last layer",
                     call.exception())
        return opening

    def _aggregator_failed(self, err: MoaError, model: str, state: _RunState,
                           fallback: tuple[str, MoaError] | None = None) -> None:
        timed_out = asyncio.get_running_loop().time() >= state.deadline
        kind: FailureKind = ("deadline" if timed_out else
                             "model_unavailable" if isinstance(err, ModelUnavailable) else "aggregator_failed")
        error = f"The aggregator ({model}) failed: {err}"
        if fallback is not None:
            error += f" The fallback ({fallback[0]}) failed too: {fallback[1]}"
        state.emit(RunFailed(error=error, kind=kind, layers=tuple(state.layers), usage=state.usage()))

    async def _aggregate(self, model: str, config: MoaConfig, answers: tuple[str, ...], question: str,
                         history: tuple[Turn, ...], state: _RunState, prefill: str | None = None) -> Completion:
        """The final answer from `model`, streamed; ProviderError when it fails or comes back empty.
        With `prefill` (early answer) the model continues that opening, and only the rest is returned."""
        trace.step("aggregator" if model == config.main_model else "fallback")
        shape = CallShape(config.system_prompt, config.aggregate_prompt, answers, question, history,
                          config.max_tokens, layout=config.prompt_layout)
        pieces: list[str] = []

        def on_delta(piece: str) -> None:
            if prefill and not pieces:  # the provider strips the space a continuation starts with
                piece = gap(prefill, piece) + piece
            pieces.append(piece)
            state.emit(AggregatorDelta(text=piece))

        if prefill:  # the opening is already shown: a continuation is never restarted, so it reserves in full
            result = await self._call(model, shape, "The aggregator", state, temperature=config.temperature,
                                      on_delta=on_delta, prefill=prefill)
            self._learn(model, "aggregator", result, config.max_tokens)  # so later openings reserve less
        else:
            result = await self._reserved_call(
                model, shape, "aggregator", "The aggregator", state, temperature=config.temperature,
                on_delta=on_delta, on_restart=lambda: state.emit(AggregatorStarted(model=model, restarted=True)))
        if prefill and result.text:
            result = dataclasses.replace(result, text=gap(prefill, result.text) + result.text)
        if result.cut:
            state.trimmed.append(f"The answer stopped at the config's limit of {config.max_tokens:,} tokens "
                                 "(max_tokens): it may be cut short.")
        if not result.text and not prefill:
            raise ProviderError(empty_answer(model, result.usage), model=model)
        return result

    async def _reserved_call(self, model: str, shape: CallShape, role: Role, who: str, state: _RunState, *,
                             on_restart: Callable[[], None] | None = None, temperature: float | None,
                             on_delta: Callable[[str], None] | None = None,
                             on_sent: Callable[[float], None] | None = None, hedge: bool = False) -> Completion:
        """A call that reserves what the model is likely to write (moa.plan.reserve) instead of the config's
        whole max_tokens; if that smaller reservation cut the reply, it is sent again at the config's
        max_tokens (`on_restart` first), so no answer is cut by a reservation, only by the config."""
        configured = shape.max_tokens
        reserved = self.reservations.reserve(model, role, configured)
        result = await self._call(model, replace(shape, max_tokens=reserved), who, state, temperature=temperature,
                                  on_delta=on_delta, on_sent=on_sent, hedge=hedge)
        self._learn(model, role, result, configured)
        if result.cut and (result.max_tokens or 0) < configured and reserved < configured:
            log.info("%s (%s) stopped at its reservation of %d tokens; asking again with %d", who, model,
                     reserved, configured)
            if on_restart is not None:
                on_restart()
            first = result
            result = await self._call(model, shape, who, state, temperature=temperature, on_delta=on_delta,
                                      on_sent=on_sent, hedge=hedge)
            self._learn(model, role, result, configured)
            if first.usage is not None:  # the first call was counted and billed too
                result = replace(result, usage=first.usage + (result.usage or Usage()))
        return result

    def _learn(self, model: str, role: Role, result: Completion, configured: int) -> None:
        if result.usage is not None:
            self.reservations.record(model, role, result.usage.completion_tokens, cut=result.cut,
                                     configured=configured)

    async def _call(self, model: str, shape: CallShape, who: str, state: _RunState, *,
                    temperature: float | None, on_delta: Callable[[str], None] | None = None,
                    on_sent: Callable[[float], None] | None = None, hedge: bool = False,
                    prefill: str | None = None) -> Completion:
        """One call, trimmed to fit the model's known tokens-per-minute limit; if the provider still says
        it is too large (413: the limit was not known yet, or the estimate was low), trimmed and sent
        once more."""
        pacer = self.providers.pacer
        for attempt in (1, 2):
            fitted = fit(shape, pacer.largest_request(model), who=who, model=model)
            state.note_trim(fitted)
            messages = state.shown.messages_for(model, fitted.messages)
            if prefill is not None:
                messages = [*messages, {"role": "assistant", "content": prefill}]  # continued, not restarted
            try:
                with trace.chat(model, self.providers.provider_of(model), messages, max_tokens=fitted.max_tokens,
                                temperature=temperature) as span:
                    result = await self.providers.complete(
                        model, messages, temperature=temperature, max_tokens=fitted.max_tokens,
                        on_delta=on_delta, timeout_s=self.call_timeout_s, deadline=state.deadline,
                        ticket=state.ticket, on_wait=state.tell_wait, on_sent=on_sent, trim_to_fit=attempt == 1,
                        hedge=hedge)
                    span.done(result.text, result.usage, result.finish_reason, result.attempts)
                return result
            except ProviderError as err:
                if err.status != 413 or attempt == 2 or pacer.largest_request(model) is None:
                    raise
        raise AssertionError("unreachable")

    # ---- one proposer layer ----
    def _quorum(self, agents: int) -> int:
        """Answers a layer of `agents` needs before a straggler may be left out."""
        return min(agents, max(1, self.quorum if self.quorum is not None else agents - 1))

    async def _layer(self, layer: int, config: MoaConfig, answers: tuple[str, ...], question: str,
                     history: tuple[Turn, ...], state: _RunState,
                     so_far: LayerSoFar | None = None) -> tuple[ProposerFinished, ...]:
        """Every agent's answer in this layer (config order), each also emitted as it comes; with `so_far`,
        the first call of each agent streams into it (early answer)."""
        loop = asyncio.get_running_loop()
        layer_t0 = loop.time()
        calls = [_AgentCall(name, agent) for name, agent in config.agents]
        quorum = self._quorum(len(calls))
        owner: dict[asyncio.Task[ProposerFinished], _AgentCall] = {}
        service: list[float] = []  # how long answered calls took once sent
        answered_at: dict[str, float] = {}  # provider -> when its latest call of this layer answered

        def start(call: _AgentCall) -> None:
            streams = so_far is not None and not call.attempts  # a hedge's copy would say it all twice
            attempt = _Attempt(asyncio.create_task(
                self._propose(layer, call, config.aggregate_prompt, answers, question, history, state,
                              on_sent=lambda held_s: attempt.went_out(loop.time(), held_s),
                              hedge=bool(call.attempts),
                              on_delta=partial(so_far.feed, call.name) if so_far and streams else None,
                              on_restart=partial(so_far.restart, call.name) if so_far and streams else None),
                name=f"moa-l{layer}-{call.name}"))
            call.attempts.append(attempt)
            owner[attempt.task] = call

        def settle(call: _AgentCall, result: ProposerFinished) -> None:
            call.result = result
            if so_far is not None:
                so_far.finish(call.name, result.text if result.ok else None)
            for attempt in call.running():
                attempt.task.cancel()
            state.emit(result)

        for call in calls:
            start(call)
        try:
            while open_calls := [c for c in calls if c.result is None]:
                now = loop.time()
                answered = sum(1 for c in calls if c.result is not None and c.result.ok)
                next_check: float | None = None
                if service:
                    allowed = max(max(service) * self.straggler_factor, max(service) + self.straggler_slack_s)
                    for call in open_calls:
                        sent = self._turn_began(call.agent, call.attempts[-1], answered_at)
                        if sent is None:  # still waiting for the budget: it costs nothing yet
                            continue
                        due = sent + allowed
                        if now < due:
                            next_check = due if next_check is None else min(next_check, due)
                        elif answered >= quorum:
                            settle(call, self._left_out(layer, call, now - layer_t0, max(service)))
                        elif self.hedge and len(call.attempts) == 1 and self._has_room(call.agent) \
                                and self.providers.capacity(call.agent.model_name).has_room():
                            log.info("layer %d: %s lags; hedging with a second call", layer, call.name)
                            trace.event("moa.agent.hedged", agent=call.name, model=call.agent.model_name)
                            start(call)
                running = [a.task for c in calls if c.result is None for a in c.running()]
                if not running:
                    continue
                timeout = None if next_check is None else max(0.0, next_check - now)
                done, _ = await asyncio.wait(running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    call = owner[task]
                    if call.result is not None or task.cancelled():
                        continue
                    result = task.result()
                    if result.ok:
                        attempt = next(a for a in call.attempts if a.task is task)
                        began = self._turn_began(call.agent, attempt, answered_at)
                        if began is not None:
                            service.append(loop.time() - began)
                            result = _with_queue(result, loop.time() - began)
                        answered_at[self.providers.provider_of(call.agent.model_name)] = loop.time()
                        settle(call, result)
                    elif call.running():
                        call.failures.append(result)  # the other call may still answer
                    else:
                        settle(call, call.failures[0] if call.failures else result)
        finally:
            for call in calls:
                for attempt in call.running():
                    attempt.task.cancel()
        outputs = []
        for call in calls:
            assert call.result is not None
            outputs.append(call.result)
        return tuple(outputs)

    def _turn_began(self, agent: AgentConfig, attempt: _Attempt, answered_at: dict[str, float]) -> float | None:
        """When the server began on this call, as far as can be told: when it went out, or — on a server
        that may queue calls unseen (`moa.calls.capacity`) — when the call before it to that server answered."""
        if attempt.sent_at is None:
            return None
        if not self.providers.capacity(agent.model_name).may_queue:
            return attempt.sent_at
        return max(attempt.sent_at, answered_at.get(self.providers.provider_of(agent.model_name), attempt.sent_at))

    def _left_out(self, layer: int, call: _AgentCall, ran_s: float, slowest_s: float) -> ProposerFinished:
        model = call.agent.model_name
        trace.event("moa.agent.left_out", agent=call.name, model=model, ran_s=ran_s, slowest_s=slowest_s)
        return ProposerFinished(
            layer=layer, agent=call.name, model=model, text="", latency_s=ran_s, left_out=True,
            error=f"{LEFT_OUT} {model} had not answered after {measured(ran_s)}, while the others answered within "
                  f"{measured(slowest_s)}")

    def _has_room(self, agent: AgentConfig) -> bool:
        """Whether a hedge would go at once: never spend a tight budget on a second copy."""
        budget = self.providers.pacer.known(agent.model_name)
        if budget is None:
            return True
        wait, _ = budget.wait_s(agent.max_tokens + 1000, asyncio.get_running_loop().time())
        return wait <= 0

    async def _propose(self, layer: int, call: _AgentCall, aggregate_prompt: str, answers: tuple[str, ...],
                       question: str, history: tuple[Turn, ...], state: _RunState,
                       on_sent: Callable[[float], None], hedge: bool = False,
                       on_delta: Callable[[str], None] | None = None,
                       on_restart: Callable[[], None] | None = None) -> ProposerFinished:
        """One call of an agent in one layer; never raises (except when cancelled)."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        name, agent = call.name, call.agent
        model = agent.model_name
        trace.step("proposer", agent=name, layer=layer, hedge=hedge)
        if model in state.dead_models:  # found unavailable in an earlier layer: don't call again
            return ProposerFinished(layer=layer, agent=name, model=model, text="", latency_s=0.0,
                                    error=state.dead_models[model])
        shape = CallShape(agent.system_prompt, aggregate_prompt, answers, question, history, agent.max_tokens,
                          layout=state.layout)
        try:
            result = await self._reserved_call(model, shape, "proposer", f"Agent {name}", state,
                                               temperature=agent.temperature, on_sent=on_sent, hedge=hedge,
                                               on_delta=on_delta, on_restart=on_restart)
        except ModelUnavailable as err:
            state.dead_models[model] = str(err)
            return ProposerFinished(layer=layer, agent=name, model=model, text="",
                                    latency_s=loop.time() - t0, error=str(err))
        except MoaError as err:
            return ProposerFinished(layer=layer, agent=name, model=model, text="",
                                    latency_s=loop.time() - t0, error=str(err))
        except Exception as err:  # never let one agent's surprise cost the answer
            log.exception("agent %s (%s) crashed in layer %d", name, model, layer)
            return ProposerFinished(layer=layer, agent=name, model=model, text="",
                                    latency_s=loop.time() - t0, error=f"{model} failed unexpectedly: {err}")
        if result.text:
            return ProposerFinished(layer=layer, agent=name, model=model, text=result.text,
                                    latency_s=result.latency_s, usage=result.usage,
                                    cost_usd=self.providers.prices.cost_usd(model, result.usage), cut=result.cut)
        return ProposerFinished(
            layer=layer, agent=name, model=model, text="", latency_s=result.latency_s,
            usage=result.usage, cost_usd=self.providers.prices.cost_usd(model, result.usage),
            error=empty_answer(model, result.usage))
