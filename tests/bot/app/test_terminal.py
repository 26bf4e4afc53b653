"""`moa-bot ask` and `moa-bot models` as a person types them: failures name the setting or flag to fix."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.bot.process import base_env, run_bot
from tests.fakes.groq_server import FakeGroq


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


async def test_ask_with_groq_base_url_on_a_closed_port_names_the_url_and_the_setting_at_once(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    done = await run_bot(base_env(fake_groq, tmp_path, GROQ_BASE_URL=url, MOA_RETRY_BACKOFF="5"),
                         "ask", "hello?", cwd=tmp_path)

    assert done.code == 1
    assert done.out == ""
    assert done.err.strip() == f"Could not connect to Groq at {url} (connection refused): check GROQ_BASE_URL " \
                               "(unset it for Groq itself)."  # once, not once per agent
    assert "retry" not in done.err  # a refused connection is not retried (a retry would wait 5 s first)


async def test_models_with_a_closed_port_does_not_say_request_timed_out(fake_groq: FakeGroq, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    done = await run_bot(base_env(fake_groq, tmp_path, GROQ_BASE_URL=url), "models", cwd=tmp_path)

    assert done.code == 1
    assert "timed out" not in done.err
    assert f"Could not connect to Groq at {url} (connection refused): check GROQ_BASE_URL" in done.err


async def test_a_base_url_with_the_api_path_gets_a_hint_not_404_not_found(fake_groq: FakeGroq, tmp_path: Path) -> None:
    env = base_env(fake_groq, tmp_path, GROQ_BASE_URL=fake_groq.base_url + "/openai/v1")
    asked = await run_bot(env, "ask", "hello?", cwd=tmp_path)
    listed = await run_bot(env, "models", cwd=tmp_path)

    hint = "GROQ_BASE_URL should be the host only, without /openai/v1 (e.g. " + fake_groq.base_url
    assert asked.code == 1 and hint in asked.err
    assert listed.code == 1 and hint in listed.err
    assert "404: 404" not in asked.err + listed.err


async def test_ask_finds_a_retired_aggregator_before_any_proposer_runs(fake_groq: FakeGroq, tmp_path: Path) -> None:
    fake_groq.models.append("llama-3.3-70b-versatile")
    fake_groq.decommissioned.add("llama-3.3-70b-versatile")
    config = tmp_path / "old.json"
    config.write_text(json.dumps({"main_model": "llama-3.3-70b-versatile", "cycles": 3, "layer_agent_config": {
        "a": {"system_prompt": "{helper_response}", "model_name": "openai/gpt-oss-20b"}}}))
    done = await run_bot(base_env(fake_groq, tmp_path), "ask", "hi", "--config", str(config), cwd=tmp_path)

    assert done.code == 2
    assert f"--config {config} uses a model not served now: llama-3.3-70b-versatile (the aggregator)." in done.err
    assert "Live models:" in done.err and "openai/gpt-oss-120b" in done.err
    assert not fake_groq.calls  # not one proposer call was spent


async def test_too_many_layers_names_the_flag_and_the_setting(fake_groq: FakeGroq, tmp_path: Path) -> None:
    done = await run_bot(base_env(fake_groq, tmp_path), "ask", "hi", "--layers", "9", cwd=tmp_path)

    assert done.code == 2
    assert "--layers 9 is more than the 4 layers allowed: use 1 to 4, or raise MOA_MAX_LAYERS." in done.err
    assert "cycles" not in done.err


async def test_ask_dash_reads_the_question_from_stdin(fake_groq: FakeGroq, tmp_path: Path) -> None:
    done = await run_bot(base_env(fake_groq, tmp_path), "ask", "-", "--layers", "1", cwd=tmp_path,
                         stdin=b"what is in the pipe?\n")

    assert done.code == 0, done.err
    assert done.out == "openai/gpt-oss-120b says: what is in the pipe? [saw 3 answers]\n"
    assert "Layer 1/1: 3 agents" in done.err
    assert "cost $" in done.err and "unknown" not in done.err  # every default model has a price


async def test_one_agent_is_singular_and_an_unpriced_model_is_named_in_the_cost(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    fake_groq.models.append("acme/new-model")
    config = tmp_path / "one.json"
    config.write_text(json.dumps({"main_model": "openai/gpt-oss-120b", "cycles": 1, "layer_agent_config": {
        "a": {"system_prompt": "{helper_response}", "model_name": "acme/new-model"}}}))
    done = await run_bot(base_env(fake_groq, tmp_path), "ask", "hi", "--config", str(config), cwd=tmp_path)

    assert done.code == 0, done.err
    assert "Layer 1/1: 1 agent\n" in done.err
    assert "+ unknown (no price for acme/new-model: add it to MOA_PRICES)" in done.err


async def test_ask_says_on_stderr_that_agreeing_agents_stopped_early(fake_groq: FakeGroq, tmp_path: Path) -> None:
    fake_groq.reply = lambda call: "The answer is 9.9." if call.model != "openai/gpt-oss-120b" else "9.9."
    config = tmp_path / "fast.json"
    config.write_text(json.dumps({"main_model": "openai/gpt-oss-120b", "cycles": 3, "early_exit": True,
                                  "layer_agent_config": {
                                      n: {"model_name": "openai/gpt-oss-20b"} for n in ("a", "b", "c")}}))
    done = await run_bot(base_env(fake_groq, tmp_path), "ask", "9.11 or 9.9?", "--config", str(config), cwd=tmp_path)

    assert done.code == 0, done.err
    assert done.out.strip() == "9.9."
    assert "layers 2–3 skipped: 3 of 3 agents agreed" in done.err
    assert len(fake_groq.calls) == 4


async def test_ask_with_files_reads_them_and_names_what_it_could_not_read(fake_groq: FakeGroq, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("city,people\nOslo,709000\n")
    (tmp_path / "bundle.zip").write_bytes(b"PK\x03\x04")
    done = await run_bot(base_env(fake_groq, tmp_path), "ask", "how many people live in Oslo?", "--layers", "1",
                         "--file", "data.csv", "--file", "bundle.zip", cwd=tmp_path)

    assert done.code == 0, done.err
    assert fake_groq.calls and all("Oslo,709000" in c.question for c in fake_groq.calls)
    assert "I could not read bundle.zip: it is an archive" in done.err


async def test_ask_with_a_missing_file_says_so_and_asks_nothing(fake_groq: FakeGroq, tmp_path: Path) -> None:
    done = await run_bot(base_env(fake_groq, tmp_path), "ask", "summarise", "--file", "gone.txt", cwd=tmp_path)

    assert done.code == 2
    assert done.err.strip() == "There is no file gone.txt."
    assert fake_groq.calls == []
