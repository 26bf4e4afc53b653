"""An empty answer says why: a model that spent its tokens (on hidden reasoning) may need more max_tokens;
one that produced nothing at all was not cut short."""

from __future__ import annotations

from moa.events import RunFinished
from tests.fakes.groq_server import FakeCall, FakeGroq
from tests.moa.local_helpers import answer, local_config, local_engine


async def test_a_model_that_produced_nothing_gets_no_max_tokens_hint() -> None:
    def silent_b(call: FakeCall) -> str:
        return "" if call.model == "b" else f"{call.model} answers"

    async with FakeGroq(models=["a", "b"], reply=silent_b) as server:
        engine = local_engine(server)
        try:
            done = await answer(engine, "q", local_config(["local:a", "local:b"], layers=1))
        finally:
            await engine.providers.aclose()
    assert isinstance(done, RunFinished)
    empty = done.layers[0].outputs[1]
    assert empty.error == "local:b returned an empty answer (0 tokens)."
