"""Early exit: after a proposer layer, skip the remaining ones only when its agents plainly agree.

Only with the config's `early_exit` on, and never on the last layer (nothing is left to skip). The layer
must have a verdict from the agreement judge (every answer's conclusion read without doubt,
`moa.judge.agreement`), no agent that answered may conclude differently (a 2–1 majority runs every
layer: reconciling it is what the later layers are for), and enough agents must have answered: all of
the layer's agents by default, or the engine's quorum (`MOA_QUORUM`) when set — at least two, since one
answer agrees with no one. A failed or left-out agent is doubt unless the quorum allows for it.
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
    """How many agents must answer and agree to stop early: all by default, else the quorum (at least 2)."""
    wanted = quorum if quorum is not None else agents
    return min(agents, max(2, wanted))


def stops_after(config: MoaConfig, layer: int, agreement: Agreement | None, quorum: int | None) -> bool:
    """Whether the run skips the proposer layers after `layer`: unanimous among those who answered, with
    no doubt, and enough of them."""
    return (config.early_exit and layer < config.layers and agreement is not None and not agreement.dissent
            and agreement.agreeing >= agreement_quorum(agreement.total, quorum))


def skipped_note(layer: int, total_layers: int, agreement: Agreement) -> str:
    """"layers 2–3 skipped: 3 of 3 agents agreed" (or "layer 3 skipped: …")."""
    first = layer + 1
    which = f"layer {first}" if first == total_layers else f"layers {first}–{total_layers}"
    return f"{which} skipped: {agreement.agreed()}"
