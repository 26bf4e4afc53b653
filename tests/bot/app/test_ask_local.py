"""`moa-bot ask` on a self-hosted server as a newcomer runs it: one OpenAI-compatible provider, nothing
declared about it, no GROQ_API_KEY. The real process and groq SDK against the fake in local mode."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.bot.app.helpers import clean_env
from tests.fakes.groq_server import FakeGroq

DONE = re.compile(r"(≈?)([\d,]+) tokens \((≈?)([\d,]+) in, (≈?)([\d,]+) out\)")


def two_by_two(tmp_path: Path) -> Path:
    """A MOA_CONFIG file: 2 layers × 2 agents and the aggregator, all on the local server."""
    agents = {f"agent_{i}": {"model_name": "local:tiny", "system_prompt": f"You are agent {i}. {{helper_response}}"}
              for i in (1, 2)}
    path = tmp_path / "moa.json"
    path.write_text(json.dumps({"main_model": "local:tiny", "cycles": 2, "layer_agent_config": agents}))
    return path


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
