"""Prompt layouts (real groq SDK, fake Groq that caches prefixes as Groq documents):
- instruction_first, the default: each agent's own instruction first, then the thread and the question,
  and the earlier layer's answers last — what repeats across layers and turns comes first, in the role
  order chat templates expect;
- shared_prefix: the thread and the question first, shared by every call of an answer, then each agent's
  own instruction;
- classic: the earlier answers inside each agent's instruction, first."""

from __future__ import annotations

import pytest

from moa.config.labels import config_label
from moa.config.schema import AGGREGATE_AND_SYNTHESIZE, MoaConfig, parse_config, preset
from moa.events import Turn
from moa.messages.prompts import ANSWERS_BREAK, helper_block, keep_whole_blocks
from moa.plan.fitting import CallShape
from tests.fakes.groq_server import FakeCall, FakeGroq, default_reply
from tests.moa.pace.test_limits import FAST, QWEN, collect, fake, final, make_engine

__all__ = ["fake"]


def _long_reply(call: FakeCall) -> str:
    """About 150 tokens, as a real proposer's answer is, still saying what it saw."""
    return default_reply(call) + " and more" * 70


def _layout(name: str) -> MoaConfig:
    config = preset("article")
    return config.model_copy(update={"prompt_layout": name})


async def _thread(fake: FakeGroq, config: MoaConfig, turns: int) -> list[list[FakeCall]]:
    """`turns` answers in one thread; each answer's calls."""
    engine = make_engine(fake)
    history: list[Turn] = []
    per_turn = []
    for n in range(1, turns + 1):
        before = len(fake.calls)
        question = f"question number {n} about the harbour and its ships"
        done = final(await collect(engine, question, config, history))
        per_turn.append(fake.calls[before:])
        history += [Turn("user", question, "ana"), Turn("assistant", done.answer)]
    await engine.providers.aclose()
    return per_turn


async def test_shared_prefix_sends_the_thread_first_and_each_agent_its_own_prompt(fake: FakeGroq) -> None:
    config = _layout("shared_prefix")
    history = [Turn("user", "what is a harbour?", "ana"), Turn("assistant", "A sheltered port.")]
    engine = make_engine(fake)
    done = final(await collect(engine, "and a quay?", config, history))
    await engine.providers.aclose()
    shared = [{"role": "user", "content": "ana: what is a harbour?"},
              {"role": "assistant", "content": "A sheltered port."}, {"role": "user", "content": "and a quay?"}]
    assert all(call.messages[:-1] == shared for call in fake.calls)  # one prefix for all ten calls
    assert all(call.messages[-1]["role"] == "system" for call in fake.calls)
    layer_one = fake.calls[:3]
    told = {call.messages[-1]["content"] for call in layer_one}
    assert told == {a.system_prompt.replace("{helper_response}", "").strip() for _, a in config.agents}
    assert [c.seen_answers for c in fake.calls] == [0, 0, 0, 3, 3, 3, 3, 3, 3, 3]
    assert done.answer.endswith("[saw 3 answers]")


def test_history_leaves_in_whole_blocks_so_its_start_stays_put() -> None:
    thread = list(range(40))
    starts = [keep_whole_blocks(thread[n - 20:n], n, block=8)[0] for n in range(20, 41)]
    assert all(start % 8 == 0 for start in starts)  # the start moves 8 turns at a time, never 1
    assert len(set(starts)) < len(starts) / 4
    assert keep_whole_blocks(thread[:5], 5, block=8) == thread[:5]  # nothing left out: nothing changes
    # never more than half of what fits given up for a stable start: a short history keeps what fits
    assert keep_whole_blocks(thread[9:12], 12, block=8) == thread[9:12]


THREAD = [Turn("user", "what is a harbour?", "ana"), Turn("assistant", "A sheltered port.")]


async def test_a_layer_2_call_has_its_agents_instruction_first_and_the_earlier_answers_last(fake: FakeGroq) -> None:
    config = preset("article")  # the default layout
    engine = make_engine(fake)
    done = final(await collect(engine, "and a quay?", config, THREAD))
    await engine.providers.aclose()
    layer_1, layer_2 = fake.calls[:3], fake.calls[3:6]
    answers = [c.reply_text for c in layer_1]
    assert layer_2[0].messages == [
        {"role": "system", "content": "Think through your response step by step."},
        {"role": "user", "content": "ana: what is a harbour?"},
        {"role": "assistant", "content": "A sheltered port."},
        {"role": "user", "content": "and a quay?" + ANSWERS_BREAK + AGGREGATE_AND_SYNTHESIZE + "\n\n"
                                    + "\n\n".join(f"{n}. {a}" for n, a in enumerate(answers, start=1))},
    ]
    for agent in range(3):  # an agent's instruction, the thread and the question open each of its calls
        own = [fake.calls[agent + 3 * layer] for layer in range(3)]
        assert all(c.messages[:3] == own[0].messages[:3] for c in own)
    for call in fake.calls:  # system first, then user and assistant in turn, ending with the user
        roles = [m["role"] for m in call.messages]
        assert roles == ["system", "user", "assistant", "user"]
    assert [c.seen_answers for c in fake.calls] == [0, 0, 0, 3, 3, 3, 3, 3, 3, 3]
    assert done.answer.endswith("[saw 3 answers]")


async def test_a_seed_article_config_runs_unchanged_in_meaning(fake: FakeGroq) -> None:
    seed = parse_config('{"layer_agent_1": {"system_prompt": "You are a poet. {helper_response} Answer in one line.", '
                        '"model_name": "openai/gpt-oss-20b"}}')
    assert seed.prompt_layout == "instruction_first"
    [(_, agent)] = seed.agents
    answers = ("It is a pier.", "A wharf.")
    classic = CallShape(agent.system_prompt, seed.aggregate_prompt, answers, "and a quay?", (), 100,
                        layout="classic").messages()
    first = CallShape(agent.system_prompt, seed.aggregate_prompt, answers, "and a quay?", (), 100).messages()
    # the same words: the instruction without the slot stays first, the answers move to the last message
    assert first[0] == {"role": "system", "content": "You are a poet.  Answer in one line."}
    helper = helper_block(seed.aggregate_prompt, answers)
    assert classic[0]["content"] == f"You are a poet. {helper} Answer in one line."
    assert first[-1]["content"] == "and a quay?" + ANSWERS_BREAK + helper
    engine = make_engine(fake)
    done = final(await collect(engine, "and a quay?", seed))
    await engine.providers.aclose()
    assert done.answer.endswith("[saw 1 answers]") and len(fake.calls) == 4


@pytest.mark.parametrize("layout", ["instruction_first", "shared_prefix"])
async def test_in_a_thread_a_cache_friendly_layout_is_counted_at_most_half_of_classic(fake: FakeGroq,
                                                                                       layout: str) -> None:
    fake.prefix_cache = True
    fake.cut_at_max_tokens = True
    fake.reply = _long_reply
    classic = await _thread(fake, _layout("classic"), 4)
    fake.calls.clear()
    cached = await _thread(fake, _layout(layout), 4)

    def counted(calls: list[FakeCall]) -> int:
        return sum((c.requested_tokens or 0) - (c.max_tokens or 0) for c in calls)  # prompts, as Groq counts

    assert counted(cached[-1]) <= counted(classic[-1]) / 2  # the fourth turn's prompts
    assert sum(c.cached_tokens for c in cached[-1]) > sum(c.cached_tokens for c in classic[-1])
    if layout == "instruction_first":  # every call finds its agent's instruction and the thread
        assert all(c.cached_tokens > 0 for c in cached[-1])


def test_the_layout_is_a_config_switch_instruction_first_by_default() -> None:
    article = preset("article")
    assert article.prompt_layout == "instruction_first"
    assert "prompt_layout" not in article.export()  # the default: left out, so the label stays "article"
    assert config_label(article) == "article"
    for name in ("classic", "shared_prefix"):
        other = parse_config(f'{{"prompt_layout": "{name}"}}', base=article)
        assert other.prompt_layout == name
        assert parse_config(other.export_json()).prompt_layout == name
        assert config_label(other) != config_label(article)
    assert QWEN in article.models() and FAST in article.models()
