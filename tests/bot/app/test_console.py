"""The console chat on a real pseudo-terminal: progress in place with a footer, local console commands,
multi-line imports that round-trip an export, and Ctrl-C that cancels only the answer in progress."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.bot.app.helpers import Terminal, clean_env
from tests.fakes.groq_server import FakeGroq

CONFIG = {"main_model": "openai/gpt-oss-120b", "cycles": 1, "layer_agent_config": {
    "solo": {"system_prompt": "Answer briefly. {helper_response}", "model_name": "openai/gpt-oss-20b"}}}


@pytest_asyncio.fixture
async def console(tmp_path: Path) -> AsyncIterator[tuple[Terminal, FakeGroq]]:
    async with FakeGroq() as fake:
        env = clean_env(GROQ_API_KEY="gsk_console_test", GROQ_BASE_URL=fake.base_url,
                         MOA_DB_PATH=str(tmp_path / "console.db"), COLUMNS="60", TERM="dumb")
        term = Terminal([sys.executable, "-m", "bot", "run"], tmp_path, env)
        try:
            await term.expect("moa-bot console")
            yield term, fake
        finally:
            term.close()


async def ask_with_one_layer(term: Terminal, question: str) -> str:
    """Set one layer, ask `question`, and return the screen once the answer's cost line is there."""
    term.type("/moa layers 1")
    await term.expect("1 layer")
    term.type(question)
    return await term.expect(" out) · cost $")


async def test_an_answer_ends_with_the_done_tokens_cost_line(console: tuple[Terminal, FakeGroq]) -> None:
    term, _ = console
    screen = await ask_with_one_layer(term, "is 9.11 or 9.9 larger?")
    assert "[saw 3 answers]" in screen

    assert re.search(r"Done in \d+\.\d s · [\d,]+ tokens \([\d,]+ in, [\d,]+ out\) · cost \$[\d.]+", screen)
    assert "⏳ Layer" not in screen  # not the platforms' multi-line status block


async def test_an_answer_says_how_far_the_agents_agreed(console: tuple[Terminal, FakeGroq]) -> None:
    term, fake = console
    fake.reply = lambda call: "The answer is 9.9." if call.model != "openai/gpt-oss-120b" else "It is 9.9."
    term.type("/moa layers 1")
    await term.expect("1 layer")
    term.type("is 9.11 or 9.9 larger?")
    screen = await term.expect("3 of 3 agents agreed")
    assert screen.index("It is 9.9.") < screen.index("3 of 3 agents agreed")  # beside the answer, after it


async def test_unknown_slash_words_are_answered_locally(console: tuple[Terminal, FakeGroq]) -> None:
    term, fake = console
    term.type("/help")
    await term.expect("Console commands:")
    term.type("/frobnicate now")
    await term.expect("/frobnicate is not a console command.")

    assert not fake.calls  # nothing went to the models


async def test_a_multi_line_paste_after_moa_import_imports_once(console: tuple[Terminal, FakeGroq]) -> None:
    term, fake = console
    term.type("/moa import")
    await term.expect("Paste the config JSON")
    os.write(term.master, (json.dumps(CONFIG, indent=2) + "\n").encode())  # one paste, many lines
    await term.expect("Imported: 1 layer, aggregator `openai/gpt-oss-120b`")
    term.type("/moa agents")
    await term.expect("solo")

    assert not fake.calls  # no line of the paste was sent to the models as a question


async def test_moa_import_at_file_reads_the_file(console: tuple[Terminal, FakeGroq], tmp_path: Path) -> None:
    term, _ = console
    path = tmp_path / "setup.json"
    path.write_text(json.dumps(CONFIG))
    term.type(f"/moa import @{path}")
    await term.expect("Imported: 1 layer")
    term.type("/moa import @missing.json")
    await term.expect("Cannot read missing.json: No such file or directory.")


async def test_an_export_printed_on_a_narrow_terminal_imports_again(console: tuple[Terminal, FakeGroq]) -> None:
    term, _ = console
    term.type("/moa export")
    screen = await term.expect("\r\n}\r\n")  # the export's last line: the JSON alone, no ``` around it
    text = screen[screen.index("/moa export"):].replace("\r\n", "\n")
    start = text.index("\n{") + 1
    config, length = json.JSONDecoder().raw_decode(text[start:])  # no line broken inside a string
    assert config and "```" not in text
    exported = text[start:start + length]

    term.type("/moa layers 2")
    await term.expect("2 layers")
    term.type("/moa import")
    os.write(term.master, (exported + "\n").encode())
    await term.expect("Imported: 3 layers")


async def test_ctrl_c_cancels_the_answer_in_progress_and_the_console_stays(
        console: tuple[Terminal, FakeGroq]) -> None:
    term, fake = console
    fake.latency = 30.0
    term.type("a slow question")
    await fake.wait_for(lambda f: len(f.calls) >= 3, timeout=15)
    term.proc.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C
    await term.expect("Cancelled.")

    fake.latency = 0.0
    term.type("/moa layers 1")
    await term.expect("1 layer")
    term.type("still there?")
    await term.expect("still there? [saw 3 answers]")
    term.type("/quit")
    assert await asyncio.to_thread(term.proc.wait, 15) == 0
    assert "restarted" not in term.screen


def test_the_footer_shows_the_cached_share_and_prices_it() -> None:
    from bot.app.terminal import done_footer
    from moa.events import Usage
    from moa.pricing import PriceTable, format_cost

    prices = PriceTable()
    cost_usd = prices.cost_usd

    proposer, aggregator = Usage(400, 50, 300), Usage(600, 50, 300)
    footer = done_footer(1.0, proposer + aggregator, [("openai/gpt-oss-20b", proposer)], "openai/gpt-oss-120b",
                         prices)
    cost = (cost_usd("openai/gpt-oss-20b", proposer) or 0) + (cost_usd("openai/gpt-oss-120b", aggregator) or 0)
    assert "(1,000 in, of them 600 cached, 100 out)" in footer
    assert footer.endswith(f"cost {format_cost(cost)}")


async def test_an_at_file_in_a_question_is_read_by_the_models(console: tuple[Terminal, FakeGroq],
                                                              tmp_path: Path) -> None:
    term, fake = console
    (tmp_path / "notes.txt").write_text("the meeting moved to room 4B")
    term.type("/moa layers 1")
    await term.expect("1 layer")
    term.type(f"where is the meeting? @{tmp_path / 'notes.txt'}")
    await term.expect(" out) · cost $")

    assert fake.calls and all("the meeting moved to room 4B" in c.question for c in fake.calls)
    assert all(c.question.startswith("where is the meeting? notes.txt") for c in fake.calls)
    term.type("and this? @nowhere.txt")
    await term.expect("There is no file nowhere.txt: “@nowhere.txt” is sent as written.")


async def test_an_at_word_that_is_no_file_goes_to_the_models_as_written(console: tuple[Terminal, FakeGroq]) -> None:
    term, fake = console
    await ask_with_one_layer(term, "what does @property do in Python?")

    assert fake.calls and all(c.question == "what does @property do in Python?" for c in fake.calls)
async def test_control_keys_typed_into_a_question_never_reach_the_models(console: tuple[Terminal, FakeGroq]) -> None:
    term, fake = console
    term.type("/moa layers 1")
    await term.expect("1 layer")
    term.type("what is\x0c 2+2?\x1b[A")  # ^L and an arrow key, as a terminal sends them
    await term.expect("says: what is 2+2? [saw")
    assert all("\x0c" not in c.question and "\x1b" not in c.question for c in fake.calls)


async def test_the_footer_marks_tokens_a_server_did_not_count(tmp_path: Path) -> None:
    agents = {"solo": {"system_prompt": "Answer briefly. {helper_response}", "model_name": "local:tiny"}}
    config = tmp_path / "moa.json"
    config.write_text(json.dumps({"main_model": "local:tiny", "cycles": 1, "layer_agent_config": agents}))
    async with FakeGroq.local(["tiny"], usage_mode="never") as server:
        env = clean_env(MOA_PROVIDERS=f"local={server.openai_base_url}", MOA_CONFIG=str(config),
                        MOA_DB_PATH=str(tmp_path / "console.db"), COLUMNS="200", TERM="dumb")
        term = Terminal([sys.executable, "-m", "bot", "run"], tmp_path, env)
        try:
            await term.expect("moa-bot console")
            term.type("why is the sky blue?")
            screen = await term.expect(" out) · cost $")
        finally:
            term.close()
    # The streamed final answer came without usage: its count, and so the total, is an estimate.
    assert re.search(r"Done in \d+\.\d s · ≈[\d,]+ tokens \(≈[\d,]+ in, ≈[\d,]+ out\)", screen), screen
