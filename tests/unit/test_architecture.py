"""The shape of the package: no import cycle, and pytest imported only by the pytest-facing
layer. Read from the source (every import, at module level or inside a function), so an import
made late to save start-up time counts as much as one at the top."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_mlgate"
# The modules that talk to pytest; everything else is plain Python the CLI and users can call.
PYTEST_FACING = {"plugin", "fixture", "controller", "xdist", "hookspecs"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, absolute, including imports inside functions and under
    TYPE_CHECKING (a cycle in the types is a cycle a reader follows)."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            # ``from pytest_mlgate.stats import compare`` imports the submodule.
            yield from (f"{base}.{alias.name}" for alias in node.names)


def graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {t for t in _imports(path) if t in modules and t != name}
        # A package's __init__ is run by importing any of its modules; that edge is no cycle.
        edges[name] = {t for t in targets if not name.startswith(t + ".")}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_only_the_pytest_facing_modules_import_pytest() -> None:
    importers = set()
    for path in PACKAGE.rglob("*.py"):
        if any(t == "pytest" or t.startswith(("pytest.", "_pytest")) for t in _imports(path)):
            importers.add(_module_name(path).removeprefix("pytest_mlgate."))
    assert importers <= PYTEST_FACING, sorted(importers - PYTEST_FACING)


def test_json_is_encoded_in_one_place() -> None:
    """strict_json.dumps is the one encoder (one NaN policy); the only other json.dumps writes
    skops's own schema file inside a model, in skops's encoding."""
    callers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("dumps", "dump") \
                    and isinstance(node.value, ast.Name) and node.value.id == "json":
                callers.add(_module_name(path).removeprefix("pytest_mlgate."))
    assert callers == {"strict_json", "delivery.serialize"}


def documented_modules(text: str) -> set[str]:
    """The module paths of the tree in docs/architecture.md's "The modules" (``stats/drift.py``),
    read from the indentation."""
    block = text.split("## The modules", 1)[1].split("```", 2)[1]
    stack: list[tuple[int, str]] = []
    found = set()
    for line in block.splitlines():
        m = re.match(r"( +)(\S+?(?:\.py|/))(?:\s|$)", line)
        if not m:
            continue
        depth = len(m.group(1))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        path = "".join(name for _, name in stack) + m.group(2)
        if path.endswith("/"):
            stack.append((depth, m.group(2)))
        else:
            found.add(path.removeprefix("pytest_mlgate/"))
    return found


def test_every_module_has_its_line_in_the_architecture_page() -> None:
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")}
    # These hold re-exports only (and ``python -m``); every other __init__ does a job of its own.
    modules -= {"stats/__init__.py", "perf/__init__.py", "delivery/__init__.py",
                "report/__init__.py", "cli/__main__.py"}
    documented = documented_modules(page)
    assert sorted(modules - documented) == [] and sorted(documented - modules) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
