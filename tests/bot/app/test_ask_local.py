"""`moa-bot ask` on a self-hosted server as a newcomer runs it: one OpenAI-compatible provider, nothing
declared about it, no GROQ_API_KEY. The real process and groq SDK against the fake in local mode."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.bot.app.helpers import clean_env, two_by_two
from tests.fakes.groq_server import FakeGroq

DONE = re.compile(r"(≈?)([\d,]+) tokens \((≈?)([\d,]+) in, (≈?)([\d,]+) out\)")


async def ask(server: FakeGroq, tmp_path: Path, **env: str) -> tuple[int, str, str, float]:
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "ask", "why is the sky blue?", cwd=tmp_path,
        env=clean_env(MOA_PROVIDERS=f"local={server.openai_base_url}", MOA_CONFIG=str(two_by_two(tmp_path)),
                      MOA_DB_PATH=str(tmp_path / "moa.db"), COLUMNS="200", **env),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)  # a hang guard, not a bound
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode(), time.monotonic() - started


def number(text: str) -> int:
    return int(text.replace(",", ""))


async def test_a_server_that_never_streams_usage_still_has_every_call_counted(tmp_path: Path) -> None:
    async with FakeGroq.local(["tiny"], latency=0.2, usage_mode="never") as server:
        code, out, err, _ = await ask(server, tmp_path)
    assert code == 0, err
    assert out == "tiny says: why is the sky blue? [saw 2 answers]\n"
    assert len(server.calls) == 5
    done = DONE.search(err)
    assert done is not None, err
    assert done.group(1) == done.group(3) == done.group(5) == "≈"  # the aggregator's tokens are an estimate
    counted_in = sum(c.usage["prompt_tokens"] for c in server.calls if c.usage)
    counted_out = sum(c.usage["completion_tokens"] for c in server.calls if c.usage)
    said_in, said_out = number(done.group(4)), number(done.group(6))
    assert abs(said_in - counted_in) <= 0.2 * counted_in, (said_in, counted_in)
    assert abs(said_out - counted_out) <= 0.2 * counted_out, (said_out, counted_out)
    assert number(done.group(2)) == said_in + said_out
    print(err.splitlines()[-1], f"· server counted {counted_in} in, {counted_out} out")  # for the report
    assert "cost $0" in err.splitlines()[-1] and "?" not in err.splitlines()[-1]  # self-hosted: free, known


async def test_a_server_that_streams_usage_when_asked_is_counted_exactly(tmp_path: Path) -> None:
    async with FakeGroq.local(["tiny"], latency=0.2) as server:
        code, _, err, _ = await ask(server, tmp_path)
    assert code == 0, err
    done = DONE.search(err)
    assert done is not None and "≈" not in done.group(0)
    assert number(done.group(4)) == sum(c.usage["prompt_tokens"] for c in server.calls if c.usage)


async def test_a_frozen_server_is_given_up_on_with_a_sentence_and_nothing_on_stdout(tmp_path: Path) -> None:
    async with FakeGroq.local(["tiny"], frozen=True) as server:
        code, out, err, took = await ask(server, tmp_path, MOA_CALL_TIMEOUT="5", MOA_RETRY_BACKOFF="0.01")
        calls = len(server.calls)
    print(f"frozen server given up after {took:.1f} s")  # the report's number: pytest -s shows it
    assert code == 1
    assert out == ""
    assert re.search(r"did not answer within 5(\.0)? s, twice; giving up", err), err
    assert calls == 2 * 2  # each agent of layer 1 tried once more, then given up; no aggregator call
    assert "Traceback" not in err


async def test_an_agent_queued_behind_another_shows_its_server_time_and_its_wait_apart(tmp_path: Path) -> None:
    async with FakeGroq.local(["tiny"], latency=0.3) as server:  # one call at a time
        code, _, err, _ = await ask(server, tmp_path)
    assert code == 0, err
    worked = [c.ended - c.served_at for c in server.calls if c.ended is not None and c.served_at is not None]
    lines = [line for line in err.splitlines() if line.lstrip().startswith("✓")]
    assert len(lines) == 4  # two layers of two agents
    # In each layer the agents go out together; the second waits while the server answers the first.
    queued = [re.search(r"([\d.]+) s on the server \+ ([\d.]+) s queued", line) for line in lines]
    assert sum(1 for q in queued if q) >= 2, err
    for q in (q for q in queued if q):  # the time the server says it worked on a call, not that plus the wait
        assert min(abs(float(q.group(1)) - w) for w in worked) < 0.1, (q.group(0), worked)
