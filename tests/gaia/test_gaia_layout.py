"""The harness's module graph: the agent-factory contract sits below both the runner and Omne's default agent."""

from __future__ import annotations

import ast
from pathlib import Path

GAIA = Path(__file__).resolve().parents[2] / "eval" / "gaia"


def _imports(path: Path) -> set[str]:
    """Modules of `eval.gaia` that `path` imports (relative or absolute, TYPE_CHECKING blocks included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                names.add(node.module.split(".")[0])
            elif node.level == 1:
                names.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("omne_eval.gaia."):
                names.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[2] for a in node.names if a.name.startswith("omne_eval.gaia."))
    return names


def _graph() -> dict[str, set[str]]:
    return {p.stem: _imports(p) for p in GAIA.glob("*.py") if p.stem != "__init__"}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, each reported once from its first module (depth-first search)."""
    found: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == path[0]:
                found.append([*path, nxt])
            elif nxt not in path and nxt > path[0]:
                walk(nxt, [*path, nxt])

    for start in sorted(graph):
        walk(start, [start])
    return found


def test_no_import_cycle_among_the_harness_modules() -> None:
    assert _cycles(_graph()) == []


def test_the_runner_and_the_default_agent_do_not_import_each_other() -> None:
    graph = _graph()
    assert "default_agent" in graph, "Omne's default agent has a module of its own"
    assert "default_agent" not in graph["runner"] and "runner" not in graph["default_agent"]
    assert "default_agent" not in graph["factory"]  # the contract knows no implementation


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
