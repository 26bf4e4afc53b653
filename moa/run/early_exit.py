"""Early exit: after a proposer layer, skip the remaining ones when enough of its agents agree.

Only with the config's `early_exit` on, and never on the last layer (nothing is left to skip). The
quorum is the engine's: `MOA_QUORUM`, else all agents but one — and at least two, since one answer
agrees with no one.
"""

from __future__ import annotations

from collections.abc import Sequence

from moa.config.schema import MoaConfig
from moa.events import ProposerFinished
from moa.judge.agreement import Agreement, measure


def layer_agreement(outputs: Sequence[ProposerFinished]) -> Agreement | None:
    """How far one layer's answers agree (agents that failed count and agree with no one)."""
    return measure([o.text if o.ok else None for o in outputs])


def agreement_quorum(agents: int, quorum: int | None) -> int:
    """How many agents must agree to stop early."""
    wanted = quorum if quorum is not None else agents - 1
    return min(agents, max(2, wanted))


def stops_after(config: MoaConfig, layer: int, agreement: Agreement | None, quorum: int | None) -> bool:
    """Whether the run skips the proposer layers after `layer`."""
    return (config.early_exit and layer < config.layers and agreement is not None
            and agreement.agreeing >= agreement_quorum(agreement.total, quorum))


def skipped_note(layer: int, total_layers: int, agreement: Agreement) -> str:
    """"layers 2–3 skipped: 3 of 3 agents agreed" (or "layer 3 skipped: …")."""
    first = layer + 1
    which = f"layer {first}" if first == total_layers else f"layers {first}–{total_layers}"
    return f"{which} skipped: {agreement.agreed()}"
