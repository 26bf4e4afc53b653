"""Plain records the repositories read and write."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

RunStatus = Literal["queued", "running", "done", "failed", "interrupted"]

WORKSPACE_DEFAULT = "*"  # the channel id under which a workspace-wide default config is stored


def answer_writer(config_json: str, answer_model: str | None = None) -> str:
    """The model a run's answer is credited to: the one that wrote it when stored (the fallback, when the
    aggregator failed), else the run's config's aggregator (`main_model`); "" when neither can be read."""
    if answer_model:
        return answer_model
    try:
        return str(json.loads(config_json).get("main_model") or "")
    except (ValueError, AttributeError):
        return ""


@dataclass(frozen=True)
class ChannelKey:
    """A channel on a platform: ("slack", team id, channel id) or ("discord", guild id or "dm", channel id)."""

    platform: str
    workspace: str
    channel: str

    def workspace_default(self) -> ChannelKey:
        return ChannelKey(self.platform, self.workspace, WORKSPACE_DEFAULT)


@dataclass(frozen=True)
class StoredConfig:
    config_json: str  # MoaConfig.export_json()
    changed_by: str
    changed_at: float  # unix time
    scope: Literal["channel", "workspace"]


@dataclass(frozen=True)
class ConfigChange:
    changed_by: str
    changed_at: float
    summary: str  # e.g. "layers 3", "reset"


@dataclass(frozen=True)
class StoredTurn:
    role: Literal["user", "assistant"]
    author: str
    text: str
    created_at: float


@dataclass(frozen=True)
class ProposerRecord:
    layer: int
    agent: str
    model: str
    text: str
    latency_s: float
    prompt_tokens: int | None
    completion_tokens: int | None
    error: str | None
    cached_tokens: int | None = None  # of prompt_tokens, served from the provider's prefix cache
    cut: bool = False  # the answer stopped at the config's max_tokens
    usage_estimated: bool = False  # its tokens were estimated from the text: the server reported none
    queued_s: float = 0.0  # of latency_s, the wait for a busy server (or its budget) before its turn


@dataclass(frozen=True)
class UnfinishedRun:
    """A run whose process died before it answered: its asker deserves an answer, or to be told."""

    id: int
    channel: ChannelKey
    thread: str
    trigger_message_id: str
    question: str = ""
    author: str = ""
    author_name: str = ""
    started_at: float = 0.0  # when the question was accepted
    surface: str | None = None  # the adapter's JSON handle of the status message, if one was posted


@dataclass(frozen=True)
class RunRecord:
    id: int
    channel: ChannelKey
    thread: str
    trigger_message_id: str
    answer_message_ids: tuple[str, ...]
    config_json: str
    status: RunStatus
    question: str
    answer: str | None
    error: str | None
    started_at: float
    finished_at: float | None
    total_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    proposers: tuple[ProposerRecord, ...]  # ordered by layer, then config order
    cached_tokens: int | None = None  # of prompt_tokens, served from the providers' prefix caches
    usage_estimated: bool = False  # some of its tokens were estimated from the text: a server reported none
    answer_model: str | None = None  # the model that wrote the answer (the fallback when the aggregator failed)

    @property
    def aggregator(self) -> str:
        """The model that wrote (or was to write) the answer: see `answer_writer`."""
        return answer_writer(self.config_json, self.answer_model)

    def layers(self) -> dict[int, list[ProposerRecord]]:
        grouped: dict[int, list[ProposerRecord]] = {}
        for rec in self.proposers:
            grouped.setdefault(rec.layer, []).append(rec)
        return grouped
