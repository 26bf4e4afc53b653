"""Settings from the process environment and a `.env` file; the names are the operator interface."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from dotenv import dotenv_values

from bot.conversation.attachments import FileLimits
from moa.config.schema import Limits, MoaConfig, default_config, load_config_file
from moa.errors import ConfigError
from moa.pace.limits import parse_limits

N = TypeVar("N", int, float)


def _number(env: Mapping[str, str], name: str, default: N, parse: Callable[[str], N], kind: str,
            low: N, high: N | None) -> N:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {kind} {bounds}, not {raw!r}.") from None
    if value < low or (high is not None and value > high):
        raise ConfigError(f"{name} must be {kind} {bounds}, not {raw!r}.")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int = 1, high: int | None = None) -> int:
    return _number(env, name, default, int, "a whole number", low, high)


def _float(env: Mapping[str, str], name: str, default: float, low: float = 0.1) -> float:
    return _number(env, name, default, float, "a number of seconds", low, None)


def _leases(env: Mapping[str, str]) -> tuple[float, float]:
    """MOA_LEASE_HEARTBEAT and MOA_LEASE_EXPIRY in seconds: how often a process says it is alive, and how
    long a silent one counts as alive (a database shared by replicas)."""
    heartbeat = _float(env, "MOA_LEASE_HEARTBEAT", 10.0)
    expiry = _float(env, "MOA_LEASE_EXPIRY", 30.0)
    if expiry <= heartbeat:
        raise ConfigError(f"MOA_LEASE_EXPIRY ({expiry:g} s) must be longer than MOA_LEASE_HEARTBEAT "
                          f"({heartbeat:g} s), or live processes would look gone between heartbeats.")
    return heartbeat, expiry


def _file_limits(env: Mapping[str, str]) -> FileLimits:
    """MOA_FILE_* and MOA_VISION_MODELS; the two budgets bound how long a mention's files may take."""
    return replace(FileLimits.from_env(env),
                   download_budget_s=_float(env, "MOA_FILE_DOWNLOAD_TIMEOUT", FileLimits.download_budget_s),
                   read_budget_s=_float(env, "MOA_FILE_READ_TIMEOUT", FileLimits.read_budget_s))


def _database_url(env: Mapping[str, str]) -> str:
    url = env.get("MOA_DATABASE_URL", "").strip()
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("MOA_DATABASE_URL must be a PostgreSQL URL like postgresql://user:password@host:5432/moa "
                          "(leave it empty to use the SQLite file MOA_DB_PATH).")
    return url


def _default_config(path: str, limits: Limits) -> MoaConfig:
    if not path:
        return default_config()
    try:
        return load_config_file(path, limits=limits)
    except ConfigError as err:
        raise ConfigError(f"MOA_CONFIG: {err}") from None


def _discord_shards(env: Mapping[str, str]) -> tuple[int | None, tuple[int, ...] | None]:
    """DISCORD_SHARD_COUNT and DISCORD_SHARD_IDS: (None, None) for one plain connection; a count alone runs
    every shard of it; ids say which of them this process runs (several processes split a bot's guilds)."""
    count = _int(env, "DISCORD_SHARD_COUNT", 0) or None
    raw = env.get("DISCORD_SHARD_IDS", "").strip()
    if not raw:
        return count, None
    if count is None:
        raise ConfigError(f"DISCORD_SHARD_IDS={raw} needs DISCORD_SHARD_COUNT too: the total number of shards "
                          "across all processes, e.g. DISCORD_SHARD_COUNT=2 DISCORD_SHARD_IDS=0.")
    wanted = f"comma-separated shard numbers from 0 to {count - 1} (DISCORD_SHARD_COUNT={count})"
    try:
        ids = tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"DISCORD_SHARD_IDS must be {wanted}, not {raw!r}.") from None
    if any(not 0 <= i < count for i in ids) or len(set(ids)) != len(ids):
        raise ConfigError(f"DISCORD_SHARD_IDS must be {wanted}, each once, not {raw!r}.")
    return count, ids


def _quorum(env: Mapping[str, str]) -> int:
    """MOA_QUORUM as a number (0: all but one); MOA_LIMITS is checked here too, so a typo stops the start."""
    parse_limits(env.get("MOA_LIMITS", ""))
    return _int(env, "MOA_QUORUM", 0, low=0)


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    groq_api_key: str = ""
    discord_token: str = ""
    discord_api_base: str = "https://discord.com/api/v10"
    discord_gateway_url: str = ""
    discord_guild_id: str = ""
    discord_message_content: bool = False
    discord_shard_count: int | None = None  # None: one plain gateway connection
    discord_shard_ids: tuple[int, ...] | None = None  # None: every shard of the count
    slack_bot_token: str = ""
    slack_app_token: str = ""
    slack_signing_secret: str = ""
    slack_port: int = 3000
    slack_host: str = "0.0.0.0"
    slack_arrival_timeout_s: float = 5.0  # SLACK_ARRIVAL_TIMEOUT: a request's headers, then body, within this
    slack_api_url: str = "https://slack.com/api/"
    slack_admin_users: frozenset[str] = field(default_factory=frozenset)
    status_port: int = 0  # /healthz and /metrics where there is no Slack HTTP port; 0 = off
    db_path: str = "moa-bot.db"
    database_url: str = ""  # MOA_DATABASE_URL=postgresql://…: PostgreSQL instead of the SQLite file
    lease_heartbeat_s: float = 10.0  # how often this process says it is alive (a shared database)
    lease_expiry_s: float = 30.0  # a process silent this long is gone: its answers are taken over
    history_days: int = 30
    history_token_budget: int = 2000  # every agent gets the history: 10 calls × this per answer
    max_question_chars: int = 4000
    limits: Limits = field(default_factory=Limits)
    max_concurrent_runs: int = 16  # a ceiling: beyond one, answers start only while their models have room
    max_concurrent_per_channel: int = 1
    max_queue: int = 1000  # a burst waits its turn (and sees its place) rather than being refused
    quorum: int = 0  # MOA_QUORUM: answers a layer needs before it may leave stragglers out; 0 = all but one
    call_timeout_s: float = 60.0
    run_deadline_s: float = 300.0
    shutdown_grace_s: float = 20.0
    default_config_path: str = ""
    budget_member_answers: int = 0  # answers per member per channel per UTC day; 0 = none
    budget_channel_tokens: int = 0  # tokens per channel per UTC day; 0 = none
    # What a channel with no setup of its own (nor a workspace default) uses: MOA_CONFIG's file, else
    # the built-in preset — e.g. an Ollama-only deployment has no Groq models to fall back to.
    default_config: MoaConfig = field(default_factory=default_config)
    file_limits: FileLimits = field(default_factory=FileLimits)  # MOA_FILE_*, MOA_VISION_MODELS
    assistant_status_refresh_s: float = 90.0  # MOA_ASSISTANT_STATUS_REFRESH: under Slack's 2-minute expiry
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, dotenv: str | Path | None = ".env",
             ignore: Collection[str] = ()) -> Settings:
        """Read settings; real environment variables win over the `.env` file. Variables in `ignore` are
        read as unset (doctor: the rest of a setup whose MOA_CONFIG cannot be read)."""
        merged: dict[str, str] = {}
        if env is None:
            if dotenv is not None and Path(dotenv).is_file():
                merged.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
            merged.update(os.environ)
        else:
            merged.update(env)
        for name in ignore:
            merged.pop(name, None)
        e = merged
        limits = Limits(
            max_layers=_int(e, "MOA_MAX_LAYERS", Limits.max_layers),
            max_agents=_int(e, "MOA_MAX_AGENTS", Limits.max_agents),
            max_calls=_int(e, "MOA_MAX_CALLS", Limits.max_calls),
        )
        config_path = e.get("MOA_CONFIG", "").strip()
        shard_count, shard_ids = _discord_shards(e)
        heartbeat, expiry = _leases(e)
        admins = frozenset(u.strip() for u in e.get("SLACK_ADMIN_USERS", "").split(",") if u.strip())
        return cls(
            groq_api_key=e.get("GROQ_API_KEY", "").strip(),
            discord_token=e.get("DISCORD_TOKEN", "").strip(),
            discord_api_base=e.get("DISCORD_API_BASE", "").strip() or cls.discord_api_base,
            discord_gateway_url=e.get("DISCORD_GATEWAY_URL", "").strip(),
            discord_guild_id=e.get("DISCORD_GUILD_ID", "").strip(),
            discord_message_content=_flag(e, "DISCORD_MESSAGE_CONTENT"),
            discord_shard_count=shard_count,
            discord_shard_ids=shard_ids,
            slack_bot_token=e.get("SLACK_BOT_TOKEN", "").strip(),
            slack_app_token=e.get("SLACK_APP_TOKEN", "").strip(),
            slack_signing_secret=e.get("SLACK_SIGNING_SECRET", "").strip(),
            slack_port=_int(e, "SLACK_PORT", 3000, low=0, high=65535),
            slack_host=e.get("SLACK_HOST", "").strip() or cls.slack_host,
            slack_arrival_timeout_s=_float(e, "SLACK_ARRIVAL_TIMEOUT", cls.slack_arrival_timeout_s),
            slack_api_url=e.get("SLACK_API_URL", "").strip() or cls.slack_api_url,
            slack_admin_users=admins,
            status_port=_int(e, "MOA_STATUS_PORT", 0, low=0, high=65535),
            db_path=e.get("MOA_DB_PATH", "").strip() or cls.db_path,
            database_url=_database_url(e),
            lease_heartbeat_s=heartbeat,
            lease_expiry_s=expiry,
            history_days=_int(e, "MOA_HISTORY_DAYS", 30),
            history_token_budget=_int(e, "MOA_HISTORY_TOKENS", 2000, low=0),
            max_question_chars=_int(e, "MOA_MAX_QUESTION_CHARS", 4000),
            limits=limits,
            max_concurrent_runs=_int(e, "MOA_MAX_CONCURRENT", 16),
            max_concurrent_per_channel=_int(e, "MOA_MAX_CONCURRENT_PER_CHANNEL", 1),
            max_queue=_int(e, "MOA_MAX_QUEUE", 1000, low=0),
            quorum=_quorum(e),
            call_timeout_s=_float(e, "MOA_CALL_TIMEOUT", 60.0),
            run_deadline_s=_float(e, "MOA_RUN_DEADLINE", 300.0),
            shutdown_grace_s=_float(e, "MOA_SHUTDOWN_GRACE", 20.0, low=0.0),
            default_config_path=config_path,
            budget_member_answers=_int(e, "MOA_BUDGET_MEMBER_ANSWERS", 0, low=0),
            budget_channel_tokens=_int(e, "MOA_BUDGET_CHANNEL_TOKENS", 0, low=0),
            default_config=_default_config(config_path, limits),
            file_limits=_file_limits(e),
            assistant_status_refresh_s=_number(e, "MOA_ASSISTANT_STATUS_REFRESH", 90.0, float,
                                               "a number of seconds", 0.1, 119.0),
            env=dict(e),
        )

    @property
    def database(self) -> str:
        """What Database.open is given: MOA_DATABASE_URL when set, else the SQLite file MOA_DB_PATH."""
        return self.database_url or self.db_path

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token)

    @property
    def discord_enabled(self) -> bool:
        return bool(self.discord_token)
