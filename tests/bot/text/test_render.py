"""What people read: the status while an answer is made, the layer view, failures, a config."""

from __future__ import annotations

import json

from bot.surface import AgentProgress, Progress
from bot.text.render import (
    DISCORD,
    PLAIN,
    SLACK,
    render_config,
    render_failure,
    render_layers,
    render_layers_pages,
    render_progress,
)
from moa.config.schema import default_config, preset
from moa.errors import ConfigError, ModelUnavailable, ProviderError
from moa.events import BudgetWaiting
from storage.models import ChannelKey, ProposerRecord, RunRecord

CHANNEL = ChannelKey("slack", "T1", "C1")


def _proposer(layer: int, agent: str, text: str = "", *, error: str | None = None,
              model: str = "openai/gpt-oss-20b") -> ProposerRecord:
    return ProposerRecord(layer=layer, agent=agent, model=model, text=text, latency_s=1.25,
                          prompt_tokens=None if error else 1200, completion_tokens=None if error else 345,
                          error=error)


def _run(proposers: tuple[ProposerRecord, ...], *, status: str = "done", error: str | None = None,
         question: str = "Is 9.11 or 9.9 larger?", layers: int = 2) -> RunRecord:
    config = default_config().model_copy(update={"layers": layers})
    return RunRecord(id=42, channel=CHANNEL, thread="1.1", trigger_message_id="1.1", answer_message_ids=("1.2",),
                     config_json=config.export_json(), status=status,  # type: ignore[arg-type]
                     question=question, answer="9.9" if status == "done" else None, error=error,
                     started_at=0.0, finished_at=8.4, total_s=8.4, prompt_tokens=5000,
                     completion_tokens=800, cost_usd=0.0012, proposers=proposers)


def test_progress_shows_layer_and_each_agents_state() -> None:
    progress = Progress(layer=1, total_layers=3, agents=(
        AgentProgress("layer_agent_1", "openai/gpt-oss-20b", "done", latency_s=1.2),
        AgentProgress("layer_agent_2", "qwen/qwen3.8-27b", "running"),
        AgentProgress("layer_agent_3", "openai/gpt-oss-20b", "failed", error="rate limited"),
        AgentProgress("layer_agent_4", "openai/gpt-oss-20b", "waiting"),
    ))
    assert render_progress(progress, PLAIN) == (
        "⏳ Layer 1/3 · 4 agents\n"
        "✅ layer_agent_1 (openai/gpt-oss-20b) 1.2 s\n"
        "🔄 layer_agent_2 (qwen/qwen3.8-27b)\n"
        "❌ layer_agent_3 (openai/gpt-oss-20b) — rate limited\n"
        "▫️ layer_agent_4 (openai/gpt-oss-20b)"
    )


def test_progress_header_is_bold_in_each_platforms_own_way() -> None:
    progress = Progress(layer=2, total_layers=3, agents=(AgentProgress("a", "m", "running"),))
    assert render_progress(progress, SLACK).startswith("⏳ *Layer 2/3* · 1 agent")
    assert render_progress(progress, DISCORD).startswith("⏳ **Layer 2/3** · 1 agent")


def test_progress_while_aggregating_names_the_model_and_any_failed_agents() -> None:
    done = AgentProgress("a", "m1", "done", latency_s=2.0)
    assert render_progress(Progress(layer=4, total_layers=3, agents=(done,),
                                    aggregator_model="openai/gpt-oss-120b")) == (
        "✍️ Writing the final answer with openai/gpt-oss-120b…")
    failed = AgentProgress("b", "m2", "failed", error="timed out")
    text = render_progress(Progress(layer=4, total_layers=3, agents=(done, failed),
                                    aggregator_model="openai/gpt-oss-120b"))
    assert text.endswith("⚠️ 1 of 2 agents failed in the last layer: b (timed out)")


def test_progress_while_queued_says_how_many_are_ahead() -> None:
    assert render_progress(Progress(layer=1, total_layers=3, queued_ahead=2)) == "⏳ Queued — 2 ahead of you"
    assert render_progress(Progress(layer=1, total_layers=3, queued_ahead=0)) == "⏳ Queued — you're next"


def test_progress_says_which_models_budget_holds_an_answer_back_and_for_how_long() -> None:
    wait = BudgetWaiting("openai/gpt-oss-20b", "groq", "tokens", 41.0)
    agent = AgentProgress("a1", "openai/gpt-oss-20b", "running")
    text = render_progress(Progress(layer=2, total_layers=3, agents=(agent,), budget_waits=(wait,)), PLAIN)
    assert text.splitlines()[1] == "⏳ waiting for Groq's token budget for gpt-oss-20b — about 40 s"
    ollama = BudgetWaiting("ollama:llama3.1:8b", "ollama", "requests", 3.2)
    text = render_progress(Progress(layer=4, total_layers=3, aggregator_model="m", budget_waits=(ollama,)))
    assert text.endswith("⏳ waiting for ollama's request budget for ollama:llama3.1:8b — about 3 s")


def test_layer_view_lists_every_agent_answer_per_layer_then_the_aggregator() -> None:
    run = _run((
        _proposer(1, "layer_agent_1", "9.11 is larger."),
        _proposer(1, "layer_agent_2", error="rate limited (429)", model="qwen/qwen3.8-27b"),
        _proposer(2, "layer_agent_1", "Actually 9.9 is larger."),
    ))
    text = render_layers(run, DISCORD)
    assert text.startswith("🔍 **Intermediate answers** · run 42\n> Is 9.11 or 9.9 larger?")
    assert "**Layer 1 of 2** · 2 agents · 1 failed" in text
    assert ("**layer_agent_1** · `openai/gpt-oss-20b` · 1.2 s · 1,200 → 345 tokens\n9.11 is larger."
            in text)
    assert "**layer_agent_2** · `qwen/qwen3.8-27b` · 1.2 s\n❌ failed: rate limited (429)" in text
    assert "**Layer 2 of 2** · 1 agent\n\n**layer_agent_1**" in text
    assert text.index("9.11 is larger.") < text.index("Actually 9.9") < text.index("✍️")
    assert text.endswith(
        "✍️ Final answer by `openai/gpt-oss-120b` · 8.4 s total · 5,000 → 800 tokens in all · $0.0012")


def test_layer_view_of_failed_or_interrupted_runs_says_why_there_is_no_answer() -> None:
    failed = render_layers(_run((_proposer(1, "a", error="boom"),), status="failed",
                                error="Every agent failed in layer 1."), SLACK)
    assert failed.endswith("❌ No final answer: Every agent failed in layer 1.")
    interrupted = render_layers(_run((), status="interrupted"), SLACK)
    assert "No agent had answered yet." in interrupted
    assert interrupted.endswith("⚠️ Stopped before `openai/gpt-oss-120b` wrote the final answer (interrupted, "
                                "or the bot restarted).")


def test_layer_view_closes_a_code_block_an_agent_left_open() -> None:
    text = render_layers(_run((_proposer(1, "a", "```python\nprint(1)"), _proposer(1, "b", "plain"))))
    assert "```python\nprint(1)\n```\n\nb ·" in text


def test_long_layer_view_is_paged_within_the_limit_without_losing_answers() -> None:
    answers = [f"Answer {i}: " + ("lorem ipsum dolor sit amet. " * 60) for i in range(9)]
    run = _run(tuple(_proposer(1 + i // 3, f"agent_{i % 3}", answers[i]) for i in range(9)), layers=3)
    pages = render_layers_pages(run, 2000, DISCORD)
    assert len(pages) > 1
    assert all(len(page) <= 2000 for page in pages)
    joined = "".join("".join(pages).split())
    position = 0
    for answer in answers:  # every answer, whole and in order
        found = joined.find("".join(answer.split()), position)
        assert found >= position
        position = found
    assert pages[-1].endswith("$0.0012")


def test_long_question_is_shortened_in_the_header_only() -> None:
    run = _run((_proposer(1, "a", "ok"),), question="why " * 200)
    header = render_layers(run).split("\n")[1]
    assert header.startswith("> why why") and header.endswith("…") and len(header) <= 2 + 300


def test_failures_become_user_sentences_and_unknown_errors_leak_nothing() -> None:
    assert render_failure(ConfigError("cycles is 9, but at most 4 layers are allowed.")) == (
        "❌ cycles is 9, but at most 4 layers are allowed.")
    assert render_failure(ModelUnavailable("Model `llama-3.3-70b-versatile` was retired.",
                                           model="llama-3.3-70b-versatile",
                                           alternatives=("openai/gpt-oss-120b", "openai/gpt-oss-20b"))) == (
        "❌ Model `llama-3.3-70b-versatile` was retired. Live models: openai/gpt-oss-120b, openai/gpt-oss-20b.")
    assert render_failure(ProviderError("Groq is busy; try again in a minute.")) == (
        "❌ Groq is busy; try again in a minute.")
    secret = render_failure(RuntimeError("POST https://api.groq.com key=gsk_secret123 failed"))
    assert "gsk_" not in secret and "api.groq.com" not in secret
    assert secret.startswith("❌ Something went wrong on my side")


def test_config_view_shows_layers_aggregator_agents_calls_and_source() -> None:
    text = render_config(preset("lite"), "built-in default", SLACK)
    assert text == (
        "*MoA setup* — built-in default\n"
        "• Layers: 1\n"
        "• Aggregator: `openai/gpt-oss-120b` (temperature 0.5, max 2,048 tokens)\n"
        "• Agents (2):\n"
        "    – *fast*: `openai/gpt-oss-20b`, temperature 0.7, max 1,024 tokens\n"
        "    – *qwen*: `qwen/qwen3.8-27b`, temperature 0.7, max 1,024 tokens\n"
        "• 3 model calls per answer (1 layer × 2 agents + the aggregator)\n"
        "• If the aggregator fails, `qwen/qwen3.8-27b` writes the answer"
    )
    assert json.loads(preset("lite").export_json())["cycles"] == 1


def test_layer_view_says_which_layers_an_early_exit_skipped_and_why() -> None:
    agreed = tuple(_proposer(1, f"layer_agent_{i}", "The answer is 9.9.") for i in (1, 2, 3))
    run = _run(agreed, layers=3)
    early = run.__class__(**{**run.__dict__, "config_json": default_config().model_copy(
        update={"layers": 3, "early_exit": True}).export_json()})
    assert "⏭️ layers 2–3 skipped: 3 of 3 agents agreed\n\n✍️ Final answer" in render_layers(early)
    assert "skipped" not in render_layers(run)  # without early exit, a short run was not an early exit


def test_the_layer_view_shows_an_agents_server_time_and_its_wait_apart() -> None:
    queued = ProposerRecord(layer=1, agent="agent_2", model="local:tiny", text="blue", latency_s=11.0,
                            prompt_tokens=100, completion_tokens=20, error=None, queued_s=6.0)
    view = render_layers(_run((_proposer(1, "agent_1", "blue"), queued), layers=1), PLAIN)
    assert "agent_2 · `local:tiny` · 5.0 s on the server + 6.0 s queued ·" in view, view
    assert "agent_1 · `openai/gpt-oss-20b` · 1.2 s ·" in view, view  # no wait: one time


def test_progress_shows_a_queued_agents_server_time_and_its_wait_apart() -> None:
    progress = Progress(layer=1, total_layers=2, agents=(
        AgentProgress("a", "local:tiny", "done", latency_s=4.9),
        AgentProgress("b", "local:tiny", "done", latency_s=11.0, queued_s=6.0)))
    lines = render_progress(progress, PLAIN).splitlines()
    assert lines[1:] == ["✅ a (local:tiny) 4.9 s", "✅ b (local:tiny) 5.0 s on the server + 6.0 s queued"]
