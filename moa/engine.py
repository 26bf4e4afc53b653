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
aggregator did.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from moa.config import AgentConfig, MoaConfig
from moa.errors import MoaError, ModelUnavailable
from moa.events import (
    AggregatorDelta,
    AggregatorStarted,
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
from moa.pricing import cost_usd, total_cost
from moa.prompts import build_messages, helper_block, render_system
from moa.providers import ProviderRegistry

log = logging.getLogger(__name__)

FailureKind = Literal["all_proposers_failed", "aggregator_failed", "model_unavailable", "config", "deadline"]


def layer_usage(outputs: Sequence[ProposerFinished]) -> Usage:
    """Tokens of one layer's calls (those whose usage is known)."""
    return sum((o.usage for o in outputs if o.usage is not None), Usage())


def layer_cost(outputs: Sequence[ProposerFinished]) -> float | None:
    """What one layer cost; None when any billed call's price is unknown."""
    return total_cost(o.cost_usd for o in outputs if o.usage is not None)


@dataclass
class _Crash:
    error: BaseException


@dataclass
class _RunState:
    layers: list[LayerResult] = field(default_factory=list)
    dead_models: dict[str, str] = field(default_factory=dict)  # model -> why it is unavailable

    def usage(self) -> Usage:
        return sum((layer_usage(layer.outputs) for layer in self.layers), Usage())


class MoaEngine:
    def __init__(self, providers: ProviderRegistry, *, call_timeout_s: float = 60.0,
                 deadline_s: float = 300.0) -> None:
        self.providers = providers
        self.call_timeout_s = call_timeout_s
        self.deadline_s = deadline_s

    def run(self, question: str, config: MoaConfig,
            history: Sequence[Turn] = ()) -> AsyncGenerator[MoaEvent, None]:
        """The run's events, ending with exactly one RunFinished or RunFailed.

        An async generator: `aclose()` it (or iterate inside `contextlib.aclosing`) to stop early; that,
        like cancelling the task iterating it, cancels every call in flight."""
        return self._events(question, config, tuple(history))

    async def _events(self, question: str, config: MoaConfig,
                      history: tuple[Turn, ...]) -> AsyncGenerator[MoaEvent, None]:
        queue: asyncio.Queue[MoaEvent | _Crash] = asyncio.Queue()
        producer = asyncio.create_task(self._produce(question, config, history, queue.put_nowait),
                                       name="moa-run")
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

    async def _produce(self, question: str, config: MoaConfig, history: tuple[Turn, ...],
                       emit: Callable[[MoaEvent | _Crash], None]) -> None:
        try:
            # The calls keep to the deadline themselves; this only guards against a hang elsewhere.
            async with asyncio.timeout(self.deadline_s + 5.0):
                await self._pipeline(question, config, history, emit)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            emit(RunFailed(error=f"The answer took longer than the {self.deadline_s:.0f} s limit.",
                           kind="deadline"))
        except BaseException as err:  # a bug: surface it to the consumer instead of hanging
            log.exception("MoA run crashed")
            emit(_Crash(err))

    async def _pipeline(self, question: str, config: MoaConfig, history: tuple[Turn, ...],
                        emit: Callable[[MoaEvent | _Crash], None]) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        started_at = time.time()
        deadline = t0 + self.deadline_s
        state = _RunState()
        agents = config.agents
        answers: list[str] = []
        layer_times: list[float] = []
        warnings: list[str] = []

        for layer in range(1, config.cycles + 1):
            layer_t0 = loop.time()
            emit(LayerStarted(layer=layer, total_layers=config.cycles, agents=tuple(n for n, _ in agents),
                              models=tuple(a.model_name for _, a in agents)))
            helper = helper_block(config.aggregate_prompt, answers) if layer > 1 else ""
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(self._propose(layer, name, agent, helper, question, history, deadline,
                                                      state, emit), name=f"moa-l{layer}-{name}")
                         for name, agent in agents]
            outputs = tuple(t.result() for t in tasks)
            state.layers.append(LayerResult(layer=layer, outputs=outputs))
            layer_times.append(loop.time() - layer_t0)
            answers = [o.text for o in outputs if o.ok]
            failed = [o for o in outputs if not o.ok]
            if not answers:
                reasons = "; ".join(dict.fromkeys(f"{o.agent}: {(o.error or '').rstrip('.')}" for o in failed))
                timed_out = loop.time() >= deadline
                emit(RunFailed(
                    error=(f"The answer took longer than the {self.deadline_s:.0f} s limit. " if timed_out else "")
                    + f"Every agent of layer {layer} failed, so there is nothing to aggregate — {reasons}.",
                    kind="deadline" if timed_out else "all_proposers_failed",
                    layers=tuple(state.layers), usage=state.usage()))
                return
            if failed:
                warnings.append(f"{len(failed)} of {len(outputs)} agents failed in layer {layer}: "
                                + "; ".join(f"{o.agent} ({o.model})" for o in failed))

        # ---- the aggregator ----
        agg_t0 = loop.time()
        emit(AggregatorStarted(model=config.main_model))
        system = render_system(config.system_prompt, helper_block(config.aggregate_prompt, answers))
        messages = build_messages(system, question, history)
        try:
            result = await self.providers.complete(
                config.main_model, messages, temperature=config.temperature, max_tokens=config.max_tokens,
                on_delta=lambda piece: emit(AggregatorDelta(text=piece)),
                timeout_s=self.call_timeout_s, deadline=deadline)
        except MoaError as err:
            timed_out = loop.time() >= deadline
            kind: FailureKind = ("deadline" if timed_out else
                                 "model_unavailable" if isinstance(err, ModelUnavailable) else "aggregator_failed")
            emit(RunFailed(error=f"The aggregator ({config.main_model}) failed: {err}", kind=kind,
                           layers=tuple(state.layers), usage=state.usage()))
            return
        if not result.text:
            emit(RunFailed(error=f"The aggregator ({config.main_model}) returned an empty answer; its "
                                 "max_tokens may be too low for its reasoning.",
                           kind="aggregator_failed", layers=tuple(state.layers), usage=state.usage()))
            return
        end = loop.time()
        usage = state.usage() + (result.usage or Usage())
        call_costs = [o.cost_usd for layer_result in state.layers for o in layer_result.outputs
                      if o.usage is not None]
        call_costs.append(cost_usd(config.main_model, result.usage))
        emit(RunFinished(
            answer=result.text, model=config.main_model, layers=tuple(state.layers), usage=usage,
            cost_usd=total_cost(call_costs),
            timings=Timings(started_at=started_at, total_s=end - t0, layers_s=tuple(layer_times),
                            aggregator_s=end - agg_t0,
                            first_token_s=(agg_t0 - t0 + result.first_token_s)
                            if result.first_token_s is not None else None),
            warnings=tuple(warnings)))

    async def _propose(self, layer: int, name: str, agent: AgentConfig, helper: str, question: str,
                       history: tuple[Turn, ...], deadline: float, state: _RunState,
                       emit: Callable[[MoaEvent | _Crash], None]) -> ProposerFinished:
        """One agent's answer in one layer; never raises (except when cancelled)."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        model = agent.model_name
        event: ProposerFinished
        if model in state.dead_models:  # found unavailable in an earlier layer: don't call again
            event = ProposerFinished(layer=layer, agent=name, model=model, text="", latency_s=0.0,
                                     error=state.dead_models[model])
            emit(event)
            return event
        messages = build_messages(render_system(agent.system_prompt, helper), question, history)
        try:
            result = await self.providers.complete(
                model, messages, temperature=agent.temperature, max_tokens=agent.max_tokens,
                timeout_s=self.call_timeout_s, deadline=deadline)
        except ModelUnavailable as err:
            state.dead_models[model] = str(err)
            event = ProposerFinished(layer=layer, agent=name, model=model, text="",
                                     latency_s=loop.time() - t0, error=str(err))
        except MoaError as err:
            event = ProposerFinished(layer=layer, agent=name, model=model, text="",
                                     latency_s=loop.time() - t0, error=str(err))
        except Exception as err:  # never let one agent's surprise cost the answer
            log.exception("agent %s (%s) crashed in layer %d", name, model, layer)
            event = ProposerFinished(layer=layer, agent=name, model=model, text="",
                                     latency_s=loop.time() - t0, error=f"{model} failed unexpectedly: {err}")
        else:
            if result.text:
                event = ProposerFinished(layer=layer, agent=name, model=model, text=result.text,
                                         latency_s=result.latency_s, usage=result.usage,
                                         cost_usd=cost_usd(model, result.usage))
            else:
                event = ProposerFinished(
                    layer=layer, agent=name, model=model, text="", latency_s=result.latency_s,
                    usage=result.usage, cost_usd=cost_usd(model, result.usage),
                    error=f"{model} returned an empty answer; its max_tokens may be too low for its reasoning.")
        emit(event)
        return event
