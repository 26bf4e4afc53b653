"""The conversation service end to end: real SQLite file, real groq SDK, fake Groq on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.conversation.service import INTERRUPTED, CommandContext, ConversationService, Mention
from bot.surface import FinalAnswer
from moa.config.schema import preset
from storage.db import Database
from storage.models import ChannelKey
from tests.bot.conversation.helpers import GENERAL, RecordingSurface, admin, mention, settings_for
from tests.fakes.groq_server import FakeGroq

RANDOM = ChannelKey("slack", "T1", "C-random")


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeGroq]:
    async with FakeGroq() as server:
        yield server


@pytest_asyncio.fixture
async def service(fake: FakeGroq, tmp_path: Path) -> AsyncIterator[ConversationService]:
    svc = await ConversationService.create(settings_for(fake, tmp_path / "moa.db"))
    yield svc
    await svc.aclose()


async def test_mention_shows_status_at_once_then_progress_then_the_final_answer(
        service: ConversationService, fake: FakeGroq) -> None:
    fake.latency = 0.1
    surface = RecordingSurface()
    run_id = await service.handle_mention(mention("is 9.11 or 9.9 larger?"), surface)

    first_shown, first = surface.progress[0]
    assert first_shown < min(c.ended for c in fake.calls if c.ended is not None)  # before any model answered
    assert first.layer == 1 and first.total_layers == 3
    layers_seen = {p.layer for _, p in surface.progress}
    assert layers_seen >= {1, 2, 3, 4}  # every proposer layer, then the aggregator (layer 4)
    assert all(a.state != "done" or a.latency_s is not None for _, p in surface.progress for a in p.agents)
    assert surface.final is not None and surface.final.run_id == run_id
    assert surface.final.text.startswith("openai/gpt-oss-120b says: is 9.11 or 9.9 larger?")
    assert "[saw 3 answers]" in surface.final.text  # the aggregator saw the last layer's three answers
    assert surface.partials and surface.final.text.startswith(surface.partials[0])

    run = await service.reveal_layers(GENERAL, message_id=f"answer-{run_id}")
    assert run is not None and run.status == "done"
    assert sorted(run.layers()) == [1, 2, 3]
    assert all(len(outputs) == 3 for outputs in run.layers().values())


async def test_second_turn_in_a_thread_reaches_every_agent_with_the_first(
        service: ConversationService, fake: FakeGroq) -> None:
    await service.handle_mention(mention("what is MoA?", message_id="m1"), RecordingSurface())
    assert await service.continues_thread(GENERAL, "t1")
    first_answer_calls = len(fake.calls)

    await service.handle_mention(mention("and who wrote the paper?", message_id="m2"), RecordingSurface())
    second = fake.calls[first_answer_calls:]
    assert len(second) == 10
    for call in second:
        contents = [m["content"] for m in call.messages]
        assert "U1: what is MoA?" in contents  # the first question, attributed to its author…
        assert any(c.startswith("openai/gpt-oss-120b says: what is MoA?") for c in contents)  # …and answer
        assert call.question == "and who wrote the paper?"


async def test_a_thread_uses_its_channels_config(service: ConversationService, fake: FakeGroq) -> None:
    reply = await service.run_command(CommandContext(GENERAL, "U-admin", admin), "layers 1")
    assert reply.changed
    await service.handle_mention(mention("hi", thread="some-thread"), RecordingSurface())
    assert len(fake.calls) == 3 + 1  # one layer of the article's three agents, then the aggregator


async def test_another_channel_cannot_reveal_a_run(service: ConversationService) -> None:
    run_id = await service.handle_mention(mention("secret plans"), RecordingSurface())
    assert run_id is not None
    assert await service.reveal_layers(GENERAL, run_id=run_id) is not None
    assert await service.reveal_layers(RANDOM, run_id=run_id) is None
    assert await service.reveal_layers(RANDOM, message_id=f"answer-{run_id}") is None


async def test_overlong_question_is_refused_and_nothing_is_recorded(
        service: ConversationService, fake: FakeGroq) -> None:
    surface = RecordingSurface()
    assert await service.handle_mention(mention("x" * 4001), surface) is None
    assert surface.failure is not None and "4,001 characters; the limit is 4,000" in surface.failure
    assert fake.calls == []
    assert await service.last_run(GENERAL) is None


async def test_all_proposers_failing_gives_a_clear_message(service: ConversationService, fake: FakeGroq) -> None:
    for model in fake.models:
        fake.fail(model, 500, times=100)
    surface = RecordingSurface()
    run_id = await service.handle_mention(mention("anyone there?"), surface)
    assert surface.final is None
    assert surface.failure and "fail" in surface.failure.lower()
    run = await service.last_run(GENERAL)
    assert run is not None and run.id == run_id and run.status == "failed"


async def test_one_failing_proposer_still_gives_an_answer(service: ConversationService, fake: FakeGroq) -> None:
    fake.fail("qwen/qwen3.8-27b", 500, times=100)
    surface = RecordingSurface()
    await service.handle_mention(mention("still fine?"), surface)
    assert surface.final is not None
    assert "[saw 2 answers]" in surface.final.text
    failed = [a for _, p in surface.progress for a in p.agents if a.state == "failed"]
    assert failed and failed[0].name == "layer_agent_2"


async def test_waiting_mentions_see_their_queue_position(fake: FakeGroq, tmp_path: Path) -> None:
    fake.latency = 0.15
    svc = await ConversationService.create(settings_for(fake, tmp_path / "q.db", MOA_MAX_CONCURRENT="1"))
    try:
        await svc.run_command(CommandContext(GENERAL, "U", admin), "preset lite")
        surfaces = [RecordingSurface() for _ in range(3)]
        tasks = [asyncio.create_task(svc.handle_mention(mention(f"q{i}", message_id=f"m{i}", thread=f"t{i}"), s))
                 for i, s in enumerate(surfaces)]
        await asyncio.gather(*tasks)
        queued = [[p.queued_ahead for _, p in s.progress if p.queued_ahead is not None] for s in surfaces]
        assert queued[0] == []
        assert queued[1] == [0]
        assert queued[2] == [1, 0]
        assert all(s.final is not None for s in surfaces)
    finally:
        await svc.aclose()


async def test_shutdown_interrupts_answers_that_outlive_the_grace_period(fake: FakeGroq, tmp_path: Path) -> None:
    fake.latency_by_model["qwen/qwen3.8-27b"] = 5.0  # two agents answer at once, the third is slow
    db_path = tmp_path / "stop.db"
    # A quorum of all three: the layer waits for the slow one rather than leaving it out.
    svc = await ConversationService.create(settings_for(fake, db_path, MOA_QUORUM="3"))
    surface = RecordingSurface()
    task = asyncio.create_task(svc.handle_mention(mention("slow one"), surface))
    await surface.wait_for(lambda s: bool(s.progress) and sum(a.state == "done" for a in s.progress[-1][1].agents) == 2)
    await svc.drain(grace_s=0.05)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert surface.failure == INTERRUPTED
    assert surface.failure_run is not None  # the two answers that came are there to see
    late = RecordingSurface()
    await svc.handle_mention(mention("after shutdown", message_id="m9"), late)
    assert late.failure is not None and "restarting" in late.failure
    await svc.aclose()

    db = await Database.open(db_path)
    try:
        run = await db.runs.latest(GENERAL)
        assert run is not None and run.status == "interrupted"
        assert sorted(r.agent for r in run.proposers) == ["layer_agent_1", "layer_agent_3"]  # finish order varies
    finally:
        await db.close()


async def test_moa_config_is_what_a_channel_without_a_setup_uses(fake: FakeGroq, tmp_path: Path) -> None:
    own = tmp_path / "default.json"
    own.write_text('{"main_model": "openai/gpt-oss-20b", "cycles": 1, "layer_agent_config": '
                   '{"solo": {"model_name": "qwen/qwen3.8-27b"}}}')
    svc = await ConversationService.create(settings_for(fake, tmp_path / "d.db", MOA_CONFIG=str(own)))
    try:
        surface = RecordingSurface()
        await svc.handle_mention(mention("hello"), surface)
        assert [c.model for c in fake.calls] == ["qwen/qwen3.8-27b", "openai/gpt-oss-20b"]
        shown = await svc.run_command(CommandContext(GENERAL, "U1", admin), "show")
        assert "this bot's default (MOA_CONFIG)" in shown.text
    finally:
        await svc.aclose()


async def test_an_unexpected_error_is_said_plainly_without_its_internals(
        service: ConversationService, fake: FakeGroq) -> None:
    class BrokenFinish(RecordingSurface):
        async def finish(self, answer: FinalAnswer) -> list[str]:
            raise RuntimeError("POST https://internal/api?key=gsk_live_secret failed")

    surface = BrokenFinish()
    run_id = await service.handle_mention(mention("will this break?"), surface)
    assert surface.failure is not None and "Something went wrong on my side" in surface.failure
    assert "gsk_live_secret" not in surface.failure and "internal" not in surface.failure
    run = await service.last_run(GENERAL)
    assert run is not None and run.id == run_id and run.status == "failed"


async def test_an_answer_says_when_older_messages_were_left_out_of_the_history(
        fake: FakeGroq, tmp_path: Path) -> None:
    svc = await ConversationService.create(settings_for(fake, tmp_path / "h.db", MOA_HISTORY_TOKENS="40"))
    try:
        await svc.run_command(CommandContext(GENERAL, "U1", admin), "preset lite")
        first = RecordingSurface()
        await svc.handle_mention(mention("one " * 20, message_id="m1"), first)
        assert first.final is not None and first.final.warnings == ()  # nothing earlier to leave out

        second = RecordingSurface()
        await svc.handle_mention(mention("two", message_id="m2"), second)
        assert second.final is not None
        assert ("Only the last 1 of 2 earlier messages in this thread fit the history budget (40 tokens)."
                in second.final.warnings)
    finally:
        await svc.aclose()


async def test_a_question_queued_while_its_member_used_the_last_answer_of_the_day_is_told_not_run(
        fake: FakeGroq, tmp_path: Path) -> None:
    svc = await ConversationService.create(settings_for(fake, tmp_path / "moa.db", MOA_BUDGET_MEMBER_ANSWERS="1"))
    try:
        fake.latency = 0.2
        first, queued = RecordingSurface(), RecordingSurface()
        asking = [svc.handle_mention(Mention(GENERAL, f"t{i}", f"m{i}", "U-alice", "hi?"), surface)
                  for i, surface in enumerate((first, queued))]
        await asyncio.gather(*asking)  # both pass the check on arrival; one channel answers one at a time

        assert first.final is not None
        assert queued.final is None and queued.failure is not None and "1 of your 1 answer" in queued.failure
        assert len(fake.calls) == 10  # one answer's calls only
    finally:
        await svc.aclose()


async def test_a_wait_for_a_models_rate_limit_shows_in_the_status(fake: FakeGroq, tmp_path: Path) -> None:
    fake.limit("openai/gpt-oss-120b", tpm=2600, window_s=2.5)  # one aggregator call per window
    svc = await ConversationService.create(settings_for(fake, tmp_path / "w.db"))
    try:
        await svc.run_command(CommandContext(GENERAL, "U", admin), "preset lite")
        await svc.run_command(CommandContext(RANDOM, "U", admin), "preset lite")
        surfaces = [RecordingSurface(), RecordingSurface()]
        await asyncio.gather(*(svc.handle_mention(mention(f"q{i}", channel=channel), surface)
                               for i, (channel, surface) in enumerate(zip((GENERAL, RANDOM), surfaces, strict=True))))
        assert all(s.final is not None for s in surfaces)
        waits = [(i, n) for i, s in enumerate(surfaces) for _, p in s.progress for n in p.budget_waits]
        assert waits and all(n.model == "openai/gpt-oss-120b" and n.wait_s >= 1 for _, n in waits)
        waited = surfaces[waits[0][0]]
        assert not waited.progress[-1][1].budget_waits  # the wait is over before the answer
    finally:
        await svc.aclose()


async def test_a_burst_of_100_mentions_over_25_channels_is_queued_not_refused(fake: FakeGroq,
                                                                             tmp_path: Path) -> None:
    lite = tmp_path / "lite.json"
    lite.write_text(preset("lite").export_json())
    svc = await ConversationService.create(settings_for(fake, tmp_path / "burst.db", MOA_CONFIG=str(lite)))
    assert svc.settings.max_queue >= 100  # the defaults, apart from the config
    try:
        surfaces = [RecordingSurface() for _ in range(100)]
        finished: list[int] = []

        async def ask(i: int) -> None:
            channel = ChannelKey("slack", "T1", f"C{i % 25}")
            await svc.handle_mention(mention(f"q{i}", channel=channel, thread=f"t{i}", message_id=f"m{i}"),
                                     surfaces[i])
            finished.append(i)

        fake.hold()  # no model answers until everyone has been told something
        tasks = [asyncio.create_task(ask(i)) for i in range(100)]
        # Everyone sees a status (their place in the queue) while no answer can be done yet.
        await asyncio.wait_for(asyncio.gather(*(s.wait_for(lambda s: bool(s.progress), 30) for s in surfaces)), 30)
        assert finished == []
        fake.release()
        await asyncio.gather(*tasks)
        assert not [s.failure for s in surfaces if s.failure is not None]
        assert all(s.final is not None for s in surfaces)
    finally:
        fake.release()
        await svc.aclose()


async def test_what_a_failed_answer_spent_counts_in_usage(service: ConversationService, fake: FakeGroq) -> None:
    config = service.settings.default_config
    fallback = config.fallback()
    assert fallback is not None
    for model in (config.main_model, fallback):  # the proposers answer (and cost), then no one can aggregate
        fake.fail(model, 400, times=100)
    surface = RecordingSurface()
    run_id = await service.handle_mention(mention("who pays for this?"), surface)
    assert surface.failure is not None and "aggregator" in surface.failure

    assert run_id is not None
    run = await service.db.runs.get(run_id, GENERAL)
    assert run is not None and run.status == "failed"
    assert run.cost_usd is not None and run.cost_usd > 0 and run.prompt_tokens

    reply = await service.run_command(CommandContext(GENERAL, "U1", admin), "usage")
    [cost] = [line.split() for line in reply.text.splitlines() if line.startswith("cost")]
    [failures] = [line.split() for line in reply.text.splitlines() if line.startswith("failures")]
    assert failures[1:] == ["1", "1", "1"]
    assert all(value.startswith("$") and float(value[1:]) > 0 for value in cost[1:]), cost


def _lite_default(tmp_path: Path) -> str:
    lite = tmp_path / "lite.json"
    lite.write_text(preset("lite").export_json())
    return str(lite)


async def test_with_a_generous_budget_more_than_four_answers_run_at_once(fake: FakeGroq, tmp_path: Path) -> None:
    fake.limit("*", tpm=1_000_000)  # Groq's headers, with room to spare
    fake.latency = 0.3
    svc = await ConversationService.create(settings_for(fake, tmp_path / "wide.db", MOA_CONFIG=_lite_default(tmp_path)))
    try:
        surfaces = [RecordingSurface() for _ in range(8)]
        tasks = [asyncio.create_task(svc.handle_mention(
            mention(f"q{i}", channel=ChannelKey("slack", "T1", f"C{i}"), thread=f"t{i}", message_id=f"m{i}"), s))
            for i, s in enumerate(surfaces)]
        # Seen by the server: calls of more than four different answers in flight at the same moment.
        await fake.wait_for(lambda f: len({c.question for c in f.running}) > 4, timeout=30)
        await asyncio.gather(*tasks)
        assert all(s.final is not None for s in surfaces)
    finally:
        await svc.aclose()


async def test_under_a_tight_token_budget_answers_wait_their_turn_instead_of_running_out_of_time(
        fake: FakeGroq, tmp_path: Path) -> None:
    # One aggregator call per 2 s window: four answers take four windows, more than an answer's limit.
    fake.limit("openai/gpt-oss-120b", tpm=2700, window_s=2.0)
    svc = await ConversationService.create(settings_for(fake, tmp_path / "tight.db", MOA_CONFIG=_lite_default(tmp_path),
                                                     MOA_RUN_DEADLINE="5"))
    try:
        surfaces = [RecordingSurface() for _ in range(4)]
        tasks = [asyncio.create_task(svc.handle_mention(
            mention(f"q{i}", channel=ChannelKey("slack", "T1", f"C{i}"), thread=f"t{i}", message_id=f"m{i}"), s))
            for i, s in enumerate(surfaces)]
        await asyncio.gather(*tasks)
        assert [s.failure for s in surfaces] == [None] * 4  # nobody ran out of time
        assert all(s.final is not None for s in surfaces)

        def started(s: RecordingSurface) -> float:
            return next(t for t, p in s.progress if p.queued_ahead is None)

        def finished(i: int) -> float:
            return next(c.ended or 0.0 for c in fake.calls_to("openai/gpt-oss-120b") if c.question == f"q{i}")

        assert sorted(range(4), key=lambda i: started(surfaces[i])) == [0, 1, 2, 3]  # let in in order…
        assert sorted(range(4), key=finished) == [0, 1, 2, 3]  # …and answered in order
        assert any(p.queued_ahead for s in surfaces for _, p in s.progress)  # the later ones saw their place
        assert not [c for c in fake.calls if c.status == 429]
    finally:
        await svc.aclose()
