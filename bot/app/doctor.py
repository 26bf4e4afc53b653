"""`moa-bot doctor`: what is configured, what is missing, and whether Groq and the models answer."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from adapters.platforms import PLATFORMS
from bot.checks.preflight import config_name, listening_ports, port_problem, provider_checks
from bot.checks.tokens import Finding, misplaced_tokens
from bot.observe.traces import doctor_lines as trace_lines
from bot.settings import Settings
from bot.text.redact import Redactor
from bot.text.render import plural
from moa.calls.providers import ProviderRegistry
from moa.errors import ConfigError, ProviderError


def _storage_check(db: Path) -> tuple[bool, str]:
    path = db.resolve()
    if not path.parent.is_dir():
        return False, f"the folder for MOA_DB_PATH does not exist: {path.parent}"
    return True, f"database: {path} ({'exists' if path.exists() else 'will be created'})"


async def postgres_check(url: str) -> tuple[bool, str]:
    """Whether MOA_DATABASE_URL's server answers (read-only: no migration), as a checklist line."""
    from storage.postgres import DatabaseUnreachable, PgConnection, redacted

    try:
        conn = await PgConnection.open(url, migrate_schema=False)
    except DatabaseUnreachable as err:
        return False, str(err)
    except RuntimeError:  # reachable, but its schema is older or newer: `moa-bot run` migrates it
        return True, f"database: PostgreSQL {redacted(url)} (reachable; `moa-bot run` brings its schema up to date)"
    await conn.close()
    return True, f"database: PostgreSQL {redacted(url)} (reachable, schema up to date)"


async def _provider_lines(settings: Settings, config_problem: str | None, ok: Callable[[str], None],
                          bad: Callable[[str], None], note: Callable[[str], None]) -> None:
    """The providers and MOA_CONFIG lines: the checks `run` and `ask` make (`provider_checks`)."""
    try:
        registry = ProviderRegistry.from_env(settings.env, call_timeout_s=10, deadline_s=20)
    except ConfigError as err:
        bad(str(err))
        return
    async with registry:
        if config_problem is not None:  # one line; the providers are still checked
            bad(config_problem)
            with contextlib.suppress(ProviderError):
                live = await registry.live_models()
                ok(f"providers reachable: {plural(len(live), 'live model')}")
            for why in registry.listing_errors.values():
                bad(str(why))
            return
        config = settings.default_config
        uses_groq = any(registry.is_groq(m) for m in config.models())
        if settings.groq_api_key:
            ok("GROQ_API_KEY is set")
        elif not uses_groq:
            note(f"GROQ_API_KEY not set — not needed: {config_name(settings)} uses no Groq model")
        check = await provider_checks(registry, config, config_name(settings))
        for line in check.passed:
            ok(line)
        for line in check.warnings:
            note(line)
        for line in check.problems:
            bad(line)


async def doctor(settings: Settings, config_problem: str | None = None) -> int:
    """Print a checklist; exit 0 when the bot can run, 1 when something it needs is missing.
    `config_problem`: why MOA_CONFIG could not be read (one line of the checklist, not its end)."""
    out = Console(soft_wrap=True)  # long lines (the invite URL) must stay whole to copy
    problems = 0

    redact = Redactor.from_env(settings.env).redact  # a provider's error body may quote a key

    def ok(text: str) -> None:
        out.print(f"[green]✓[/green] {escape(redact(text))}")

    def bad(text: str) -> None:
        nonlocal problems
        problems += 1
        out.print(f"[red]✗[/red] {escape(redact(text))}")  # text, not markup: "[traces]" stays

    def note(text: str) -> None:
        out.print(f"[yellow]•[/yellow] {escape(redact(text))}")

    def show(findings: list[Finding]) -> None:
        for finding in findings:
            (ok if finding.ok else bad)(finding.text)

    misplaced = misplaced_tokens(settings)

    out.print("[bold]Models[/bold]")
    await _provider_lines(settings, config_problem, ok, bad, note)

    for platform in PLATFORMS:  # each adapter says what its checklist holds (adapters/platform.py)
        out.print(f"\n[bold]{platform.title}[/bold]")
        for kind, text in await platform.doctor_lines(settings, misplaced):
            {"ok": ok, "note": note, "bad": bad}[kind](text)

    out.print("\n[bold]Storage[/bold]")
    if settings.database_url:
        fine, text = await postgres_check(settings.database_url)
    else:
        fine, text = _storage_check(Path(settings.db_path))
    (ok if fine else bad)(text)

    out.print("\n[bold]Health and metrics[/bold]")
    for variable, host, port in listening_ports(settings):
        problem = port_problem(variable, host, port)
        if problem is not None:
            bad(problem)
        else:
            ok(f"/healthz and /metrics on {host}:{port} ({variable})")
    if not settings.status_port and not (settings.slack_enabled and not settings.slack_app_token):
        note("no /healthz or /metrics: set MOA_STATUS_PORT (e.g. 8080) to serve them")

    out.print("\n[bold]Traces[/bold]")
    for level, line in trace_lines(settings.env):
        {"ok": ok, "note": note, "bad": bad}[level](line)

    if not (settings.discord_enabled or settings.slack_enabled):
        note("no platform token set: `moa-bot run` on a terminal opens a console chat")
    return 1 if problems else 0
