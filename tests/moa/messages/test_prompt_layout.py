"""The shared_prefix prompt layout: the thread and the question first, shared by every call of an answer,
then each agent's own instruction — so a provider's prefix cache serves the thread (real groq SDK, fake
Groq that caches prefixes as Groq documents)."""

from __future__ import annotations

from moa.config.labels import config_label
from moa.config.schema import MoaConfig, parse_config, preset
from moa.events import Turn
from moa.messages.prompts import keep_whole_blocks
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


async def test_in_a_thread_shared_prefix_is_counted_far_less_than_classic(fake: FakeGroq) -> None:
    fake.prefix_cache = True
    fake.cut_at_max_tokens = True
    fake.reply = _long_reply
    classic = await _thread(fake, _layout("classic"), 4)
    fake.calls.clear()
    shared = await _thread(fake, _layout("shared_prefix"), 4)

    def counted(calls: list[FakeCall]) -> int:
        return sum((c.requested_tokens or 0) - (c.max_tokens or 0) for c in calls)  # prompts, as Groq counts

    assert counted(shared[-1]) < counted(classic[-1]) / 2  # the fourth turn's prompts
    assert sum(c.cached_tokens for c in shared[-1]) > sum(c.cached_tokens for c in classic[-1])


def test_history_leaves_in_whole_blocks_so_its_start_stays_put() -> None:
    thread = list(range(30))
    starts = [keep_whole_blocks(thread[n - 12:n], n, block=8)[0] for n in range(12, 31)]
    assert all(start % 8 == 0 for start in starts)  # the start moves 8 turns at a time, never 1
    assert len(set(starts)) < len(starts) / 4
    assert keep_whole_blocks(thread[:5], 5, block=8) == thread[:5]  # nothing left out: nothing changes


def test_the_layout_is_a_config_switch_off_by_default() -> None:
    article = preset("article")
    assert article.prompt_layout == "classic"
    assert "prompt_layout" not in article.export()  # existing configs keep their export and label
    shared = parse_config('{"prompt_layout": "shared_prefix"}', base=article)
    assert shared.prompt_layout == "shared_prefix"
    assert parse_config(shared.export_json()).prompt_layout == "shared_prefix"
    assert config_label(shared) != config_label(article)
    assert QWEN in shared.models() and FAST in shared.models()
