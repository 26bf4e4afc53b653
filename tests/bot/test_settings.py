"""Settings: the environment and a .env file, the environment winning; bad numbers named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.settings import DefaultConfigUnreadable, Settings
from moa.errors import ConfigError


def test_env_file_fills_in_and_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("GROQ_API_KEY=gsk_from_file\nSLACK_PORT=4000\nMOA_DB_PATH=file.db\n")
    monkeypatch.setenv("MOA_DB_PATH", "env.db")
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    monkeypatch.delenv("SLACK_PORT", raising=False)

    settings = Settings.load(dotenv=dotenv)

    assert settings.groq_api_key == "gsk_from_file"
    assert settings.slack_port == 4000
    assert settings.db_path == "env.db"


def test_defaults_match_the_operator_interface() -> None:
    settings = Settings.load(env={})
    assert settings.db_path == "moa-bot.db"
    assert settings.slack_port == 3000
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.discord_api_base == "https://discord.com/api/v10"
    assert settings.history_days == 30
    assert not settings.slack_enabled and not settings.discord_enabled


def test_a_bad_number_names_the_variable_and_what_would_work() -> None:
    with pytest.raises(ConfigError, match="SLACK_PORT must be a whole number from 0 to 65535, not 'abc'"):
        Settings.load(env={"SLACK_PORT": "abc"})


def test_zero_concurrency_is_refused_rather_than_never_answering() -> None:
    with pytest.raises(ConfigError, match="MOA_MAX_CONCURRENT must be a whole number 1 or more, not '0'"):
        Settings.load(env={"MOA_MAX_CONCURRENT": "0"})
    with pytest.raises(ConfigError, match=re.escape("MOA_CALL_TIMEOUT must be a number of seconds 0.1 or more")):
        Settings.load(env={"MOA_CALL_TIMEOUT": "-1"})


def test_the_status_port_is_off_by_default_and_checked() -> None:
    assert Settings.load(env={}).status_port == 0
    assert Settings.load(env={"MOA_STATUS_PORT": "8080"}).status_port == 8080
    with pytest.raises(ConfigError, match="MOA_STATUS_PORT must be a whole number from 0 to 65535, not '80800'"):
        Settings.load(env={"MOA_STATUS_PORT": "80800"})


def test_admin_allow_list_is_comma_separated() -> None:
    settings = Settings.load(env={"SLACK_ADMIN_USERS": "U1, U2,,U3 "})
    assert settings.slack_admin_users == frozenset({"U1", "U2", "U3"})


def test_moa_config_file_becomes_the_default_for_channels_without_a_setup(tmp_path: Path) -> None:
    local = tmp_path / "local.json"
    local.write_text('{"main_model": "ollama:llama3.1:8b", "cycles": 1, "layer_agent_config": '
                     '{"a": {"model_name": "ollama:qwen3:4b"}}}')
    settings = Settings.load(env={"MOA_CONFIG": str(local)})
    assert settings.default_config.main_model == "ollama:llama3.1:8b"
    assert settings.default_config.layers == 1


def test_an_unreadable_or_invalid_moa_config_is_named_at_start(tmp_path: Path) -> None:
    # Its own type: `doctor` and `models` go on without MOA_CONFIG, every other command stops.
    with pytest.raises(DefaultConfigUnreadable, match="MOA_CONFIG: Cannot read the config file"):
        Settings.load(env={"MOA_CONFIG": str(tmp_path / "missing.json")})
    broken = tmp_path / "broken.json"
    broken.write_text('{"cycles": 9, "layer_agent_config": {"a": {"model_name": "x"}}}')
    with pytest.raises(ConfigError, match="cycles is 9, but at most 4 layers are allowed"):
        Settings.load(env={"MOA_CONFIG": str(broken)})


def test_other_bad_settings_are_not_taken_for_an_unreadable_moa_config() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(env={"MOA_QUORUM": "-1"})
    assert not isinstance(caught.value, DefaultConfigUnreadable)


def test_database_url_selects_postgresql_over_the_sqlite_file() -> None:
    url = "postgresql://moa:secret@db.internal:5432/moa"

    assert Settings.load(env={"MOA_DATABASE_URL": url, "MOA_DB_PATH": "x.db"}).database == url
    assert Settings.load(env={"MOA_DB_PATH": "x.db"}).database == "x.db"


def test_a_database_url_that_is_not_postgresql_is_refused_with_an_example() -> None:
    with pytest.raises(ConfigError, match="MOA_DATABASE_URL must be a PostgreSQL URL like postgresql://"):
        Settings.load(env={"MOA_DATABASE_URL": "mysql://db/moa"})


def test_discord_shards_are_off_by_default_a_count_alone_runs_all_and_ids_pick_some() -> None:
    assert (Settings.load(env={}).discord_shard_count, Settings.load(env={}).discord_shard_ids) == (None, None)
    alone = Settings.load(env={"DISCORD_SHARD_COUNT": "4"})
    assert (alone.discord_shard_count, alone.discord_shard_ids) == (4, None)
    some = Settings.load(env={"DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "2, 3"})
    assert (some.discord_shard_count, some.discord_shard_ids) == (4, (2, 3))


@pytest.mark.parametrize(("env", "sentence"), [
    ({"DISCORD_SHARD_IDS": "0"}, "DISCORD_SHARD_IDS=0 needs DISCORD_SHARD_COUNT too"),
    ({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "1,2"},
     "DISCORD_SHARD_IDS must be comma-separated shard numbers from 0 to 1 (DISCORD_SHARD_COUNT=2), each once, "
     "not '1,2'."),
    ({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "0,0"}, "each once, not '0,0'."),
    ({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "-1"}, "from 0 to 1"),
    ({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "one"}, "(DISCORD_SHARD_COUNT=2), not 'one'."),
    ({"DISCORD_SHARD_COUNT": "two"}, "DISCORD_SHARD_COUNT must be a whole number 1 or more, not 'two'."),
])
def test_bad_discord_shard_settings_say_what_would_work(env: dict[str, str], sentence: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(sentence)):
        Settings.load(env=env)


def test_deployment_budgets_default_to_none_and_refuse_negative_numbers() -> None:
    assert (Settings.load(env={}).budget_member_answers, Settings.load(env={}).budget_channel_tokens) == (0, 0)
    settings = Settings.load(env={"MOA_BUDGET_MEMBER_ANSWERS": "20", "MOA_BUDGET_CHANNEL_TOKENS": "200000"})
    assert (settings.budget_member_answers, settings.budget_channel_tokens) == (20, 200_000)
    with pytest.raises(ConfigError, match="MOA_BUDGET_CHANNEL_TOKENS must be a whole number 0 or more"):
        Settings.load(env={"MOA_BUDGET_CHANNEL_TOKENS": "-5"})


def test_leases_default_to_a_10_s_heartbeat_and_30_s_expiry_and_expiry_must_be_longer() -> None:
    settings = Settings.load(env={})
    assert (settings.lease_heartbeat_s, settings.lease_expiry_s) == (10.0, 30.0)

    with pytest.raises(ConfigError, match=r"MOA_LEASE_EXPIRY \(15 s\) must be longer than MOA_LEASE_HEARTBEAT"):
        Settings.load(env={"MOA_LEASE_HEARTBEAT": "20", "MOA_LEASE_EXPIRY": "15"})


def test_file_limits_and_the_assistant_refresh_are_read_and_checked() -> None:
    settings = Settings.load(env={"MOA_FILE_MAX_BYTES": "1000", "MOA_FILE_MAX_COUNT": "0",
                                  "MOA_VISION_MODELS": "local:llava, local:qwen-vl"})
    assert (settings.file_limits.max_bytes, settings.file_limits.max_count) == (1000, 0)
    assert settings.file_limits.vision_models == {"local:llava", "local:qwen-vl"}
    with pytest.raises(ConfigError, match="MOA_FILE_MAX_TOKENS must be a whole number 0 or more, not '2k'"):
        Settings.load(env={"MOA_FILE_MAX_TOKENS": "2k"})
    refresh = re.escape("MOA_ASSISTANT_STATUS_REFRESH must be a number of seconds from 0.1 to 119")
    with pytest.raises(ConfigError, match=refresh):
        Settings.load(env={"MOA_ASSISTANT_STATUS_REFRESH": "300"})


def test_the_file_reading_budgets_default_to_10_and_20_s_and_are_checked() -> None:
    default = Settings.load(env={}).file_limits
    assert (default.download_budget_s, default.read_budget_s) == (10.0, 20.0)
    set_ = Settings.load(env={"MOA_FILE_DOWNLOAD_TIMEOUT": "4", "MOA_FILE_READ_TIMEOUT": "2.5",
                              "MOA_FILE_MAX_COUNT": "3"}).file_limits
    assert (set_.download_budget_s, set_.read_budget_s, set_.max_count) == (4.0, 2.5, 3)
    sentence = re.escape("MOA_FILE_READ_TIMEOUT must be a number of seconds 0.1 or more, not '0'")
    with pytest.raises(ConfigError, match=sentence):
        Settings.load(env={"MOA_FILE_READ_TIMEOUT": "0"})
