from __future__ import annotations

import asyncio
from typing import Any

import pytest

from storage import ChannelKey, Database, ProposerRecord, UnknownRun
from tests.storage.backends import INTEGRITY_ERRORS

CHANNEL = ChannelKey("slack", "T01", "C01")
OTHER_CHANNEL = ChannelKey("slack", "T01", "C02")


def _proposer(layer: int, agent: str, text: str = "", error: str | None = None) -> ProposerRecord:
    return ProposerRecord(
        layer=layer,
        agent=agent,
        model="openai/gpt-oss-20b",
        text=text or f"{agent} says hi in layer {layer}",
        latency_s=0.5 * layer,
        prompt_tokens=None if error else 100,
        completion_tokens=None if error else 20,
        error=error,
    )


def _finish_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "status": "done",
        "answer": "9.9 is larger",
        "error": None,
        "proposers": [],
        "total_s": 3.5,
        "prompt_tokens": 700,
        "completion_tokens": 140,
        "cost_usd": 0.0004,
    }
    return args | overrides


async def test_finished_run_keeps_every_layer_after_restart(db_target: str) -> None:
    first = await Database.open(db_target)
    run_id = await first.runs.start(CHANNEL, "1700.1", "M-q", "9.11 or 9.9?", '{"layers": 2}')
    proposers = [_proposer(1, "a"), _proposer(1, "b", error="429 rate limited"), _proposer(2, "a")]
    await first.runs.finish(run_id, **_finish_args(proposers=proposers))
    await first.runs.set_answer_messages(run_id, ["M-answer"])
    await first.close()

    second = await Database.open(db_target)
    try:
        run = await second.runs.find_by_message(CHANNEL, "M-answer")
    finally:
        await second.close()

    assert run is not None and run.id == run_id
    assert (run.status, run.question, run.answer, run.config_json) == (
        "done",
        "9.11 or 9.9?",
        "9.9 is larger",
        '{"layers": 2}',
    )
    assert (run.thread, run.trigger_message_id, run.answer_message_ids) == ("1700.1", "M-q", ("M-answer",))
    assert (run.total_s, run.prompt_tokens, run.completion_tokens, run.cost_usd) == (3.5, 700, 140, 0.0004)
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.proposers == tuple(proposers)
    assert [p.agent for p in run.layers()[1]] == ["a", "b"]
    assert run.layers()[1][1].error == "429 rate limited"


async def test_proposers_come_back_by_layer_then_config_order(db: Database) -> None:
    run_id = await db.runs.start(CHANNEL, "t", "M1", "q", "{}")
    given = [_proposer(2, "z"), _proposer(1, "c"), _proposer(2, "a"), _proposer(1, "b")]
    await db.runs.finish(run_id, **_finish_args(proposers=given))

    run = await db.runs.get(run_id, CHANNEL)

    assert run is not None
    assert [(p.layer, p.agent) for p in run.proposers] == [(1, "c"), (1, "b"), (2, "z"), (2, "a")]


async def test_another_channel_cannot_reveal_a_run(db: Database) -> None:
    run_id = await db.runs.start(CHANNEL, "t", "M-q", "secret question", "{}")
    await db.runs.finish(run_id, **_finish_args(proposers=[_proposer(1, "a")]))
    await db.runs.set_answer_messages(run_id, ["M-answer"])

    for elsewhere in (OTHER_CHANNEL, ChannelKey("slack", "T02", "C01"), ChannelKey("discord", "T01", "C01")):
        assert await db.runs.get(run_id, elsewhere) is None
        assert await db.runs.find_by_message(elsewhere, "M-answer") is None
        assert await db.runs.find_by_message(elsewhere, "M-q") is None
        assert await db.runs.latest(elsewhere) is None
    assert await db.runs.get(run_id, CHANNEL) is not None


async def test_run_is_found_by_any_answer_message_or_its_trigger(db: Database) -> None:
    run_id = await db.runs.start(CHANNEL, "t", "M-q", "q", "{}")
    await db.runs.set_answer_messages(run_id, ["M-status"])
    await db.runs.set_answer_messages(run_id, ["M-status", "M-part1", "M-part2"])

    for message_id in ("M-q", "M-status", "M-part1", "M-part2"):
        run = await db.runs.find_by_message(CHANNEL, message_id)
        assert run is not None and run.id == run_id, message_id
    run = await db.runs.get(run_id, CHANNEL)
    assert run is not None and run.answer_message_ids == ("M-status", "M-part1", "M-part2")
    assert await db.runs.find_by_message(CHANNEL, "M-unknown") is None


async def test_newest_run_wins_when_a_message_triggered_several(db: Database) -> None:
    await db.runs.start(CHANNEL, "t", "M-q", "q", "{}")
    newer = await db.runs.start(CHANNEL, "t", "M-q", "q again", "{}")

    run = await db.runs.find_by_message(CHANNEL, "M-q")

    assert run is not None and run.id == newer


async def test_latest_run_in_channel_or_thread(db: Database) -> None:
    in_a = await db.runs.start(CHANNEL, "A", "M1", "q1", "{}")
    in_b = await db.runs.start(CHANNEL, "B", "M2", "q2", "{}")

    latest = await db.runs.latest(CHANNEL)
    latest_a = await db.runs.latest(CHANNEL, "A")

    assert latest is not None and latest.id == in_b
    assert latest_a is not None and latest_a.id == in_a
    assert await db.runs.latest(CHANNEL, "C") is None


async def test_failed_run_records_the_error(db: Database) -> None:
    run_id = await db.runs.start(CHANNEL, "t", "M1", "q", "{}")
    errors = [_proposer(1, "a", error="timeout"), _proposer(1, "b", error="500")]
    await db.runs.finish(
        run_id, **_finish_args(status="failed", answer=None, error="all proposers failed", proposers=errors)
    )

    run = await db.runs.get(run_id, CHANNEL)

    assert run is not None and (run.status, run.answer, run.error) == ("failed", None, "all proposers failed")
    assert [p.error for p in run.proposers] == ["timeout", "500"]


async def test_a_failed_finish_leaves_the_run_untouched(db: Database) -> None:
    run_id = await db.runs.start(CHANNEL, "t", "M1", "q", "{}")
    broken = ProposerRecord(1, "b", "m", None, 0.1, None, None, None)  # type: ignore[arg-type]

    with pytest.raises(INTEGRITY_ERRORS):
        await db.runs.finish(run_id, **_finish_args(proposers=[_proposer(1, "a"), broken]))

    run = await db.runs.get(run_id, CHANNEL)
    assert run is not None and (run.status, run.answer, run.proposers) == ("running", None, ())


async def test_finishing_or_labelling_an_unknown_run_is_an_error(db: Database) -> None:
    with pytest.raises(UnknownRun):
        await db.runs.finish(404, **_finish_args())
    with pytest.raises(UnknownRun):
        await db.runs.set_answer_messages(404, ["M1"])


async def test_200_concurrent_runs_are_all_recorded(db: Database) -> None:
    async def one_run(i: int) -> int:
        run_id = await db.runs.start(CHANNEL, f"thread-{i}", f"M-q{i}", f"question {i}", "{}")
        await db.runs.finish(
            run_id,
            **_finish_args(
                answer=f"answer {i}",
                proposers=[_proposer(layer, agent) for layer in (1, 2, 3) for agent in "abcd"],
            ),
        )
        await db.runs.set_answer_messages(run_id, [f"M-a{i}"])
        return run_id

    run_ids = await asyncio.gather(*(one_run(i) for i in range(200)))

    assert len(set(run_ids)) == 200
    for i, run_id in enumerate(run_ids):
        run = await db.runs.find_by_message(CHANNEL, f"M-a{i}")
        assert run is not None and run.id == run_id
        assert (run.status, run.answer, run.question, len(run.proposers)) == (
            "done",
            f"answer {i}",
            f"question {i}",
            12,
        )


async def test_cancelled_finish_leaves_the_database_usable(db: Database) -> None:
    run_id = await db.runs.start(CHANNEL, "t", "M1", "q", "{}")
    finishing = asyncio.ensure_future(db.runs.finish(run_id, **_finish_args(proposers=[_proposer(1, "a")])))
    await asyncio.sleep(0)  # let it take the lock and begin; not waiting for a result
    finishing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await finishing

    # Whatever the cancelled transaction did, it is all-or-nothing and the connection is not stuck in it.
    other = await db.runs.start(CHANNEL, "t", "M2", "q2", "{}")
    await db.runs.finish(other, **_finish_args(proposers=[_proposer(1, "a")]))
    run = await db.runs.get(run_id, CHANNEL)
    assert run is not None and (run.status, len(run.proposers)) in {("running", 0), ("done", 1)}
