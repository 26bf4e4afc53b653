"""Helpers the self-hosted-server tests share: a config of local models, an engine whose only provider is
a fake local server, one answer run to its end."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from moa.calls.providers import ProviderRegistry, RetryPolicy
from moa.config.schema import AgentConfig, MoaConfig
from moa.events import RunFinished
from moa.run.engine import MoaEngine
from tests.fakes.groq_server import FakeGroq


def local_config(models: Sequence[str], *, layers: int = 2, main: str | None = None) -> MoaConfig:
    agents = {f"agent_{i}": AgentConfig(model_name=m, system_prompt=f"You are agent {i}. {{helper_response}}")
              for i, m in enumerate(models, start=1)}
    return MoaConfig(main_model=main or models[0], layers=layers, layer_agent_config=agents)  # type: ignore[arg-type]


def local_engine(server: FakeGroq, providers: str | None = None) -> MoaEngine:
    """An engine whose only provider is `server`, declared as a newcomer would (`local=URL`)."""
    registry = ProviderRegistry.from_env(
        {"MOA_PROVIDERS": providers or f"local={server.openai_base_url}"}, call_timeout_s=20, deadline_s=60,
        retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.05))
    return MoaEngine(registry, call_timeout_s=20, deadline_s=60)


async def answer(engine: MoaEngine, question: str, config: MoaConfig) -> RunFinished:
    async def run() -> RunFinished:
        events = [event async for event in engine.run(question, config)]
        assert isinstance(events[-1], RunFinished), events[-1]
        return events[-1]
    return await asyncio.wait_for(run(), 30)
