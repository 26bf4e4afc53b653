"""A short, stable name for a config: the preset it equals, or its shape and a fingerprint.

Usage reports group answers by this label, so a channel can compare setups on its own questions.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from moa.config.schema import PRESET_DESCRIPTIONS, MoaConfig, preset


def _canonical(config: MoaConfig) -> str:
    return json.dumps(config.export(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@lru_cache(maxsize=1)
def _presets() -> dict[str, str]:
    return {_canonical(preset(name)): name for name in PRESET_DESCRIPTIONS}


def config_label(config: MoaConfig) -> str:
    """'article', or 'custom 2×4 #3fa9c1' (layers × agents and the first hex digits of a hash)."""
    canonical = _canonical(config)
    name = _presets().get(canonical)
    if name is not None:
        return name
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:6]
    return f"custom {config.layers}×{len(config.layer_agent_config)} #{digest}"
