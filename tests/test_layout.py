"""The layout's promises: dependencies between packages go one way, and no cycles.

`actions/` and `channels/` use `bot/`; `bot/` reaches channels only through
`bot.channel_registry`. Within `bot/` and `channels/`, sub-packages import each other
without cycles, so each concern can be read (and tested) from the bottom up.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.support import PROJECT

TOP_LEVEL = ("bot", "channels", "actions")


def _package_of(module: str) -> str:
    """`bot.crm.sql` → `bot.crm`; `bot.settings` → `bot`; `actions.orders` → `actions`."""
    parts = module.split(".")
    if parts[0] == "actions" or len(parts) < 3:
        return parts[0]
    return ".".join(parts[:2])


def _module_name(path: Path) -> str:
    relative = path.relative_to(PROJECT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.append("__init__")  # a package's own module belongs to that package
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] in TOP_LEVEL}


def package_graph() -> dict[str, set[str]]:
    """Which package imports which (own-package imports left out)."""
    graph: dict[str, set[str]] = defaultdict(set)
    known = {_package_of(_module_name(p)) for top in TOP_LEVEL for p in (PROJECT / top).rglob("*.py")}
    for top in TOP_LEVEL:
        for path in (PROJECT / top).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            source = _package_of(_module_name(path))
            for name in _imports(path):
                target = _package_of(name)
                if target not in known:  # `from bot.hub import keys` names a module
                    target = _package_of(name.rsplit(".", 1)[0])
                if target != source:
                    graph[source].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle as a path of packages, or [] if there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_bot_never_imports_channels_or_actions() -> None:
    graph = package_graph()
    offenders = {source: sorted(t for t in targets if t.split(".")[0] in ("channels", "actions"))
                 for source, targets in graph.items() if source.split(".")[0] == "bot"}
    assert {source: t for source, t in offenders.items() if t} == {}


def test_no_import_cycle_between_packages() -> None:
    assert find_cycle(package_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) == []
