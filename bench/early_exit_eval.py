"""`moa-bot eval` with early exit off and on, against the fake Groq in graded-question mode (not a test).

The fake answers each bundled question right at a set rate per model (deterministic: a hash of model,
question and prompt), and a call shown earlier answers follows their majority. Both configs are 3 layers
× 3 agents (gpt-oss-20b, qwen3.8-27b, gpt-oss-20b) and the gpt-oss-120b aggregator; the only difference
is `early_exit`. The real `moa-bot eval` runs as a subprocess and its --json report is printed: answers,
accuracy with 95% intervals, calls, and the paired difference. The fake's own log counts the calls too.

Run: python bench/early_exit_eval.py [--set mixed] [--limit 100]
Exits 1 when early exit made more calls than off or lost accuracy beyond the paired interval.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from moa.config.schema import AgentConfig, MoaConfig
from moa.eval.sets import load_set
from tests.fakes.groq_server import FakeGroq, GradedQuestions

FAST, STRONG, QWEN = "openai/gpt-oss-20b", "openai/gpt-oss-120b", "qwen/qwen3.8-27b"
RATES = {FAST: 0.7, QWEN: 0.6, STRONG: 0.75}
ROOT = Path(__file__).resolve().parent.parent


def config(early_exit: bool) -> str:
    agents = {f"agent_{i}": AgentConfig(model_name=m, system_prompt=f"You are agent {i}. {{helper_response}}")
              for i, m in enumerate((FAST, QWEN, FAST), start=1)}
    return MoaConfig(main_model=STRONG, layers=3, layer_agent_config=agents, early_exit=early_exit).export_json()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", default="mixed")
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    questions = load_set(args.set)[: args.limit]
    mode = GradedQuestions({q.question: q.answer for q in questions}, rates=RATES)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        off, on = folder / "exit-off.json", folder / "exit-on.json"
        off.write_text(config(False), encoding="utf-8")
        on.write_text(config(True), encoding="utf-8")
        report, answers = folder / "report.json", folder / "answers.jsonl"
        async with FakeGroq() as fake:
            fake.reply = mode.reply
            env = {k: v for k, v in os.environ.items() if not k.endswith(("_PROXY", "_proxy"))}
            env.update(GROQ_API_KEY="gsk_bench", GROQ_BASE_URL=fake.base_url, PYTHONPATH=str(ROOT),
                       XDG_CACHE_HOME=str(folder / "cache"))
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.app.cli", "eval", "--set", args.set, "--limit", str(args.limit),
                "--config", str(off), "--config", str(on), "--json", str(report), "--resume", str(answers),
                cwd=folder, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            _, err = await proc.communicate()
            if proc.returncode != 0:
                print(err.decode(), file=sys.stderr)
                return 1
            calls = len(fake.calls)
        data = json.loads(report.read_text(encoding="utf-8"))
        kept = [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines() if line.strip()]
    rates = ", ".join(f"{m.rsplit('/', 1)[-1]} {r:.0%}" for m, r in RATES.items())
    print(f"`moa-bot eval --set {args.set} --limit {args.limit}` against the fake Groq (graded mode, rates "
          f"{rates}); 3 layers × 3 agents + aggregator")
    names = {str(off): "early_exit off", str(on): "early_exit on"}
    print(f"{'config':<16}{'n':>5}{'correct':>9}{'accuracy (95% CI)':>22}{'calls':>8}{'calls/answer':>14}"
          f"{'median s':>10}")
    by_name = {}
    for c in data["configs"]:
        name = names[c["name"]]
        by_name[name] = c
        print(f"{name:<16}{c['n']:>5}{c['correct']:>9}{c['accuracy']:>9.0%} ({c['ci_low']:.0%}–{c['ci_high']:.0%})"
              f"{c['calls']:>8}{c['calls'] / c['n']:>14.2f}{c['median_s'] or 0:>10.3f}")
    for p in data["pairs"]:
        print(f"paired difference on {p['n']} questions (on − off): {p['difference'] * 100:+.1f} points "
              f"({p['ci_low'] * 100:+.1f} to {p['ci_high'] * 100:+.1f}, 95%), McNemar p = {p['mcnemar_p']:.2f}")
    print(f"the fake served {calls} calls in all")
    saved = by_name["early_exit off"]["calls"] - by_name["early_exit on"]["calls"]
    print(f"early exit saved {saved} calls ({saved / by_name['early_exit off']['calls']:.0%})")
    # The truth from the fake's log: layer 1's three answers to a question (calls shown no answers; both
    # configs ask the same prompts, so they got the same three). Early exit after layer 1 (4 calls) is
    # right only where those three were the same answer.
    first: dict[str, set[str]] = {}
    for reply in mode.log:
        if reply.shown == 0 and not reply.stream:
            first.setdefault(reply.question, set()).add(reply.value)
    text_of = {q.id: q.question for q in questions}
    exited = [o for o in kept if o["config"] == str(on) and o["calls"] == 4]
    false_exits = [o for o in exited if len(first[text_of[o["question_id"]]]) != 1]
    unanimous = sum(1 for values in first.values() if len(values) == 1)
    print(f"layer 1 unanimous in truth: {unanimous} of {len(first)} questions; early exit after layer 1: "
          f"{len(exited)}; after layer 1 where the agents differed: {len(false_exits)}")
    worse = any(p["ci_high"] < 0 for p in data["pairs"])
    return 1 if saved < 0 or worse or false_exits else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
