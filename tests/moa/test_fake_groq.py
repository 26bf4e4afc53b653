"""The fake Groq server speaks the wire format the real groq SDK expects."""

from __future__ import annotations

import asyncio
import time

import groq
import pytest
from groq import AsyncGroq

from tests.fakes.groq_server import REASONING_MARK, FakeGroq

Q = [{"role": "user", "content": "q"}]


def client(fake: FakeGroq, **kw: object) -> AsyncGroq:
    return AsyncGroq(api_key="gsk_test", base_url=fake.base_url, **kw)  # type: ignore[arg-type]


async def test_json_completion_and_models(fake_groq: FakeGroq) -> None:
    c = AsyncGroq()  # GROQ_BASE_URL / GROQ_API_KEY from the fixture
    resp = await c.chat.completions.create(
        model="openai/gpt-oss-20b", messages=[{"role": "system", "content": "x\n1. a\n\n2. b"},
                                              {"role": "user", "content": "why?"}])
    assert resp.choices[0].message.content == "openai/gpt-oss-20b says: why? [saw 2 answers]"
    assert REASONING_MARK in (resp.choices[0].message.reasoning or "")
    assert resp.usage is not None and resp.usage.total_tokens > 0
    models = await c.models.list()
    assert [m.id for m in models.data] == fake_groq.models
    call = fake_groq.calls[0]
    assert call.ended is not None and call.status == 200 and not call.stream
    await c.close()


async def test_streaming_has_many_deltas_and_x_groq_usage(fake_groq: FakeGroq) -> None:
    fake_groq.latency = 0.2
    c = AsyncGroq()
    stream = await c.chat.completions.create(
        model="qwen/qwen3.8-27b", messages=[{"role": "user", "content": "hello there"}],
        stream=True, reasoning_format="hidden")
    pieces, usage, first = [], None, None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.monotonic()
            pieces.append(chunk.choices[0].delta.content)
        if chunk.x_groq and chunk.x_groq.usage:
            usage = chunk.x_groq.usage
    assert len(pieces) > 3
    assert "".join(pieces) == "qwen/qwen3.8-27b says: hello there [saw 0 answers]"
    assert usage is not None and usage.total_tokens > 0
    call = fake_groq.calls[0]
    assert call.reasoning_format == "hidden"
    assert first is not None and call.ended is not None and first < call.ended - 0.05
    await c.close()


async def test_qwen_raw_puts_think_in_content(fake_groq: FakeGroq) -> None:
    c = AsyncGroq()
    resp = await c.chat.completions.create(model="qwen/qwen3.8-27b", messages=Q)
    assert resp.choices[0].message.content.startswith("<think>")
    assert REASONING_MARK in resp.choices[0].message.content
    await c.close()


async def test_failures_and_retry_after(fake_groq: FakeGroq) -> None:
    fake_groq.fail("openai/gpt-oss-20b", 429, retry_after=0.3)
    c = client(fake_groq, max_retries=1)
    t = time.monotonic()
    await c.chat.completions.create(model="openai/gpt-oss-20b", messages=[{"role": "user", "content": "q"}])
    assert time.monotonic() - t >= 0.3
    assert [x.status for x in fake_groq.calls] == [429, 200]
    assert fake_groq.calls[1].retry_count == 1
    fake_groq.fail("openai/gpt-oss-20b", 503, times=5)
    with pytest.raises(groq.InternalServerError):
        await client(fake_groq, max_retries=0).chat.completions.create(
            model="openai/gpt-oss-20b", messages=[{"role": "user", "content": "q"}])
    fake_groq.decommissioned.add("openai/gpt-oss-120b")
    with pytest.raises(groq.BadRequestError) as err:
        await c.chat.completions.create(model="openai/gpt-oss-120b", messages=Q)
    assert "decommissioned" in str(err.value)
    with pytest.raises(groq.NotFoundError):
        await c.chat.completions.create(model="nope/nope", messages=[{"role": "user", "content": "q"}])
    await c.close()


async def test_cancelled_client_ends_the_call(fake_groq: FakeGroq) -> None:
    fake_groq.latency = 5
    c = AsyncGroq()
    task = asyncio.create_task(c.chat.completions.create(
        model="openai/gpt-oss-20b", messages=[{"role": "user", "content": "q"}]))
    await fake_groq.wait_for(lambda f: len(f.calls) == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await fake_groq.wait_for(lambda f: not f.running, timeout=2)
    assert fake_groq.calls[0].cancelled
    await c.close()


async def test_openai_compatible_paths(fake_groq: FakeGroq) -> None:
    import httpx
    async with httpx.AsyncClient(base_url=fake_groq.openai_base_url) as http:
        r = await http.post("/chat/completions", json={"model": "openai/gpt-oss-20b",
                                                       "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        assert (await http.get("/models")).json()["data"][0]["id"] == "openai/gpt-oss-120b"
    assert fake_groq.calls[0].provider == "openai"
