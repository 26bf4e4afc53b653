"""A config's label in usage reports: the preset's name, or its shape and a stable fingerprint."""

from __future__ import annotations

from moa.config.labels import config_label
from moa.config.schema import PRESET_DESCRIPTIONS, parse_config, preset


def test_every_preset_is_labelled_by_its_name() -> None:
    assert [config_label(preset(name)) for name in PRESET_DESCRIPTIONS] == list(PRESET_DESCRIPTIONS)


def test_a_custom_config_gets_its_shape_and_a_fingerprint_that_survives_a_round_trip() -> None:
    custom = preset("article").model_copy(update={"layers": 2})
    label = config_label(custom)
    assert label.startswith("custom 2×3 #") and len(label) == len("custom 2×3 #") + 6
    assert config_label(parse_config(custom.export_json())) == label  # same setup, same label
    assert config_label(preset("article").model_copy(update={"temperature": 0.1})) != config_label(preset("article"))
