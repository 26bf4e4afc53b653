"""Settings from the process environment and a `.env` file, read once into one typed model; the variable
names are the operator interface, and a bad value stops the start with a sentence naming the variable."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.conversation.attachments import FileLimits
from moa.config.schema import Limits, MoaConfig, default_config, load_config_file
from moa.config.variables import bounded, number
from moa.errors import ConfigError
from moa.pace.limits import parse_limits

N = TypeVar("N", int, float)


class DefaultConfigUnreadable(ConfigError):
    """MOA_CONFIG names a file that cannot be read or is not a valid config (`doctor` and `models` go on
    without it; every other command stops)."""


def _variable(info: ValidationInfo) -> str:
    """The environment variable a field is read from (its alias), for sentences."""
    return cast(str, Settings.model_fields[cast(str, info.field_name)].validation_alias)


def _numeric(parse: Callable[[str], N], kind: str, low: N, high: N | None = None) -> BeforeValidator:
    rule, valid = bounded(kind, low, high)

    def read(raw: object, info: ValidationInfo) -> object:
        if not isinstance(raw, str):  # the default
            return raw
        return number(_variable(info), raw, parse, rule, valid)

    return BeforeValidator(read)


def _names(raw: object) -> object:
    """A comma-separated list, blanks dropped."""
    return frozenset(n.strip() for n in raw.split(",") if n.strip()) if isinstance(raw, str) else raw


def _flag(raw: object) -> object:
    return raw.lower() in ("1", "true", "yes", "on") if isinstance(raw, str) else raw


# Variables hold text; these read it as the field's type, with the one sentence for a bad value.
Port = Annotated[int, _numeric(int, "a whole number", 0, 65535)]
Positive = Annotated[int, _numeric(int, "a whole number", 1)]
Count = Annotated[int, _numeric(int, "a whole number", 0)]
Seconds = Annotated[float, _numeric(float, "a number of seconds", 0.1)]
Names = Annotated[frozenset[str], BeforeValidator(_names)]
Flag = Annotated[bool, BeforeValidator(_flag)]


def _var(name: str, default: Any) -> Any:
    return Field(default, validation_alias=name)


class Settings(BaseSettings):
    """Everything the bot reads from its environment. `Settings.load()` reads the environment and `.env`
    once; everything else is handed these settings (or `env`, the variables as read, where a library or a
    provider's key has a name only known at run time)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=True,
                                      arbitrary_types_allowed=True)

    groq_api_key: str = _var("GROQ_API_KEY", "")
    discord_token: str = _var("DISCORD_TOKEN", "")
    discord_api_base: str = _var("DISCORD_API_BASE", "https://discord.com/api/v10")
    discord_gateway_url: str = _var("DISCORD_GATEWAY_URL", "")
    discord_guild_id: str = _var("DISCORD_GUILD_ID", "")
    discord_message_content: Flag = _var("DISCORD_MESSAGE_CONTENT", False)
    discord_shard_count: Positive | None = _var("DISCORD_SHARD_COUNT", None)  # None: one plain connection
    discord_shard_ids: tuple[int, ...] | None = _var("DISCORD_SHARD_IDS", None)  # None: every shard of the count
    slack_bot_token: str = _var("SLACK_BOT_TOKEN", "")
    slack_app_token: str = _var("SLACK_APP_TOKEN", "")
    slack_signing_secret: str = _var("SLACK_SIGNING_SECRET", "")
    slack_port: Port = _var("SLACK_PORT", 3000)
    slack_host: str = _var("SLACK_HOST", "0.0.0.0")
    # A request's headers, then its body, must arrive within this.
    slack_arrival_timeout_s: Seconds = _var("SLACK_ARRIVAL_TIMEOUT", 5.0)
    slack_api_url: str = _var("SLACK_API_URL", "https://slack.com/api/")
    slack_admin_users: Names = _var("SLACK_ADMIN_USERS", frozenset())
    status_port: Port = _var("MOA_STATUS_PORT", 0)  # /healthz and /metrics where there is no Slack HTTP port
    db_path: str = _var("MOA_DB_PATH", "moa-bot.db")
    database_url: str = _var("MOA_DATABASE_URL", "")  # postgresql://…: PostgreSQL instead of the SQLite file
    lease_heartbeat_s: Seconds = _var("MOA_LEASE_HEARTBEAT", 10.0)  # how often this process says it is alive
    # A process silent this long is gone: its answers are taken over.
    lease_expiry_s: Seconds = Field(30.0, validation_alias="MOA_LEASE_EXPIRY", validate_default=True)
    history_days: Positive = _var("MOA_HISTORY_DAYS", 30)
    history_token_budget: Count = _var("MOA_HISTORY_TOKENS", 2000)  # every agent gets the history
    max_question_chars: Positive = _var("MOA_MAX_QUESTION_CHARS", 4000)
    max_layers: Positive = _var("MOA_MAX_LAYERS", Limits.max_layers)
    max_agents: Positive = _var("MOA_MAX_AGENTS", Limits.max_agents)
    max_calls: Positive = _var("MOA_MAX_CALLS", Limits.max_calls)
    # A ceiling: beyond one, answers start only while their models have room.
    max_concurrent_runs: Positive = _var("MOA_MAX_CONCURRENT", 16)
    max_concurrent_per_channel: Positive = _var("MOA_MAX_CONCURRENT_PER_CHANNEL", 1)
    max_queue: Count = _var("MOA_MAX_QUEUE", 1000)  # a burst waits its turn (and sees its place)
    providers: str = _var("MOA_PROVIDERS", "")  # OpenAI-compatible providers, read by moa/calls/providers.py
    rate_limits: str = _var("MOA_LIMITS", "")  # checked here, so a typo stops the start
    quorum: Count = _var("MOA_QUORUM", 0)  # answers a layer needs before it may leave stragglers out; 0 = all but one
    call_timeout_s: Seconds = _var("MOA_CALL_TIMEOUT", 60.0)
    run_deadline_s: Seconds = _var("MOA_RUN_DEADLINE", 300.0)
    shutdown_grace_s: Annotated[float, _numeric(float, "a number of seconds", 0.0)] = _var("MOA_SHUTDOWN_GRACE",
                                                                                            20.0)
    default_config_path: str = _var("MOA_CONFIG", "")
    budget_member_answers: Count = _var("MOA_BUDGET_MEMBER_ANSWERS", 0)  # per member per channel per day; 0 = none
    budget_channel_tokens: Count = _var("MOA_BUDGET_CHANNEL_TOKENS", 0)  # per channel per UTC day; 0 = none
    # What a channel with no setup of its own (nor a workspace default) uses: MOA_CONFIG's file, else
    # the built-in preset — e.g. an Ollama-only deployment has no Groq models to fall back to.
    default_config: MoaConfig = Field(default_factory=default_config, validate_default=True)
    file_max_bytes: Count = _var("MOA_FILE_MAX_BYTES", FileLimits.max_bytes)
    file_max_count: Count = _var("MOA_FILE_MAX_COUNT", FileLimits.max_count)
    file_max_tokens: Count = _var("MOA_FILE_MAX_TOKENS", FileLimits.max_tokens)
    vision_models: Names = _var("MOA_VISION_MODELS", frozenset())
    # How long a mention's files may take: all downloads together, then parsing one PDF (its worker is stopped).
    file_download_timeout_s: Seconds = _var("MOA_FILE_DOWNLOAD_TIMEOUT", FileLimits.download_budget_s)
    file_read_timeout_s: Seconds = _var("MOA_FILE_READ_TIMEOUT", FileLimits.read_budget_s)
    # Under Slack's 2-minute expiry of an assistant status.
    assistant_status_refresh_s: Annotated[float, _numeric(float, "a number of seconds", 0.1, 119.0)] = _var(
        "MOA_ASSISTANT_STATUS_REFRESH", 90.0)
    env: dict[str, str] = Field(default_factory=dict, repr=False)  # every variable as read

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # `load` reads the environment and .env once and hands them in as `env`

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, dotenv: str | Path | None = ".env",
             ignore: Collection[str] = ()) -> Settings:
        """Read settings; real environment variables win over the `.env` file. With `env`, only those
        variables are read. Variables in `ignore` are read as unset (doctor: the rest of a setup whose
        MOA_CONFIG cannot be read)."""
        variables: dict[str, str] = {}
        if env is None:
            if dotenv is not None and Path(dotenv).is_file():
                read = DotEnvSettingsSource(cls, env_file=dotenv, case_sensitive=True).env_vars
                variables.update({k: v for k, v in read.items() if v is not None})
            variables.update({k: v for k, v in EnvSettingsSource(cls, case_sensitive=True).env_vars.items()
                              if v is not None})
        else:
            variables.update(env)
        for name in ignore:
            variables.pop(name, None)
        return cls(env=variables)

    @model_validator(mode="before")
    @classmethod
    def _from_variables(cls, data: Any) -> Any:
        """Each field from its variable; a blank variable is an unset one."""
        env = dict(data.get("env", {})) if isinstance(data, dict) else {}
        return {**{k: v.strip() for k, v in env.items() if v.strip()}, "env": env}

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, raw: object, info: ValidationInfo) -> object:
        """Which shards of DISCORD_SHARD_COUNT this process runs (several processes split a bot's guilds)."""
        if not isinstance(raw, str):
            return raw
        count = info.data.get("discord_shard_count")
        if count is None:
            raise ConfigError(f"DISCORD_SHARD_IDS={raw} needs DISCORD_SHARD_COUNT too: the total number of "
                              "shards across all processes, e.g. DISCORD_SHARD_COUNT=2 DISCORD_SHARD_IDS=0.")
        wanted = f"comma-separated shard numbers from 0 to {count - 1} (DISCORD_SHARD_COUNT={count})"
        try:
            ids = tuple(int(part) for part in raw.split(","))
        except ValueError:
            raise ConfigError(f"DISCORD_SHARD_IDS must be {wanted}, not {raw!r}.") from None
        if any(not 0 <= i < count for i in ids) or len(set(ids)) != len(ids):
            raise ConfigError(f"DISCORD_SHARD_IDS must be {wanted}, each once, not {raw!r}.")
        return ids

    @field_validator("database_url")
    @classmethod
    def _postgresql(cls, url: str) -> str:
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("MOA_DATABASE_URL must be a PostgreSQL URL like postgresql://user:password@host:5432/moa "
                              "(leave it empty to use the SQLite file MOA_DB_PATH).")
        return url

    @field_validator("lease_expiry_s")
    @classmethod
    def _longer_than_heartbeat(cls, expiry: float, info: ValidationInfo) -> float:
        """A replica silent for MOA_LEASE_EXPIRY is gone: longer than MOA_LEASE_HEARTBEAT, or live
        processes would look gone between heartbeats."""
        heartbeat = info.data.get("lease_heartbeat_s", 10.0)
        if expiry <= heartbeat:
            raise ConfigError(f"MOA_LEASE_EXPIRY ({expiry:g} s) must be longer than MOA_LEASE_HEARTBEAT "
                              f"({heartbeat:g} s), or live processes would look gone between heartbeats.")
        return expiry

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits(cls, raw: str) -> str:
        parse_limits(raw)
        return raw

    @field_validator("default_config", mode="before")
    @classmethod
    def _default_config(cls, value: object, info: ValidationInfo) -> object:
        path = info.data.get("default_config_path", "")
        if not path:
            return value
        limits = Limits(max_layers=info.data["max_layers"], max_agents=info.data["max_agents"],
                        max_calls=info.data["max_calls"])
        try:
            return load_config_file(path, limits=limits)
        except ConfigError as err:
            raise DefaultConfigUnreadable(f"MOA_CONFIG: {err}") from None

    @property
    def limits(self) -> Limits:
        """MOA_MAX_LAYERS, MOA_MAX_AGENTS and MOA_MAX_CALLS."""
        return Limits(max_layers=self.max_layers, max_agents=self.max_agents, max_calls=self.max_calls)

    @property
    def file_limits(self) -> FileLimits:
        """MOA_FILE_* and MOA_VISION_MODELS: how much of people's files is read."""
        return FileLimits(max_bytes=self.file_max_bytes, max_count=self.file_max_count,
                          max_tokens=self.file_max_tokens, vision_models=self.vision_models,
                          download_budget_s=self.file_download_timeout_s, read_budget_s=self.file_read_timeout_s)

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
