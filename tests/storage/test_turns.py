from __future__ import annotations

from moa.messages.tokens import estimate_tokens, message_tokens
from storage import ChannelKey, Database

CHANNEL = ChannelKey("discord", "G01", "C01")
THREAD = "T100"


async def _add_many(db: Database, texts: list[str], thread: str = THREAD) -> None:
    for i, text in enumerate(texts):
        if i % 2 == 0:
            await db.turns.add(CHANNEL, thread, "user", "U1", text, created_at=1000.0 + i)
        else:
            await db.turns.add(CHANNEL, thread, "assistant", "bot", text, created_at=1000.0 + i)


async def test_history_returns_the_thread_oldest_first(db: Database) -> None:
    await _add_many(db, ["What is MoA?", "Mixture of agents.", "And layers?"])

    history = await db.turns.history(CHANNEL, THREAD, token_budget=10_000)

    assert [(t.role, t.author, t.text, t.created_at) for t in history] == [
        ("user", "U1", "What is MoA?", 1000.0),
        ("assistant", "bot", "Mixture of agents.", 1001.0),
        ("user", "U1", "And layers?", 1002.0),
    ]


async def test_history_keeps_the_newest_whole_turns_within_budget(db: Database) -> None:
    texts = [f"turn {i} " + "x" * 41 for i in range(10)]  # 48 chars: 12 + 4 = 16 tokens each
    await _add_many(db, texts)
    assert message_tokens(texts[0]) == 16

    history = await db.turns.history(CHANNEL, THREAD, token_budget=16 * 3 + 15)

    assert [t.text for t in history] == texts[-3:]


async def test_history_never_skips_a_big_turn_to_fit_older_ones(db: Database) -> None:
    await _add_many(db, ["old small", "x" * 400, "new small"])

    history = await db.turns.history(CHANNEL, THREAD, token_budget=50)

    # The 400-char turn does not fit, so nothing older than it is included either: history stays contiguous.
    assert [t.text for t in history] == ["new small"]


async def test_history_with_budget_below_newest_turn_is_empty(db: Database) -> None:
    await _add_many(db, ["y" * 400])

    assert await db.turns.history(CHANNEL, THREAD, token_budget=50) == []
    assert await db.turns.history(CHANNEL, THREAD, token_budget=0) == []
    assert await db.turns.history(CHANNEL, THREAD, token_budget=3) == []


async def test_long_thread_history_reads_far_back_when_budget_allows(db: Database) -> None:
    texts = [f"t{i}" for i in range(1000)]  # 5 tokens each: more than one page
    await _add_many(db, texts)

    history = await db.turns.history(CHANNEL, THREAD, token_budget=5 * 700)

    assert [t.text for t in history] == texts[-700:]


async def test_history_is_ordered_by_time_even_if_added_out_of_order(db: Database) -> None:
    await db.turns.add(CHANNEL, THREAD, "assistant", "bot", "second", created_at=2.0)
    await db.turns.add(CHANNEL, THREAD, "user", "U1", "first", created_at=1.0)

    assert [t.text for t in await db.turns.history(CHANNEL, THREAD, 1000)] == ["first", "second"]


async def test_threads_and_channels_have_separate_histories(db: Database) -> None:
    await _add_many(db, ["in thread A"], thread="A")
    await _add_many(db, ["in thread B"], thread="B")
    await db.turns.add(ChannelKey("discord", "G01", "C02"), "A", "user", "U1", "other channel")

    assert [t.text for t in await db.turns.history(CHANNEL, "A", 1000)] == ["in thread A"]
    assert await db.turns.has_thread(CHANNEL, "B")
    assert not await db.turns.has_thread(CHANNEL, "C")
    assert not await db.turns.has_thread(ChannelKey("discord", "G01", "C02"), "B")
    assert await db.turns.count(CHANNEL, "A") == 1
    assert await db.turns.count(CHANNEL, "C") == 0


async def test_history_survives_restart(db_target: str) -> None:
    first = await Database.open(db_target)
    await first.turns.add(CHANNEL, THREAD, "user", "U1", "remember me")
    await first.close()

    second = await Database.open(db_target)
    try:
        assert [t.text for t in await second.turns.history(CHANNEL, THREAD, 1000)] == ["remember me"]
    finally:
        await second.close()


async def test_chinese_turns_count_in_the_history_budget_as_the_pacer_counts_them(db: Database) -> None:
    """The history budget and the pacer weigh the same Chinese text alike (about a token a character), so a
    thread the budget lets in is the prompt the pacer reserves for — not a quarter of it."""
    texts = ["9.11和9.9哪个更大？请一步一步地想清楚。" * 4, "9.9更大，因为小数部分0.9大于0.11。" * 4, "为什么？"]
    await _add_many(db, texts)
    pacer_counts = [estimate_tokens([{"content": t}]) - estimate_tokens([]) for t in texts]
    assert pacer_counts[0] > sum(not c.isascii() for c in texts[0])  # a token a Chinese character, not a quarter

    fits = await db.turns.history(CHANNEL, THREAD, token_budget=sum(pacer_counts))
    one_short = await db.turns.history(CHANNEL, THREAD, token_budget=sum(pacer_counts) - 1)

    assert [t.text for t in fits] == texts
    assert [t.text for t in one_short] == texts[1:]
