"""Prompt layouts compared by `moa-bot eval` on the fake Groq (not a test; prints one run's report).

Starts the fake Groq on 127.0.0.1 in its graded-question mode (each model right at a set rate, decided by a
hash of the model, the question and the instruction it was given; a call shown earlier answers follows
their majority) with Groq-style prefix caching, writes the article preset in each `--layout` as a config
file, and runs the real `moa-bot eval` command (a subprocess, the real groq SDK) on a bundled set against
it. The report is eval's own: accuracy with 95% intervals, paired differences, calls, tokens (in, cached,
out). The fake cannot read: it says whether a layout loses answers on the way (a layer that no longer sees
the earlier answers, a question it cannot find), not how a real model reads the order; the real-server
sample in docs/ARCHITECTURE.md is for that.

Run: python bench/layout_eval.py [--set mixed] [--limit 100] [--layout classic --layout instruction_first]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from moa.config.schema import FAST, QWEN, STRONG, preset
from moa.eval.sets import load_set
from tests.fakes.groq_server import FakeGroq, GradedQuestions

ROOT = Path(__file__).resolve().parent.parent
RATES = {FAST: 0.7, QWEN: 0.6, STRONG: 0.65}  # right-answer rates of lone calls


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", default="mixed")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--layout", action="append", help="a prompt_layout (repeat); default classic and "
                        "instruction_first")
    args = parser.parse_args()
    layouts = args.layout or ["classic", "instruction_first"]
    questions = load_set(args.set)[:args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for layout in layouts:
            path = Path(tmp) / f"{layout}.json"
            path.write_text(preset("article").model_copy(update={"prompt_layout": layout}).export_json(),
                            encoding="utf-8")
            files.append(path)
        answers = {q.question: q.answer for q in questions}
        # Accuracy, paired: every layout on the same questions. The fake's cache is one per model, so a
        # layout asked second would find what the first one sent: no caching here...
        code = await _eval(args, files, answers, Path(tmp) / "paired", cache=False)
        # ...and each layout alone, with the cache, for the tokens a provider would serve from it.
        for path in files:
            code |= await _eval(args, [path], answers, Path(tmp) / path.stem, cache=True)
        return code


async def _eval(args: argparse.Namespace, files: list[Path], answers: dict[str, str], workdir: Path, *,
                cache: bool) -> int:
    """`moa-bot eval` of `files` against a fresh fake Groq; its report goes to stdout."""
    workdir.mkdir()  # noqa: ASYNC240 - a temporary directory, before anything runs
    for path in files:
        (workdir / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    async with FakeGroq(prefix_cache=cache, cut_at_max_tokens=True) as fake:
        fake.reply = GradedQuestions(answers, rates=RATES).reply
        env = {**os.environ, "GROQ_API_KEY": "gsk_bench", "GROQ_BASE_URL": fake.base_url,
               "XDG_CACHE_HOME": str(workdir / "cache"), "PYTHONPATH": str(ROOT), "MOA_LOG_LEVEL": "WARNING",
               "COLUMNS": "150"}
        cmd = ["eval", "--set", args.set, "--limit", str(args.limit), "--json", "report.json"]
        for path in files:
            cmd += ["--config", path.name]  # named in the report as given
        print(f"\n$ moa-bot {' '.join(cmd[:-2 * len(files) - 2])} " + " ".join(f"--config {p.name}" for p in files)
              + f"   (fake Groq, graded mode, prefix cache {'on' if cache else 'off'})", flush=True)
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "from bot.app.cli import main; main()",
                                                    *cmd, env=env, cwd=workdir, stderr=asyncio.subprocess.DEVNULL)
        return await proc.wait()

if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
