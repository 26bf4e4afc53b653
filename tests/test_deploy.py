"""The deploy files agree with the README and pyproject.toml (no Docker engine runs here to prove it)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Variables other parts of the deployment read that are not string literals in our code.
DOCUMENTED_ELSEWHERE = {"MOA_DATABASE_URL", "MOA_LIMITS", "MOA_QUORUM", "MOA_BUDGET_MEMBER_ANSWERS",
                        "MOA_BUDGET_CHANNEL_TOKENS", "DISCORD_SHARD_COUNT", "DISCORD_SHARD_IDS"}


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) per Dockerfile instruction, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _pip_install(command: str) -> list[str]:
    """The package arguments of a `pip install` command (options such as --no-cache-dir dropped)."""
    words = shlex.split(command)
    start = words.index("install") + 1
    return [w for w in words[start:] if w == "-e" or not w.startswith("-")]


def _readme_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]


def test_the_dockerfile_installs_and_runs_the_bot_as_the_readme_says() -> None:
    readme_run = next(c for c in _readme_commands() if c.endswith("moa-bot run"))
    readme_install, readme_start = (part.strip() for part in readme_run.split("&&"))
    instructions = _dockerfile()
    [install] = [args for kind, args in instructions if kind == "RUN" and "pip install" in args]

    assert _pip_install(install) == _pip_install(readme_install)
    [cmd] = [args for kind, args in instructions if kind == "CMD"]
    assert " ".join(json.loads(cmd)) == readme_start  # the exec form, e.g. ["moa-bot", "run"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["moa-bot"] == "bot.app.cli:main"


def test_the_container_runs_as_a_user_keeps_its_database_on_a_volume_and_checks_healthz() -> None:
    instructions = dict(_dockerfile()[::-1])  # the first of each kind wins; only USER/VOLUME/ENV/HEALTHCHECK read
    assert instructions["USER"] not in ("root", "0")
    env = dict(re.findall(r"(\w+)=(\S+)", instructions["ENV"]))
    volume = instructions["VOLUME"].strip()
    assert env["MOA_DB_PATH"].startswith(volume + "/")
    assert f"127.0.0.1:{env['MOA_STATUS_PORT']}/healthz" in instructions["HEALTHCHECK"]


def test_env_example_lists_every_variable_the_bot_reads() -> None:
    code = "\n".join(p.read_text() for pkg in ("bot", "adapters", "moa", "storage") for p in (ROOT / pkg).rglob("*.py"))
    read = set(re.findall(r'"((?:MOA|SLACK|DISCORD|GROQ)_[A-Z_]+)"', code)) - {"GROQ_KEYS_URL"}
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?((?:MOA|SLACK|DISCORD|GROQ)_[A-Z_]+)=", example, flags=re.M))
    missing = (read | DOCUMENTED_ELSEWHERE) - listed
    assert not missing, f"add these to .env.example, with a comment: {sorted(missing)}"


def test_the_license_is_mit() -> None:
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_version_is_the_packages() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    done = subprocess.run([sys.executable, "-m", "bot", "--version"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0
    assert done.stdout.strip() == f"moa-bot {version}"
