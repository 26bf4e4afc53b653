"""How one Slack mention travels through the project's own code (not a test): a before/after yardstick.

Runs ONE pytest test in this process (by default the Slack mention that gets its final answer in its
thread) with a profiler installed (sys.setprofile and threading.setprofile) while the test's body runs — the
mention itself, not collecting the test nor building its fixtures (the fakes, the bot, the database) —
and counts only frames whose code lies in the project's packages moa/, bot/, adapters/ and storage/ of
this checkout. Prints

    files entered: distinct project files with at least one 'call' event (module-level code included),
        grouped by top folder
    re-entries: per module, how many times control entered it from a different module (a 'call' whose
        caller frame is in another file, project or not); resuming a coroutine after an await is a
        'call' too, so a module that awaits a lot is entered a lot. The busiest ten are printed.
    the ten longest functions in the four packages, by source lines (ast: end_lineno - lineno + 1)

Run: python bench/mention_walk.py [TEST_ID]
    TEST_ID is a pytest node id relative to the repository root, e.g.
    tests/adapters/slack/test_mentions.py::test_status_appears_before_the_answer_and_names_agents_not_answers
Exits 0 when the test passed, else with pytest's exit code (the numbers of a failed run mean little).
"""

from __future__ import annotations

import ast
import os
import sys
import threading
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("moa", "bot", "adapters", "storage")
DEFAULT_TEST = (
    "tests/adapters/slack/test_mentions.py::test_mention_gets_final_answer_in_its_thread_with_show_layers_button"
)


class Walk:
    """Profile hook: which project files are entered, and how often each is entered from elsewhere."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._rel: dict[str, str | None] = {}  # co_filename → "moa/engine.py", or None outside the packages
        self.entered: set[str] = set()
        self.called: set[str] = set()  # files in which more than module-level code ran (functions, class bodies)
        self.reentries: Counter[str] = Counter()
        self._lock = threading.Lock()

    def project_file(self, filename: str) -> str | None:
        try:
            return self._rel[filename]
        except KeyError:
            pass
        rel: str | None = None
        if filename.endswith(".py"):
            try:
                parts = Path(filename).resolve().relative_to(self.root).parts
            except ValueError:
                parts = ()
            if len(parts) > 1 and parts[0] in PACKAGES:
                rel = "/".join(parts)
        self._rel[filename] = rel
        return rel

    def hook(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        here = self.project_file(frame.f_code.co_filename)
        if here is None:
            return
        caller = frame.f_back
        came_from = self.project_file(caller.f_code.co_filename) if caller is not None else None
        with self._lock:
            self.entered.add(here)
            if frame.f_code.co_name != "<module>":
                self.called.add(here)
            if came_from != here:
                self.reentries[here] += 1


def module_name(rel: str) -> str:
    name = rel.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def longest_functions(root: Path, top: int) -> list[tuple[int, str]]:
    """(lines, "path:qualname") of the `top` longest functions and methods in the project's packages."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, prefix: str, rel: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                qualname = f"{prefix}{child.name}"
                end = child.end_lineno if child.end_lineno is not None else child.lineno
                found.append((end - child.lineno + 1, f"{rel}:{qualname}"))
                visit(child, f"{qualname}.", rel)
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.", rel)
            else:
                visit(child, prefix, rel)

    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), "", rel)
    found.sort(key=lambda item: (-item[0], item[1]))
    return found[:top]


class _BodyOnly:
    """A pytest plugin that profiles only the test's call phase."""

    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        threading.setprofile(self.walk.hook)
        sys.setprofile(self.walk.hook)
        try:
            yield
        finally:
            sys.setprofile(None)
            threading.setprofile(None)


def main(argv: list[str]) -> int:
    test_id = argv[0] if argv else DEFAULT_TEST
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))

    walk = Walk(ROOT)
    # addopts asks for xdist workers (-n 4): emptied here so the test runs in this process.
    code = pytest.main([test_id, "-o", "addopts=", "-p", "no:xdist", "-q", "-p", "no:cacheprovider"],
                       plugins=[_BodyOnly(walk)])

    import moa  # imported by the run; checked so numbers from another checkout are not taken for these

    moa_file = Path(moa.__file__ or "").resolve()
    print()
    print(f"mention walk — {test_id}")
    print(f"repository: {ROOT}")
    if not moa_file.is_relative_to(ROOT):
        print(f"WARNING: moa was imported from {moa_file}, outside this repository; run with PYTHONPATH={ROOT}")
    print(f"pytest exit code: {int(code)}")
    print()

    total = sum(len(list((ROOT / package).rglob("*.py"))) for package in PACKAGES)
    print(f"project files entered: {len(walk.entered)} (of {total} .py files in {', '.join(PACKAGES)})")
    only_imported = len(walk.entered - walk.called)
    print(f"  of which ran more than module-level code: {len(walk.called)}; module level only: {only_imported}")
    for package in PACKAGES:
        files = sorted(f for f in walk.entered if f.split("/", 1)[0] == package)
        print(f"  {package}/ ({len(files)})")
        for f in files:
            mark = "" if f in walk.called else "   (module level only)"
            print(f"    {f}{mark}")
    print()

    print("re-entries (calls into a module from another module, coroutine resumptions included), busiest 10:")
    for rel, count in walk.reentries.most_common(10):
        print(f"  {count:>8}  {module_name(rel)}")
    print()

    longest = longest_functions(ROOT, 10)
    width = max(len(name) for _, name in longest)
    print("ten longest functions (source lines):")
    print(f"  {'lines':>5}  function")
    print(f"  {'-' * 5}  {'-' * width}")
    for lines, name in longest:
        print(f"  {lines:>5}  {name}")
    return 0 if code == pytest.ExitCode.OK else int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
