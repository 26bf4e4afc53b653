"""One plan per answer: what admission weighs and what the engine tells the pacer step by step agree."""

from __future__ import annotations

from moa.calls.providers import ProviderRegistry
from moa.config.schema import preset
from moa.events import Turn
from moa.plan.reserve import Reservations
from moa.run.engine import MoaEngine

HISTORY = [Turn("user", "Tell me about the harbour. " * 40, "ana"), Turn("assistant", "港口很古老。" * 60)]


async def test_an_answers_plan_adds_its_steps_up_to_what_admission_weighs() -> None:
    article = preset("article")
    learned = Reservations(warm_up=1)
    proposer = article.layer_agent_config["layer_agent_1"].model_name
    async with ProviderRegistry(groq_api_key="gsk_test") as registry:
        fresh = MoaEngine(registry).plan("and the quay?", article, HISTORY)
        engine = MoaEngine(registry, reservations=learned)
        learned.record(proposer, "proposer", 100, cut=False, configured=4096)
        plan = engine.plan("and the quay?", article, HISTORY)

    assert len(plan.steps) == article.layers + 1  # each proposer layer, then the aggregator
    assert plan.step(article.layers + 2) == {}  # nothing after the aggregator
    needs = plan.needs()
    for model in needs:
        # every step's tokens, less what the layout expects the provider's prefix cache to serve
        assert needs[model].tokens == sum(step.get(model, 0) for step in plan.steps) - plan.total[model].cached
    assert sum(need.calls for need in needs.values()) == article.call_count
    # each step's calls, as the pacer keeps room for them when the step begins
    for step in range(1, article.layers + 2):
        assert {m: n.tokens for m, n in plan.step_needs(step).items()} == plan.step(step)
    assert sum(n.calls for n in plan.step_needs(1).values()) == len(article.layer_agent_config)
    assert {m: n.calls for m, n in plan.step_needs(article.layers + 1).items()} == {article.main_model: 1}
    assert plan.step_needs(article.layers + 2) == {}
    # what this engine learned its calls reserve is in its plan: less for the proposer's model
    assert plan.step(1)[proposer] < fresh.step(1)[proposer]
    assert plan.step(article.layers + 1) == fresh.step(article.layers + 1)  # the aggregator: not learned yet
