"""The report both platform latency benches print: first message and final answer against targets."""

from __future__ import annotations

import statistics

FIRST_MESSAGE_TARGET_S = 1.0
FINAL_ANSWER_TARGET = 1.1  # × the engine's critical path


def print_latency_report(title: str, firsts: list[float], finals: list[float], critical_s: float) -> bool:
    """Print medians and worsts (firsts in seconds, finals in seconds); True when both targets are met."""
    ratios = [f / critical_s for f in finals]
    print(f"{title}, critical path {critical_s:.2f} s, {len(firsts)} runs")
    print(f"  first message: median {statistics.median(firsts) * 1000:.0f} ms, "
          f"worst {max(firsts) * 1000:.0f} ms   (target ≤ {FIRST_MESSAGE_TARGET_S * 1000:.0f} ms)")
    print(f"  final answer:  median {statistics.median(ratios):.3f} ×, worst {max(ratios):.3f} × "
          f"the critical path   (target ≤ {FINAL_ANSWER_TARGET} ×)")
    ok = max(firsts) <= FIRST_MESSAGE_TARGET_S and max(ratios) <= FINAL_ANSWER_TARGET
    print("  OK" if ok else "  TARGET MISSED")
    return ok
