"""What `moa-bot run` checks before it starts anything: tokens, ports, and MOA_CONFIG's models.

Each problem is one sentence naming the setting and what to do; the runner prints them and exits 2.
"""

from __future__ import annotations

import contextlib
import errno
import socket

from bot.checks.tokens import check_tokens
from bot.settings import Settings
from moa.config import MoaConfig
from moa.errors import ConfigError, ProviderError
from moa.providers import ProviderRegistry


def port_problem(variable: str, host: str, port: int) -> str | None:
    """A sentence when `host:port` cannot be listened on (in use, or not allowed); None when it can."""
    if port == 0:
        return None
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as err:
        return port_error_sentence(variable, host, port, err)
    return None


def port_error_sentence(variable: str, host: str, port: int, err: OSError) -> str:
    """The sentence for a failed bind of `variable`'s port."""
    if err.errno == errno.EADDRINUSE:
        return (f"{variable} {port} is already in use on {host} (another moa-bot or another server): stop "
                f"that process or set {variable} to a free port.")
    if err.errno == errno.EACCES:
        return f"{variable} {port} needs privileges on {host}: use a port above 1023."
    return f"Cannot listen on {host}:{port} ({variable}): {err.strerror or err}."


def listening_ports(settings: Settings) -> list[tuple[str, str, int]]:
    """(variable, host, port) of every port this process will listen on."""
    ports = []
    if settings.slack_enabled and not settings.slack_app_token:
        ports.append(("SLACK_PORT", settings.slack_host, settings.slack_port))
    if settings.status_port:
        ports.append(("MOA_STATUS_PORT", settings.slack_host, settings.status_port))
    return ports


async def model_checks(settings: Settings) -> tuple[list[str], list[str]]:
    """(problems, warnings) about models: MOA_CONFIG naming a model no provider serves now is a problem
    (found before any answer spends a call); a provider that cannot be listed is a warning (it may come
    back; answers will say so meanwhile)."""
    try:
        registry = ProviderRegistry.from_env(settings.env, call_timeout_s=10, deadline_s=20)
    except ConfigError:
        return [], []  # the CLI reports a bad MOA_PROVIDERS itself
    problems = []
    async with registry:
        if settings.default_config_path:
            problem = await unknown_models_sentence(registry, settings.default_config,
                                                    f"MOA_CONFIG ({settings.default_config_path})")
            if problem is not None:
                problems.append(f"{problem} Change the file or unset MOA_CONFIG.")
        elif registry.provider_names:
            with contextlib.suppress(ProviderError):
                await registry.live_models()
        warnings = list(registry.listing_errors.values())
    return problems, warnings


async def unknown_models_sentence(registry: ProviderRegistry, config: MoaConfig, where: str) -> str | None:
    """A sentence when `config` uses models no provider serves now (checked before any call is spent)."""
    unknown = await registry.unknown_models(config.models())
    if not unknown:
        return None
    alternatives = await registry.alternatives(unknown[0])
    offer = f" Live models: {', '.join(alternatives)}." if alternatives else " `moa-bot models` lists the live ones."
    aggregator = " (the aggregator)" if unknown == [config.main_model] else ""
    return (f"{where} uses {'a model' if len(unknown) == 1 else 'models'} not served now: "
            f"{', '.join(unknown)}{aggregator}.{offer}")


async def startup_checks(settings: Settings) -> tuple[list[str], list[str]]:
    """(problems, warnings) as sentences: any problem means the bot should not start; warnings are
    logged (e.g. Groq unreachable right now)."""
    problems = [f.text for f in await check_tokens(settings) if not f.ok]
    for variable, host, port in listening_ports(settings):
        if (problem := port_problem(variable, host, port)) is not None:
            problems.append(problem)
    if problems:
        return problems, []
    return await model_checks(settings)
