"""docs/ARCHITECTURE.md's import rules, checked on the source: no package imports a layer above it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# package -> the packages of ours it may import (besides itself); see docs/ARCHITECTURE.md
ALLOWED = {
    "omne_core": set(),
    "omne_tools": {"omne_core"},
    "omne_assistant": {"omne_core", "omne_tools"},
    "omne_eval": {"omne_core", "omne_tools", "omne_assistant"},
    "omne_cli": {"omne_core", "omne_tools", "omne_assistant", "omne_eval"},
}
# installed name -> folder (pyproject.toml's package-dir)
FOLDER = {"omne_tools": "tools", "omne_eval": "eval"}


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_package_imports_a_layer_above_it():
    violations = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / FOLDER.get(package, package)).rglob("*.py")):
            for name in _imported_top_levels(path) & set(ALLOWED):
                if name != package and name not in allowed:
                    violations.append(f"{path.relative_to(ROOT)} imports {name}")
    assert violations == []


def test_the_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom omne_assistant.simple import SimpleResponder\n")
    assert "omne_assistant" in _imported_top_levels(bad)
