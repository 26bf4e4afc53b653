"""Which setup answers a channel's next question while an experiment runs there: A, B, A, B…"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.conversation.keeper import read
from moa.config.schema import Limits, MoaConfig, parse_config
from moa.errors import ConfigError
from storage.db import Database
from storage.experiments import Arm
from storage.models import ChannelKey

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArmTurn:
    """The experiment's arm that answers this question, and its config."""

    experiment_id: int
    arm: Arm
    name: str
    config: MoaConfig


async def experiment_turn(db: Database, channel: ChannelKey, limits: Limits) -> ArmTurn | None:
    """The arm whose turn it is, or None: no experiment, storage failed (the channel's setup answers then,
    as it would without the experiment), or the arm no longer fits the operator's limits."""
    running, _ = await read("loading the channel's experiment", lambda: db.experiments.running(channel), None)
    if running is None:
        return None
    arm, _ = await read("taking an experiment turn", lambda: db.experiments.take_turn(running.id), None)
    if arm is None:
        return None
    try:
        config = parse_config(running.config(arm), limits=limits)
    except ConfigError as err:
        log.warning("experiment %s arm %s no longer fits the limits (%s); the channel's setup answers", running.id,
                    arm, err)
        return None
    return ArmTurn(running.id, arm, running.name(arm), config)
