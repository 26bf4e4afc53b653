"""The `moa-bot` command: run, ask, eval, models, doctor, migrate, usage."""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.observe.logs import configure_logging
from bot.observe.traces import traces
from bot.settings import DefaultConfigUnreadable, Settings
from moa.calls.providers import MISSING_GROQ_KEY
from moa.errors import ConfigError
from moa.eval.solo import SOLO_MAX_TOKENS
from storage.errors import StorageError

HOW_TO_CONFIGURE = """\
moa-bot has no chat platform to connect to. Set at least one of these (in the environment or a .env file):
  DISCORD_TOKEN      a Discord bot token — https://discord.com/developers/applications → your app → Bot → Reset Token
  SLACK_BOT_TOKEN    a Slack bot token (xoxb-…) — https://api.slack.com/apps → your app → OAuth & Permissions,
                     plus SLACK_APP_TOKEN (xapp-…, Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)
and GROQ_API_KEY (https://console.groq.com/keys) — or, for your own models only, MOA_PROVIDERS and MOA_CONFIG
(docs/local.md). `moa-bot doctor` checks a setup; docs/slack.md and docs/discord.md walk through creating the
apps. Run `moa-bot run` on a terminal to chat in the console."""


# On a terminal with no key: the console chat needs models, from Groq or from a server of your own.
LOCAL_ROUTE = """\
Or, for your own models only (Ollama, llama.cpp, vLLM — no Groq key), declare the server in MOA_PROVIDERS and a
config that uses it in MOA_CONFIG: docs/local.md walks through it. Then `moa-bot run` here is a console chat;
DISCORD_TOKEN or SLACK_BOT_TOKEN connect it to a chat platform instead (`moa-bot doctor` checks a setup)."""

TRACED = ("run", "ask", "eval")  # the commands that answer questions (the console is `run` on a terminal)


def _version() -> str:
    try:
        return importlib.metadata.version("moa-bot")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


EXIT_CODES = """\
exit codes (every command):
  0    done: answered, measured, checked
  1    something failed: a provider or server down or unreachable, a run
       whose agents all failed, an eval stopped, a problem `doctor` found
  2    a usage or setup problem: a bad option or config, a model no
       provider serves (a typo), a missing key or token, a database that
       cannot be used
  130  interrupted (Ctrl-C)"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moa-bot", description="Mixture-of-Agents answers in Discord and Slack.",
                                     epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start every adapter whose token is set (or a console chat on a terminal)")
    ask = sub.add_parser("ask", help="one MoA answer in the terminal")
    ask.add_argument("question", help='the question; "-" reads it from stdin')
    ask.add_argument("--config", type=Path, help="a MoA config JSON file (seed article format or an export)")
    ask.add_argument("--layers", type=int, help="number of proposer layers (overrides the config)")
    ask.add_argument("--show-layers", action="store_true", help="print every intermediate answer")
    ask.add_argument("--file", action="append", default=[], metavar="PATH",
                     help="a file the models read with the question (text, code, CSV, JSON, logs, PDF, image); "
                          "repeatable")
    evaluate = sub.add_parser("eval", help="answer quality of configs on graded questions, with 95%% intervals")
    evaluate.add_argument("--set", dest="question_set", required=True, metavar="FILE.jsonl|NAME",
                          help='a JSONL file of {"question", "answer"} lines or a bundled set; "list" names them')
    evaluate.add_argument("--config", dest="configs", action="append", default=[], metavar="PRESET|FILE|single:MODEL",
                          help="a config to measure (repeat to compare): a preset, a config file, or one model alone")
    evaluate.add_argument("--limit", type=int, help="only the first N questions")
    evaluate.add_argument("--single-max-tokens", type=int, metavar="N",
                          help="the longest answer a single:MODEL baseline may write (default: the largest "
                               "final-answer max_tokens among the compared configs, so both get the same "
                               f"budget; {SOLO_MAX_TOKENS} with no MoA config to compare)")
    evaluate.add_argument("--json", dest="json_out", type=Path, metavar="OUT", help="write the report as JSON")
    evaluate.add_argument("--chart", dest="chart_out", type=Path, metavar="OUT.png",
                          help="draw accuracy against cost per answer (needs matplotlib)")
    evaluate.add_argument("--resume", type=Path, metavar="FILE",
                          help="where graded answers are kept as they come (default: next to --json, else the cache)")
    evaluate.add_argument("--plan", action="store_true",
                          help="print the calls and tokens the run asks of each model and how long it takes (from the "
                               "known rate limits and the answers timed so far), and ask nothing")
    evaluate.add_argument("--retry-failed", action="store_true",
                          help="ask again the questions whose answer failed in an earlier run")
    sub.add_parser("models", help="list the models the configured providers serve now")
    sub.add_parser("doctor", help="check the setup: keys, platforms, Groq reachability, models")
    migrate = sub.add_parser("migrate", help="copy the SQLite database into PostgreSQL (safe to run again)")
    migrate.add_argument("--to", metavar="URL",
                         help="postgresql://user:password@host:5432/db (default: MOA_DATABASE_URL)")
    migrate.add_argument("--from", dest="source", metavar="FILE", help="the SQLite file (default: MOA_DB_PATH)")
    usage = sub.add_parser("usage", help="what the bot spent, how fast, and 👍/👎, across channels")
    usage.add_argument("--days", type=int, default=30, help="the last N UTC days, today included (default 30)")
    usage.add_argument("--channel", help="only this channel id")
    usage.add_argument("--json", action="store_true", help="print JSON instead of tables")
    return parser


def _needs_groq_key(settings: Settings) -> bool:
    return not settings.groq_api_key and not settings.providers


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `moa-bot` console script."""
    args = _parser().parse_args(argv)
    try:
        settings, config_problem = _settings(args.command)
        configure_logging(settings.env)
        if config_problem is not None and args.command == "doctor":
            from bot.app.doctor import doctor

            return asyncio.run(doctor(settings, config_problem))
        if config_problem is not None:  # `models`: the list does not depend on MOA_CONFIG
            print(f"⚠ {config_problem}", file=sys.stderr)
        if args.command not in TRACED:
            return _dispatch(args, settings)
        with traces(settings.env):  # OTEL_EXPORTER_OTLP_ENDPOINT…: each answer as one trace (docs/traces.md)
            return _dispatch(args, settings)
    except ConfigError as err:  # e.g. a malformed MOA_PROVIDERS: say so, no traceback
        print(err, file=sys.stderr)
        return 2
    except StorageError as err:  # the database cannot be used (read-only, corrupt, in use…): the sentence says why
        print(err, file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: calls in flight were cancelled on the way out
        print("Interrupted.", file=sys.stderr)
        return 130


def _settings(command: str) -> tuple[Settings, str | None]:
    """The settings, and why MOA_CONFIG could not be read when `doctor` or `models` goes on without it
    (every other command stops on it)."""
    try:
        return Settings.load(), None
    except DefaultConfigUnreadable as err:
        if command not in ("doctor", "models"):
            raise
        return Settings.load(ignore=("MOA_CONFIG",)), str(err)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    match args.command:
        case "run":
            return _run(settings)
        case "ask":
            from bot.app.terminal import ask

            question = sys.stdin.read() if args.question == "-" else args.question
            return asyncio.run(ask(question, args.config, args.layers, args.show_layers, settings,
                                   files=args.file))
        case "eval":
            from bot.app.eval_command import evaluate

            return asyncio.run(evaluate(args.question_set, args.configs, settings, limit=args.limit,
                                        json_out=args.json_out, chart_out=args.chart_out, resume=args.resume,
                                        retry_failed=args.retry_failed, plan_only=args.plan,
                                        single_max_tokens=args.single_max_tokens))
        case "models":
            from bot.app.terminal import models

            return asyncio.run(models(settings))
        case "doctor":
            from bot.app.doctor import doctor

            return asyncio.run(doctor(settings))
        case "migrate":
            from bot.app.migrate import migrate

            return migrate(settings, args.to, args.source)
        case "usage":
            from bot.app.usage_report import usage

            return asyncio.run(usage(settings, args.days, args.channel, args.json))
    return 2


def _run(settings: Settings) -> int:
    if not (settings.slack_enabled or settings.discord_enabled):
        if sys.stdin.isatty() and sys.stdout.isatty():
            if _needs_groq_key(settings):
                print(f"{MISSING_GROQ_KEY}\n{LOCAL_ROUTE}", file=sys.stderr)
                return 2
            from bot.app.console import chat

            return asyncio.run(chat(settings))
        print(HOW_TO_CONFIGURE, file=sys.stderr)
        return 2
    if _needs_groq_key(settings):
        print(MISSING_GROQ_KEY, file=sys.stderr)
        return 2
    if settings.slack_enabled and not (settings.slack_app_token or settings.slack_signing_secret):
        print("SLACK_BOT_TOKEN is set but Slack needs SLACK_APP_TOKEN (xapp-…, Socket Mode) or "
              "SLACK_SIGNING_SECRET (HTTP mode): https://api.slack.com/apps → Basic Information.", file=sys.stderr)
        return 2
    from bot.app.runner import run_adapters

    # Everything imported so far lives as long as the process: keep the collector from re-scanning it,
    # which costs ~20 ms pauses in the middle of a layer.
    gc.freeze()
    return asyncio.run(run_adapters(settings))


if __name__ == "__main__":
    sys.exit(main())
