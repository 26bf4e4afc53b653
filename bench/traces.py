"""What traces cost an answer, in CPU (not a test; prints figures measured in one run).

The fake Groq and an OTLP/HTTP trace store (tests/fakes/otlp_receiver.py) run in this process; a worker
process answers `--answers` questions with the default 3×3 config through the engine (the real groq SDK),
each under an answer's root span as `moa-bot` makes it, and reports its own CPU time — every thread's,
the exporter's included, and the final flush. Three workers in turn, `--rounds` times:

- off: no OTEL_* variable (the API's no-op spans);
- on: OTEL_EXPORTER_OTLP_ENDPOINT pointing at the trace store (batched OTLP/HTTP export);
- on+content: the same with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true.

Then prints one answer's trace as a tree (span names, models, tokens, timings), as the store received it.

Run: python bench/traces.py [--answers 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.groq_server import FakeGroq  # noqa: E402
from tests.fakes.otlp_receiver import OtlpReceiver, Span  # noqa: E402


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _answers(n: int) -> None:
    from bot.observe.traces import start_answer
    from moa.calls.providers import ProviderRegistry
    from moa.config.schema import default_config
    from moa.run.engine import MoaEngine

    config = default_config()
    registry = ProviderRegistry.from_env(os.environ)
    engine = MoaEngine(registry)
    for i in range(n):
        answer = start_answer(config, f"question {i}: is 9.11 or 9.9 larger?")
        try:
            async for event in engine.run(f"question {i}: is 9.11 or 9.9 larger?", config):
                answer.see(event)
        finally:
            answer.end()
    await registry.aclose()


def worker(n: int) -> None:
    """Answer `n` questions (after one to warm up) and print the CPU seconds they took, flush included."""
    from bot.observe.traces import traces

    with traces(os.environ):
        asyncio.run(_answers(1))
        started = _cpu_s()
        asyncio.run(_answers(n))
    print(json.dumps({"cpu_s": _cpu_s() - started}))


async def _measure(groq: FakeGroq, store: OtlpReceiver, n: int, **env: str) -> float:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MOA_", "GROQ_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--worker", str(n), stdout=asyncio.subprocess.PIPE,
        env={**clean, "PYTHONPATH": str(ROOT), "GROQ_API_KEY": "gsk_bench", "GROQ_BASE_URL": groq.base_url, **env})
    out, _ = await proc.communicate()
    return float(json.loads(out.decode().strip().splitlines()[-1])["cpu_s"]) * 1000 / n


def _tree(spans: list[Span]) -> list[str]:
    children: dict[str, list[Span]] = {}
    for span in spans:
        children.setdefault(span.parent_id, []).append(span)
    [root] = children[""]
    lines: list[str] = []

    def show(span: Span, depth: int) -> None:
        a = span.attributes
        start_ms = (span.start_ns - root.start_ns) / 1e6
        bits = [f"{span.name:<{34 - 2 * depth}}", f"+{start_ms:6.1f} ms", f"{span.ms:6.1f} ms"]
        if "gen_ai.usage.input_tokens" in a:
            bits.append(f"{a['gen_ai.usage.input_tokens']} in / {a['gen_ai.usage.output_tokens']} out")
        if "gen_ai.agent.name" in a:
            bits.append(str(a["gen_ai.agent.name"]))
        elif "moa.role" in a:
            bits.append(str(a["moa.role"]))
        if "moa.verdict" in a:
            bits.append(repr(a["moa.verdict"]))
        lines.append("  " * depth + "  ".join(bits))
        for child in sorted(children.get(span.span_id, []), key=lambda s: (s.start_ns, s.name)):
            show(child, depth + 1)

    show(root, 0)
    return lines


async def main(answers: int, rounds: int) -> None:
    async with FakeGroq(latency=0.02) as groq, OtlpReceiver() as store:
        results: dict[str, list[float]] = {"off": [], "on": [], "on+content": []}
        runs = {"off": {}, "on": {"OTEL_EXPORTER_OTLP_ENDPOINT": store.endpoint},
                "on+content": {"OTEL_EXPORTER_OTLP_ENDPOINT": store.endpoint,
                               "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}}
        for _ in range(rounds):
            for name, env in runs.items():
                results[name].append(await _measure(groq, store, answers, **env))
        off = statistics.median(results["off"])
        print(f"CPU per 3×3 answer (10 model calls, fake Groq at 20 ms), median of {rounds} runs of {answers} answers:")
        for name, values in results.items():
            median = statistics.median(values)
            print(f"  {name:<11} {median:6.2f} ms  (+{median - off:5.2f} ms, ×{median / off:.3f})  "
                  f"runs: {', '.join(f'{v:.2f}' for v in values)}")
        roots = [s for s in store.spans if s.name == "invoke_agent moa" and "gen_ai.input.messages" not in s.attributes]
        print(f"\nthe store received {len(store.spans)} spans in {store.requests} requests "
              f"({len(store.spans) / max(1, len({s.trace_id for s in store.spans})):.1f} spans per trace)")
        last = roots[-1]
        print("\none 3×3 answer's trace, as the store received it:")
        for line in _tree([s for s in store.spans if s.trace_id == last.trace_id]):
            print("  " + line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
    else:
        asyncio.run(main(args.answers, args.rounds))
