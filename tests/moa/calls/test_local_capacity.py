"""A self-hosted server that answers one request at a time keeps every agent; a parallel one still drops
stragglers. The real groq SDK against the fake in local mode (serial, no rate-limit headers)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from moa.calls.capacity import ProviderCapacity
from moa.calls.providers import DeclaredProvider, parse_providers
from moa.errors import ConfigError
from tests.fakes.groq_server import FakeCall, FakeGroq
from tests.moa.local_helpers import answer, local_config, local_engine


def most_at_once(calls: Sequence[FakeCall]) -> int:
    """The most calls the server worked on at the same time."""
    spans = [(c.served_at, c.ended) for c in calls if c.served_at is not None and c.ended is not None]
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


async def test_a_serial_server_hears_every_agent_of_every_layer_once_with_nothing_declared() -> None:
    async with FakeGroq.local(["tiny"], latency=1.1) as server:
        engine = local_engine(server)
        try:
            done = await answer(engine, "why is the sky blue?", local_config(["local:tiny", "local:tiny"]))
        finally:
            await engine.providers.aclose()
    assert len(server.calls) == 5  # 2 layers × 2 agents, then the aggregator: no hedges, no repeats
    assert most_at_once(server.calls) == 1  # it really did answer one at a time
    assert all(output.ok for layer in done.layers for output in layer.outputs)  # no one left out
    assert not any("left out" in w for w in done.warnings)
    assert done.answer.endswith("[saw 2 answers]")


async def test_declared_parallel_1_queues_calls_here_and_keeps_every_agent() -> None:
    async with FakeGroq(models=["tiny"], latency=0.3) as server:  # could run many, is told one
        engine = local_engine(server, f"local={server.openai_base_url};parallel=1")
        try:
            done = await answer(engine, "q", local_config(["local:tiny"] * 3))
        finally:
            await engine.providers.aclose()
    assert len(server.calls) == 2 * 3 + 1
    assert max(sum(1 for o in server.calls if o.started <= c.started < (o.ended or 0)) for c in server.calls) == 1
    assert all(output.ok for layer in done.layers for output in layer.outputs)


async def test_a_server_seen_running_calls_in_parallel_still_leaves_a_straggler_out() -> None:
    async with FakeGroq(models=["a", "b", "c"], latency=0.3) as server:
        engine = local_engine(server)
        config = local_config(["local:a", "local:b", "local:c"], layers=1)
        try:
            for _ in range(2):  # two answers of three calls side by side: it runs in parallel
                await answer(engine, "warm up", config)
            server.delay("c", 8.0)
            done = await answer(engine, "q", config)
        finally:
            await engine.providers.aclose()
    outputs = done.layers[0].outputs
    assert [o.left_out for o in outputs] == [False, False, True]
    assert any("left out" in w for w in done.warnings)


def test_parallelism_is_declared_after_the_url() -> None:
    spec = "local=http://127.0.0.1:8080/v1;parallel=1,vllm=http://10.0.0.2:8000/v1; parallel=8,cloud=https://x/v1"
    assert parse_providers(spec) == {"local": DeclaredProvider("http://127.0.0.1:8080/v1", parallel=1),
                                     "vllm": DeclaredProvider("http://10.0.0.2:8000/v1", parallel=8),
                                     "cloud": DeclaredProvider("https://x/v1")}


@pytest.mark.parametrize("option", ["parallel=0", "paralel=2", "parallel=two"])
def test_a_bad_parallel_option_is_one_sentence(option: str) -> None:
    with pytest.raises(ConfigError, match=r"parallel=N.*local=http://127\.0\.0\.1:8080/v1;parallel=1"):
        parse_providers(f"local=http://127.0.0.1:8080/v1;{option}")


def test_a_short_answer_queued_behind_a_long_one_is_not_taken_for_parallel() -> None:
    serial = ProviderCapacity("local")
    serial.observe(0.0, 10.0)  # a long answer
    serial.observe(0.0, 10.4)  # a short one that waited behind it: they ended together
    assert serial.may_queue  # one such pair proves nothing
    serial.observe(20.0, 21.0)
    serial.observe(20.0, 21.1)  # a second pair, no call in common: side by side
    assert not serial.may_queue and serial.has_room()
