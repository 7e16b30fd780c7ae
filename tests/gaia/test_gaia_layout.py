"""The harness's module graph: the agent-factory contract sits below both the runner and Omne's default agent
(no import cycle among the harness modules: tests/test_architecture.py checks every package)."""

from __future__ import annotations

from pathlib import Path

from tests.test_architecture import _imports

GAIA = Path(__file__).resolve().parents[2] / "eval" / "gaia"


def _graph() -> dict[str, set[str]]:
    """Module of `omne_eval.gaia` -> the modules of `omne_eval.gaia` it imports (lazy and TYPE_CHECKING included)."""
    graph: dict[str, set[str]] = {}
    for path in GAIA.glob("*.py"):
        if path.stem != "__init__":
            names = _imports(path, f"omne_eval.gaia.{path.stem}")
            graph[path.stem] = {n.split(".")[2] for n in names if n.startswith("omne_eval.gaia.")}
    return graph


def test_the_runner_and_the_default_agent_do_not_import_each_other() -> None:
    graph = _graph()
    assert "default_agent" in graph, "Omne's default agent has a module of its own"
    assert "factory" in graph["runner"] and "factory" in graph["default_agent"]  # the graph sees imports
    assert "default_agent" not in graph["runner"] and "runner" not in graph["default_agent"]
    assert "default_agent" not in graph["factory"]  # the contract knows no implementation
