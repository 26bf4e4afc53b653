"""What `moa-bot run`, `ask` and `doctor` check before they start anything: tokens, ports, and the
providers and models of the config they will run (`provider_checks`, the one set all of them share).

Each problem is one sentence naming the setting and what to do; the runner prints them and exits 2.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from dataclasses import dataclass, field

from bot.checks.tokens import check_tokens
from bot.settings import Settings
from moa.calls.providers import MISSING_GROQ_KEY, ProviderRegistry
from moa.config.schema import MoaConfig
from moa.errors import ConfigError, ProviderError, ProviderUnreachable


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


async def model_checks(settings: Settings, *, refuse_unreachable: bool = False) -> ProviderCheck:
    """What is wrong (problems) or doubtful (warnings) about the providers and models `run` will use
    (`provider_checks`): MOA_CONFIG naming a model no provider serves now, or a key it needs missing, is a
    problem (found before any answer spends a call); a provider that cannot be reached is a problem with
    `refuse_unreachable` (the console: every question would fail), else a warning (a chat bot runs long;
    it may come back)."""
    try:
        registry = ProviderRegistry.from_env(settings.env, call_timeout_s=10, deadline_s=20)
    except ConfigError:
        return ProviderCheck()  # the CLI reports a bad MOA_PROVIDERS itself
    async with registry:
        if settings.default_config_path or refuse_unreachable:
            where = config_name(settings)
            fix = " Change the file or unset MOA_CONFIG." if settings.default_config_path else ""
            return await provider_checks(registry, settings.default_config, where,
                                         refuse_unreachable=refuse_unreachable, fix=fix)
        if registry.provider_names:
            with contextlib.suppress(ProviderError):
                await registry.live_models()
        return ProviderCheck(warnings=[str(why) for why in registry.listing_errors.values()])


def config_name(settings: Settings) -> str:
    """How sentences name the config a channel with no setup runs."""
    return f"MOA_CONFIG ({settings.default_config_path})" if settings.default_config_path else "The default preset"


async def unknown_models_sentence(registry: ProviderRegistry, config: MoaConfig, where: str) -> str | None:
    """A sentence when `config` uses models no provider serves now (checked before any call is spent)."""
    unknown = await registry.unknown_models(config.models())
    if not unknown:
        return None
    alternatives = await registry.alternatives(unknown[0])
    offer = f" Live models: {', '.join(alternatives)}." if alternatives else " `moa-bot models` lists the live ones."
    named = ", ".join(f"{model} ({', '.join(users_of(config, model))})" for model in unknown)
    return f"{where} uses {'a model' if len(unknown) == 1 else 'models'} not served now: {named}.{offer}"


def users_of(config: MoaConfig, model: str) -> list[str]:
    """Who in `config` uses `model`: "the aggregator" and the agents' names."""
    users = ["the aggregator"] if config.main_model == model else []
    return users + [name for name, agent in config.agents if agent.model_name == model]


@dataclass
class ProviderCheck:
    """What `provider_checks` found: problems stop a start; warnings and passed checks are told."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    unreachable: bool = False  # a problem is a provider no connection could be made to (not the config)

    @property
    def exit_code(self) -> int:
        """For checks that stopped a command: 1 when a provider cannot be reached (a failure, like a
        run's), else 2 (a setup that cannot work: a missing key, a model no provider serves)."""
        return 1 if self.unreachable else 2


async def provider_checks(registry: ProviderRegistry, config: MoaConfig, where: str, *,
                          refuse_unreachable: bool = True, fix: str = "") -> ProviderCheck:
    """The config's providers and models, checked before any answer spends a call: a key only where a
    provider needs one (Groq, when the config uses a Groq model), every provider it uses reachable
    (`refuse_unreachable`; else a warning: a long-running bot may see it come back), every model
    served. Providers the config does not use are only warned about. `fix` ends each sentence about the
    config itself (what to change where it came from)."""
    check = ProviderCheck()
    models = config.models()
    if registry.needs_groq_key(models):
        groq_models = [m for m in models if registry.is_groq(m)]
        check.problems.append(f"{where} uses Groq models ({', '.join(groq_models)}): {MISSING_GROQ_KEY}{fix}")
    live: list[str] = []
    with contextlib.suppress(ProviderError):
        live = await registry.live_models()
    used = {registry.provider_of(m) for m in models}
    down = False
    for name, why in registry.listing_errors.items():
        if name in used and isinstance(why, ProviderUnreachable) and refuse_unreachable:
            check.problems.append(str(why))
            check.unreachable = down = True
        else:
            check.warnings.append(str(why))
    if live:
        check.passed.append(f"providers reachable: {len(live)} live model{'' if len(live) == 1 else 's'}")
    if down or check.problems:  # the models of an unreachable provider, or of Groq without a key, can't be told
        return check
    problem = await unknown_models_sentence(registry, config, where)
    if problem is not None:
        check.problems.append(problem + fix)
    elif live:
        check.passed.append(f"{where}: models alive: {', '.join(models)}")
    return check


async def startup_checks(settings: Settings) -> tuple[list[str], list[str]]:
    """(problems, warnings) as sentences: any problem means the bot should not start; warnings are
    logged (e.g. Groq unreachable right now)."""
    problems = [f.text for f in await check_tokens(settings) if not f.ok]
    for variable, host, port in listening_ports(settings):
        if (problem := port_problem(variable, host, port)) is not None:
            problems.append(problem)
    if problems:
        return problems, []
    check = await model_checks(settings)
    return check.problems, check.warnings
