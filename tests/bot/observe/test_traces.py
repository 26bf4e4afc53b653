"""Traces: the real `moa-bot` process exports each answer as one OpenTelemetry trace over OTLP/HTTP to a trace
store on 127.0.0.1 (tests/fakes/otlp_receiver.py decodes what the official exporter sends)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

from tests.bot.app.helpers import ROOT, Terminal, clean_env
from tests.bot.process import base_env, free_port, get_when, start_bot, stop_bot
from tests.fakes.groq_server import FakeGroq
from tests.fakes.otlp_receiver import OtlpReceiver, Span
from tests.fakes.slack_api import FakeSlack, SlackSender

SECRET = "traces-signing-secret"
LOG_TOKENS = re.compile(r"tokens=(\d+) in=(\d+) cached=(\d+) out=(\d+)")
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "100"}  # batches leave every 0.1 s instead of 5 s


def _answered(slack: FakeSlack, ts: str) -> bool:
    msgs = slack.thread("C0GENERAL", ts)
    return bool(msgs) and bool(msgs[-1].buttons) and not msgs[-1].streaming


def _tokens(spans: list[Span]) -> tuple[int, int, int]:
    return (sum(s.attributes["gen_ai.usage.input_tokens"] for s in spans),
            sum(s.attributes["gen_ai.usage.output_tokens"] for s in spans),
            sum(s.attributes["gen_ai.usage.cache_read.input_tokens"] for s in spans))


async def test_a_slack_answer_is_one_trace_of_layers_and_model_calls_and_a_vote_joins_it(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    port = free_port()
    async with FakeSlack() as slack, OtlpReceiver() as store:
        env = base_env(fake_groq, tmp_path, SLACK_BOT_TOKEN=slack.token, SLACK_SIGNING_SECRET=SECRET,
                       SLACK_API_URL=slack.api_url, SLACK_HOST="127.0.0.1", SLACK_PORT=str(port),
                       OTEL_EXPORTER_OTLP_ENDPOINT=store.endpoint, OTEL_SERVICE_NAME="moa-test", **FAST_EXPORT)
        proc = await start_bot(env, "run", cwd=tmp_path)
        sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
        try:
            await get_when(proc, f"http://127.0.0.1:{port}/healthz")
            ts = await sender.mention("is 9.11 or 9.9 larger?")
            await slack.wait_for(lambda s: _answered(s, ts), timeout=10)
            [root] = await store.wait_for(lambda s: s.named("invoke_agent moa"))
            answer = slack.thread("C0GENERAL", ts)[-1]
            assert await sender.vote(answer, True) == 200
            [vote] = await store.wait_for(lambda s: s.named("feedback"))
        finally:
            await sender.aclose()
            done = await stop_bot(proc)

    assert "Traceback" not in done.err
    # One trace: the answer's root, three layers, ten model calls, and the vote.
    spans = [s for s in store.spans if s.trace_id == root.trace_id]
    assert len(spans) == len(store.spans) == 1 + 3 + 10 + 1
    assert root.parent_id == "" and root.service == "moa-test"
    assert root.attributes["moa.platform"] == "slack" and root.attributes["moa.channel"] == "C0GENERAL"
    assert root.attributes["moa.outcome"] == "answered" and root.attributes["moa.config"] == "article"
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.conversation.id"] == f"slack/{slack.team_id}/C0GENERAL/{ts}"
    layers = sorted(store.named("layer "), key=lambda s: s.name)
    assert [s.name for s in layers] == ["layer 1", "layer 2", "layer 3"]
    assert all(s.parent_id == root.span_id for s in layers)
    chats = store.named("chat ")
    for layer in layers:  # each layer's three agents, each one call
        calls = [c for c in chats if c.parent_id == layer.span_id]
        assert len(calls) == 3 and {c.attributes["moa.role"] for c in calls} == {"proposer"}
    [aggregator] = [c for c in chats if c.parent_id == root.span_id]
    assert aggregator.attributes["moa.role"] == "aggregator"
    assert aggregator.name == "chat openai/gpt-oss-120b"
    for call in chats:
        a = call.attributes
        assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "groq"
        assert call.name == f"chat {a['gen_ai.request.model']}"
        assert a["gen_ai.response.model"] == a["gen_ai.request.model"]
        assert a["gen_ai.request.max_tokens"] > 0 and a["gen_ai.response.finish_reasons"] == ["stop"]
        assert a["gen_ai.conversation.id"] == root.attributes["gen_ai.conversation.id"]
        assert a["gen_ai.usage.output_tokens"] > 0
    # The calls' tokens add up to the answer's, and to what the answer's log line says.
    assert _tokens(chats) == _tokens([root])
    [line] = [m for m in LOG_TOKENS.finditer(done.err)]
    total, tokens_in, cached, tokens_out = (int(g) for g in line.groups())
    assert (tokens_in, tokens_out, cached) == _tokens([root]) and total == tokens_in + tokens_out
    # No question or answer in any span by default.
    assert not any("gen_ai.input.messages" in s.attributes or "gen_ai.output.messages" in s.attributes
                   for s in store.spans)
    assert "9.11" not in json.dumps([s.attributes for s in store.spans])
    # The 👍 is a child of the answer's root span, found from the run alone.
    assert vote.parent_id == root.span_id and vote.attributes["moa.feedback.vote"] == "up"
    assert vote.attributes["moa.run.id"] == root.attributes["moa.run.id"]


async def _ask(groq: FakeGroq, tmp_path: Path, question: str, **env: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "ask", question, cwd=tmp_path,
        env=clean_env(GROQ_API_KEY="gsk_test", GROQ_BASE_URL=groq.base_url, MOA_DB_PATH=str(tmp_path / "moa.db"),
                      COLUMNS="200", **env),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)  # a hang guard, not a bound
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_questions_and_answers_are_in_spans_only_with_the_capture_switch_and_never_a_secret(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    key = "gsk_live1234567890abcdef"
    question = f"my key is {key}, is 9.11 or 9.9 larger?"
    async with OtlpReceiver() as store:
        code, out, err = await _ask(fake_groq, tmp_path, question, OTEL_EXPORTER_OTLP_ENDPOINT=store.endpoint,
                                    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true", **FAST_EXPORT)
        [root] = await store.wait_for(lambda s: s.named("invoke_agent moa"))
    assert code == 0, err
    asked = json.loads(root.attributes["gen_ai.input.messages"])
    assert asked == [{"role": "user", "parts": [{"type": "text",
                                                 "content": "my key is ***, is 9.11 or 9.9 larger?"}]}]
    answered = json.loads(root.attributes["gen_ai.output.messages"])
    assert answered[0]["parts"][0]["content"] == out.strip().replace(key, "***")
    [aggregator] = [c for c in store.named("chat ") if c.attributes["moa.role"] == "aggregator"]
    sent = json.loads(aggregator.attributes["gen_ai.input.messages"])
    assert any("9.9 larger" in part["content"] for message in sent for part in message["parts"])
    assert key not in json.dumps([s.attributes for s in store.spans])
    assert root.attributes["moa.platform"] == "terminal" and root.service == "moa-bot"


async def test_a_trace_store_that_is_down_refusing_or_stalling_changes_nothing_in_the_answer(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    question = "is 9.11 or 9.9 larger?"
    plain = await _ask(fake_groq, tmp_path, question)
    down = await _ask(fake_groq, tmp_path, question, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}",
                      **FAST_EXPORT)
    async with OtlpReceiver(status=503) as refusing:
        refused = await _ask(fake_groq, tmp_path, question, OTEL_EXPORTER_OTLP_ENDPOINT=refusing.endpoint,
                             **FAST_EXPORT)
    async with OtlpReceiver(stall_s=30) as stalling:
        stalled = await _ask(fake_groq, tmp_path, question, OTEL_EXPORTER_OTLP_ENDPOINT=stalling.endpoint,
                             **FAST_EXPORT)
    assert plain[0] == 0 and plain[1].strip()
    for code, out, err in (down, refused, stalled):
        assert (code, out) == plain[:2]
        assert "Traceback" not in err and "Traceback" not in out
    assert refusing.requests >= 1 and stalling.requests >= 1
    # The exporter's complaint is one line, ours.
    complaints = [line for line in down[2].splitlines() if "traces not exported" in line]
    assert len(complaints) <= 1


def _without_sdk(tmp_path: Path) -> str:
    """A PYTHONPATH on which `opentelemetry.sdk` cannot be imported, as when the `traces` extra is not installed."""
    stub = tmp_path / "no-sdk" / "opentelemetry" / "sdk"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('opentelemetry-sdk is not installed')\n")
    return f"{tmp_path / 'no-sdk'}:{ROOT}"


async def test_without_the_traces_extra_doctor_names_it_and_answers_still_come(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    async with OtlpReceiver() as store:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": store.endpoint, "PYTHONPATH": _without_sdk(tmp_path)}
        code, out, err = await _ask(fake_groq, tmp_path, "is 9.11 or 9.9 larger?", **env)
        doctor = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "doctor", cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=clean_env(GROQ_API_KEY="gsk_test", GROQ_BASE_URL=fake_groq.base_url, COLUMNS="200", **env))
        checklist, _ = await asyncio.wait_for(doctor.communicate(), 60)
    assert code == 0 and out.strip() and "Traceback" not in err
    assert "pip install 'moa-bot[traces]'" in err
    assert "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed" in checklist.decode()
    assert "pip install 'moa-bot[traces]'" in checklist.decode()
    assert store.requests == 0


async def test_eval_exports_each_graded_answer_as_a_trace_and_each_single_model_answer_as_a_call(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    async with OtlpReceiver() as store:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "eval", "--set", "decimals", "--config", "lite",
            "--config", "single:openai/gpt-oss-20b", "--limit", "2", "--json", str(tmp_path / "out.json"),
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=clean_env(GROQ_API_KEY="gsk_test", GROQ_BASE_URL=fake_groq.base_url, COLUMNS="200",
                          MOA_DB_PATH=str(tmp_path / "moa.db"), OTEL_EXPORTER_OTLP_ENDPOINT=store.endpoint,
                          **FAST_EXPORT))
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        roots = await store.wait_for(lambda s: len(s.named("invoke_agent moa")) == 2 and s.named("invoke_agent moa"))
        solo = await store.wait_for(lambda s: [c for c in s.named("chat ") if c.parent_id == ""])
    assert proc.returncode == 0, err.decode()
    assert {r.attributes["moa.platform"] for r in roots} == {"eval"}
    assert {r.attributes["moa.config"] for r in roots} == {"lite"}
    for root in roots:  # lite: one layer of two agents, then the aggregator
        assert len([s for s in store.spans if s.trace_id == root.trace_id and s.name.startswith("chat ")]) == 3
    assert len(solo) == 2 and all(c.attributes["gen_ai.request.model"] == "openai/gpt-oss-20b" for c in solo)


async def test_a_console_answer_is_a_trace_of_the_console_conversation(fake_groq: FakeGroq, tmp_path: Path) -> None:
    async with OtlpReceiver() as store:
        env = clean_env(GROQ_API_KEY="gsk_test", GROQ_BASE_URL=fake_groq.base_url, COLUMNS="60", TERM="dumb",
                        MOA_DB_PATH=str(tmp_path / "console.db"), OTEL_EXPORTER_OTLP_ENDPOINT=store.endpoint,
                        **FAST_EXPORT)
        term = Terminal([sys.executable, "-m", "bot", "run"], tmp_path, env)
        try:
            await term.expect("moa-bot console")
            term.type("is 9.11 or 9.9 larger?")
            await term.expect("[saw 3 answers]")
            [root] = await store.wait_for(lambda s: s.named("invoke_agent moa"))
            await store.wait_for(lambda s: len(s.named("chat ")) == 10)
        finally:
            term.close()
    assert root.attributes["moa.platform"] == "console" and root.attributes["moa.outcome"] == "answered"
    assert all(c.trace_id == root.trace_id for c in store.named("chat "))
