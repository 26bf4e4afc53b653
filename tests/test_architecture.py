"""The arrows point inward, read from the source: adapters → bot → moa/storage, only bot/app knows the
adapters, the core knows no platform, and no modules import each other in a circle (imports inside
functions and under TYPE_CHECKING count: a lazy import that dodges a cycle is still a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("adapters", "bot", "moa", "storage")
PLATFORM_LIBRARIES = ("discord", "slack_sdk", "slack_bolt")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imported(path: Path) -> set[str]:
    """Every module name `path` imports anywhere in its body (`from a import b` names a.b when it is a
    module of ours)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                names.add(full if full in MODULES else node.module)
    return names


def _ours(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


GRAPH = {module: {ours for name in _imported(path) if (ours := _ours(name)) and ours != module}
         for module, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in GRAPH[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in GRAPH:
        if module not in index:
            visit(module)
    return groups


def test_the_source_tree_is_what_these_checks_read() -> None:
    assert {"bot.conversation.service", "moa.run.engine", "storage.db", "adapters.slack.server"} <= set(MODULES)
    assert "storage.errors" in GRAPH["bot.conversation.keeper"]


def test_only_the_app_room_of_bot_knows_the_adapters() -> None:
    offenders = {module: sorted(n for n in _imported(MODULES[module]) if n.split(".")[0] == "adapters")
                 for module in MODULES if module.startswith("bot.") and not module.startswith("bot.app.")}
    assert {m: names for m, names in offenders.items() if names} == {}


def test_the_engine_and_storage_know_no_platform_and_nothing_above_them() -> None:
    forbidden = (*PLATFORM_LIBRARIES, "bot", "adapters")
    offenders = {module: sorted(n for n in _imported(MODULES[module]) if n.split(".")[0] in forbidden)
                 for module in MODULES if module.split(".")[0] in ("moa", "storage")}
    assert {m: names for m, names in offenders.items() if names} == {}


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert _cycles() == []


def test_no_code_tells_errors_apart_by_their_class_names() -> None:
    """Adapters name their fatal errors through their descriptor (adapters/platform.py), by type."""
    offenders = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Compare) and any(
                    isinstance(side, ast.Attribute) and side.attr == "__name__" and isinstance(side.value, ast.Call)
                    for side in (node.left, *node.comparators)):
                offenders.append(f"{module}:{node.lineno}")
    assert offenders == []


# moa/'s rooms, lowest first: a room imports only from rooms below it (and the shared leaves at the top of
# moa/, which import no room). A newcomer reads them in this order: what a config is, what the models are
# sent, how answers are judged, how calls are paced and made, what an answer will ask for, running it, eval.
MOA_ROOMS = ("config", "messages", "judge", "pace", "calls", "plan", "run", "eval")
MOA_LEAVES = ("errors", "events", "durations", "figures", "pricing", "trace")


def _moa_room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "moa" else None


def test_moa_keeps_few_modules_at_its_top_level_and_every_other_in_a_room() -> None:
    top = sorted(m.split(".")[1] for m in MODULES if m.startswith("moa.") and m.count(".") == 1
                 and m.split(".")[1] not in MOA_ROOMS)
    assert top == sorted(MOA_LEAVES)
    rooms = {_moa_room(m) for m in MODULES if _moa_room(m)}
    assert rooms == set(MOA_ROOMS)


def test_moa_rooms_import_only_rooms_below_them() -> None:
    offenders = []
    for module, targets in GRAPH.items():
        room = _moa_room(module)
        if module.startswith("moa.") and room is None and module != "moa":
            # a shared leaf: no room at all
            offenders += [f"{module} -> {t}" for t in targets if _moa_room(t)]
        if room is None:
            continue
        for target in targets:
            other = _moa_room(target)
            if other is not None and other != room and MOA_ROOMS.index(other) > MOA_ROOMS.index(room):
                offenders.append(f"{module} -> {target}")
    assert offenders == []


_ENVIRONMENT = ("environ", "environb", "getenv", "putenv")
_ENV_FILE_READERS = ("dotenv_values", "load_dotenv")


def _touches_the_environment(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in _ENVIRONMENT and isinstance(node.value, ast.Name) and node.value.id == "os"
    if isinstance(node, ast.ImportFrom) and node.module in ("os", "dotenv"):
        return any(alias.name in (*_ENVIRONMENT, *_ENV_FILE_READERS) for alias in node.names)
    return False


def _reads_the_environment(path: Path) -> list[int]:
    """Lines of `path` that touch os.environ / os.getenv / os.environb or read a .env file themselves."""
    return [node.lineno for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if _touches_the_environment(node) and hasattr(node, "lineno")]


SDK_HANDOFF = "bot.observe.traces"


def test_only_the_settings_read_the_environment() -> None:
    """Settings are read once (bot/settings.py); everything else is handed them. Libraries that read their
    own variables (the groq SDK's GROQ_BASE_URL, OpenTelemetry's OTEL_*) do so inside the library."""
    offenders = [f"{module}:{line}" for module, path in MODULES.items()
                 if module not in ("bot.settings", SDK_HANDOFF) for line in _reads_the_environment(path)]
    assert offenders == []
    # The OpenTelemetry SDK reads only os.environ: the traces module hands it the OTEL_* values read from
    # .env (setdefault, so the real environment still wins), and touches nothing else there.
    source = MODULES[SDK_HANDOFF].read_text()
    assert len(_reads_the_environment(MODULES[SDK_HANDOFF])) == source.count("os.environ.setdefault(") == 1
    assert _reads_the_environment(MODULES["bot.settings"]) == []  # pydantic-settings reads them there
