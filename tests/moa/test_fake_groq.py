"""The fake Groq server speaks the wire format the real groq SDK expects."""

from __future__ import annotations

import asyncio
import contextlib
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
    # Word by word, 0.2 s apart: a busy machine may read a chunk late, but not a whole second and a half late.
    fake_groq.first_token_s, fake_groq.word_s = 0.05, 0.2
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
    assert first is not None and call.ended is not None and first < call.ended  # streamed, not buffered
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


# ---- Groq's limits -----------------------------------------------------------------------------------
async def test_limited_models_answer_with_groqs_rate_limit_headers(fake_groq: FakeGroq) -> None:
    fake_groq.limit("openai/gpt-oss-20b", tpm=8000, window_s=6)
    c = client(fake_groq, max_retries=0)
    raw = await c.chat.completions.with_raw_response.create(model="openai/gpt-oss-20b", messages=Q, max_tokens=1000)
    h = raw.headers
    assert h["x-ratelimit-limit-tokens"] == "8000"
    assert h["x-ratelimit-remaining-tokens"] == str(8000 - 1001)  # the prompt plus max_tokens
    assert h["x-ratelimit-reset-tokens"] == "6.00s"
    assert h["x-ratelimit-limit-requests"] == "14400" and h["x-ratelimit-remaining-requests"] == "14399"
    assert h["x-ratelimit-reset-requests"] == "0.60s"  # one request of 14,400 a "day" of 1,440 windows
    plain = await c.chat.completions.with_raw_response.create(model="qwen/qwen3.8-27b", messages=Q)
    assert "x-ratelimit-limit-tokens" not in plain.headers  # no limit set: no headers
    await c.close()


async def test_a_request_over_the_minutes_limit_gets_413_and_a_full_window_429(fake_groq: FakeGroq) -> None:
    fake_groq.limit("*", tpm=3000, window_s=6)
    c = client(fake_groq, max_retries=0)
    with pytest.raises(groq.APIStatusError) as too_large:
        await c.chat.completions.create(model="openai/gpt-oss-20b", messages=Q, max_tokens=5000)
    assert too_large.value.status_code == 413
    assert "on tokens per minute (TPM): Limit 3000, Requested 5001" in str(too_large.value)
    await c.chat.completions.create(model="openai/gpt-oss-20b", messages=Q, max_tokens=2000)
    with pytest.raises(groq.RateLimitError) as limited:
        await c.chat.completions.create(model="openai/gpt-oss-20b", messages=Q, max_tokens=2000)
    message = str(limited.value)
    assert "(TPM): Limit 3000, Used 2001, Requested 2001. Please try again in" in message
    assert limited.value.response.headers["retry-after"] in ("6", "5")
    assert fake_groq.calls[-1].status == 429 and fake_groq.calls[-1].requested_tokens == 2001
    await c.close()


async def test_storms_and_stragglers_come_by_share(fake_groq: FakeGroq) -> None:
    fake_groq.error_share, fake_groq.straggler_share, fake_groq.latency = 0.5, 0.5, 0.01
    c = client(fake_groq, max_retries=0)
    for _ in range(20):
        with contextlib.suppress(groq.InternalServerError):
            await c.chat.completions.create(model="openai/gpt-oss-20b", messages=Q)
    statuses = [call.status for call in fake_groq.calls]
    assert 3 <= statuses.count(500) <= 17
    slow = [call for call in fake_groq.calls if call.straggler]
    assert slow and all((s.duration or 0) > (f.duration or 0) for s in slow for f in fake_groq.calls
                        if f.status == 200 and not f.straggler)
    await c.close()


async def test_word_timing_streams_word_by_word_and_waits_for_the_last_word(fake_groq: FakeGroq) -> None:
    fake_groq.first_token_s, fake_groq.word_s = 0.05, 0.01
    c = AsyncGroq()
    stream = await c.chat.completions.create(
        model="openai/gpt-oss-20b", messages=[{"role": "user", "content": "count these words"}],
        stream=True, include_reasoning=False)
    pieces = [chunk.choices[0].delta.content async for chunk in stream
              if chunk.choices and chunk.choices[0].delta.content]
    reply = "openai/gpt-oss-20b says: count these words [saw 0 answers]"
    assert "".join(pieces) == reply and len(pieces) == len(reply.split())
    streamed = fake_groq.calls[0]
    assert streamed.first_word_at is not None and streamed.ended is not None
    assert streamed.started < streamed.first_word_at < streamed.ended

    resp = await c.chat.completions.create(model="openai/gpt-oss-20b", messages=Q, include_reasoning=False)
    assert resp.choices[0].message.content == "openai/gpt-oss-20b says: q [saw 0 answers]"
    plain = fake_groq.calls[1]
    assert plain.first_word_at is not None and plain.ended is not None
    # a non-streamed call answers once its last word is written, well after its first
    assert plain.first_word_at < plain.ended
async def test_prefix_cache_reports_cached_tokens_and_spares_the_minute(fake_groq: FakeGroq) -> None:
    fake_groq.prefix_cache = True
    fake_groq.limit("openai/gpt-oss-20b", tpm=10_000)
    c = AsyncGroq(max_retries=0)
    history = [{"role": "user", "content": "word " * 300}, {"role": "assistant", "content": "reply " * 150}]
    first = await c.chat.completions.create(
        model="openai/gpt-oss-20b", messages=[*history, {"role": "user", "content": "first question"}],
        max_tokens=100)
    second = await c.chat.completions.create(
        model="openai/gpt-oss-20b", messages=[*history, {"role": "user", "content": "second question"}],
        max_tokens=100, stream=False)
    assert first.usage is not None and second.usage is not None
    assert first.usage.prompt_tokens_details is None or not first.usage.prompt_tokens_details.cached_tokens
    assert second.usage.prompt_tokens_details is not None
    assert second.usage.prompt_tokens_details.cached_tokens == 450  # the two shared messages, whole
    counted = [call.requested_tokens for call in fake_groq.calls]
    assert counted == [452 + 100, 2 + 100]  # the cached share is not counted against the minute
    stream = await c.chat.completions.create(
        model="openai/gpt-oss-20b", messages=[*history, {"role": "user", "content": "third"}], stream=True)
    usage = None
    async for chunk in stream:
        if chunk.x_groq and chunk.x_groq.usage:
            usage = chunk.x_groq.usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 450
    await c.close()


async def test_prefix_cache_counts_whole_blocks(fake_groq: FakeGroq) -> None:
    fake_groq.prefix_cache = True
    fake_groq.cache_block_tokens = 128
    c = AsyncGroq(max_retries=0)
    shared = [{"role": "user", "content": "word " * 300}]
    await c.chat.completions.create(model="openai/gpt-oss-20b", messages=[*shared, *Q])
    again = await c.chat.completions.create(model="openai/gpt-oss-20b", messages=[*shared, *Q])
    assert again.usage is not None and again.usage.prompt_tokens_details is not None
    assert again.usage.prompt_tokens_details.cached_tokens == 256  # 301 shared, in whole 128-token blocks
    await c.close()


async def test_replies_are_cut_at_max_tokens_with_length(fake_groq: FakeGroq) -> None:
    fake_groq.cut_at_max_tokens = True
    c = AsyncGroq(max_retries=0)
    question = [{"role": "user", "content": "a long question with many words in it"}]
    cut = await c.chat.completions.create(model="qwen/qwen3.8-27b", messages=question, max_tokens=5,
                                          reasoning_format="hidden")
    assert cut.choices[0].finish_reason == "length"
    assert cut.choices[0].message.content == "qwen/qwen3.8-27b says: a long question"
    assert cut.usage is not None and cut.usage.completion_tokens == 5
    whole = await c.chat.completions.create(model="qwen/qwen3.8-27b", messages=question, max_tokens=500,
                                            reasoning_format="hidden")
    assert whole.choices[0].finish_reason == "stop"
    stream = await c.chat.completions.create(model="qwen/qwen3.8-27b", messages=question, max_tokens=5,
                                             reasoning_format="hidden", stream=True)
    reasons = [ch.choices[0].finish_reason async for ch in stream if ch.choices and ch.choices[0].finish_reason]
    assert reasons == ["length"]
    await c.close()


async def test_held_calls_are_accepted_and_answered_only_once_released(fake_groq: FakeGroq) -> None:
    fake_groq.hold()
    c = AsyncGroq(max_retries=0)
    asks = [asyncio.create_task(c.chat.completions.create(model="openai/gpt-oss-20b", messages=Q))
            for _ in range(3)]
    await fake_groq.wait_for(lambda f: len(f.running) == 3)  # all three arrived, none answered
    assert not any(a.done() for a in asks) and all(call.served_at is None for call in fake_groq.calls)
    fake_groq.release()
    answers = await asyncio.gather(*asks)
    assert [a.choices[0].message.content for a in answers] == ["openai/gpt-oss-20b says: q [saw 0 answers]"] * 3
    again = await c.chat.completions.create(model="openai/gpt-oss-20b", messages=Q)  # released for good
    assert again.choices[0].message.content is not None
    await c.close()
