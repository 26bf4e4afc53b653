"""`moa-bot --help` is the first thing people type: every help page prints, exits 0 and says what the exit
codes mean. The real process, as installed (`python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from pathlib import Path

from bot.app.cli import _parser
from tests.bot.app.helpers import clean_env


def subcommands() -> list[str]:
    """Every subcommand the parser knows, so a new one is covered without touching this test."""
    actions = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(name for action in actions for name in action.choices)


async def help_page(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=tmp_path, env=clean_env(COLUMNS="120"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)  # a hang guard, not a bound
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_help_and_h_print_the_commands_and_the_exit_codes(tmp_path: Path) -> None:
    for flag in ("--help", "-h"):
        code, out, err = await help_page(tmp_path, flag)
        assert code == 0, err
        assert "Traceback" not in out + err
        assert "95% intervals" in out  # the line that once crashed argparse's %-formatting
        for name in subcommands():
            assert name in out
        assert "exit codes" in out
        for code_line in ("0 ", "1 ", "2 ", "130"):
            assert f"  {code_line}" in out


async def test_every_subcommand_has_a_help_page(tmp_path: Path) -> None:
    names = subcommands()
    assert {"run", "ask", "eval", "models", "doctor", "migrate", "usage"} <= set(names)
    pages = await asyncio.gather(*(help_page(tmp_path, name, "--help") for name in names))
    for name, (code, out, err) in zip(names, pages, strict=True):
        assert code == 0, f"{name} --help: {err}"
        assert "Traceback" not in out + err, name
        assert f"moa-bot {name}" in out  # its own usage line


async def test_eval_help_names_the_baseline_budget_option(tmp_path: Path) -> None:
    code, out, _ = await help_page(tmp_path, "eval", "--help")
    assert code == 0
    words = " ".join(out.split())  # argparse wraps lines at the terminal's width
    assert "--single-max-tokens" in words and "final-answer max_tokens" in words
