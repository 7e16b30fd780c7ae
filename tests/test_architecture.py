"""docs/ARCHITECTURE.md's import rules, checked on the source: no package imports a layer above it, inside
`omne_core` no sub-package or module imports one above it, and no package has an import cycle among its modules."""

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
    "omne_server": {"omne_core"},
    "omne_cli": {"omne_core", "omne_server", "omne_tools", "omne_assistant", "omne_eval"},
}
# installed name -> folder (pyproject.toml's package-dir)
FOLDER = {"omne_tools": "tools", "omne_eval": "eval"}

# omne_core's sub-layers, lowest first: a unit may import units of lower layers only (docs/ARCHITECTURE.md).
CORE_LAYERS = [
    {"version", "errors"},
    {"config"},
    {"records", "tokens", "blobs"},
    {"embeddings", "models"},
    {"documents"},
    {"messages"},
    {"memory"},
]
CORE_LAYER = {unit: level for level, units in enumerate(CORE_LAYERS) for unit in units}


def _module_name(path: Path, package: str) -> str:
    parts = path.relative_to(ROOT / FOLDER.get(package, package)).with_suffix("").parts
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((package, *parts))


def _imports(path: Path, module: str) -> set[str]:
    """Every module `path` imports (absolute names; relative imports resolved), at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package_parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                if node.module:
                    names.add(".".join([*base, node.module]))
                else:  # `from . import module`: the module, not the package's __init__
                    names.update(".".join([*base, alias.name]) for alias in node.names)
            elif node.module:
                names.add(node.module)
    return names


def _imported_top_levels(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imports(path, "x")}


def test_no_package_imports_a_layer_above_it():
    violations = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / FOLDER.get(package, package)).rglob("*.py")):
            for name in _imported_top_levels(path) & set(ALLOWED):
                if name != package and name not in allowed:
                    violations.append(f"{path.relative_to(ROOT)} imports {name}")
    assert violations == []


def _core_unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _core_edges() -> dict[str, set[str]]:
    """omne_core module -> the omne_core modules it imports (lazy and TYPE_CHECKING imports included)."""
    edges: dict[str, set[str]] = {}
    for path in sorted((ROOT / "omne_core").rglob("*.py")):
        module = _module_name(path, "omne_core")
        edges[module] = {name for name in _imports(path, module) if name.startswith("omne_core.")}
    return edges


def test_every_omne_core_unit_has_a_layer():
    units = {_core_unit(module) for module in _core_edges()} - {""}
    assert units - set(CORE_LAYER) == set(), "add the new unit to CORE_LAYERS and docs/ARCHITECTURE.md"


def test_no_omne_core_unit_imports_one_above_it():
    violations = []
    for module, targets in _core_edges().items():
        unit = _core_unit(module)
        for target in targets:
            other = _core_unit(target)
            if other != unit and unit and CORE_LAYER.get(other, len(CORE_LAYERS)) >= CORE_LAYER[unit]:
                violations.append(f"{module} imports {target}")
    assert violations == []


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among the modules of `edges` (a package counts as importing its __init__), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            target = nxt if nxt in edges else nxt.rsplit(".", 1)[0]  # `from pkg import name` of a non-module
            if target not in edges or target == node:
                continue
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycle_between_omne_core_sub_packages():
    units: dict[str, set[str]] = {}
    for module, targets in _core_edges().items():
        units.setdefault(_core_unit(module), set()).update(_core_unit(t) for t in targets)
    assert _cycle({unit: {t for t in targets if t != unit} for unit, targets in units.items()}) is None


def test_no_import_cycle_between_the_modules_of_any_package():
    """Module by module, lazy imports included: e.g. omne_cli's `memory_cmd` registers `ingest_cmd`'s command, and
    `ingest_cmd` takes the shared scope options from `options`, never from `memory_cmd` (issue 15.6)."""
    for package in ALLOWED:
        edges: dict[str, set[str]] = {}
        for path in sorted((ROOT / FOLDER.get(package, package)).rglob("*.py")):
            module = _module_name(path, package)
            edges[module] = {name for name in _imports(path, module) if name.startswith(f"{package}.")}
        assert _cycle(edges) is None, package


def test_the_checkers_see_a_violation_and_a_cycle(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom omne_assistant.simple import SimpleResponder\n")
    assert "omne_assistant" in _imported_top_levels(bad)
    nested = tmp_path / "nested.py"
    nested.write_text("def f():\n    from ..memory.store import MemoryStore\n")
    assert _imports(nested, "omne_core.documents.nested") == {"omne_core.memory.store"}
    sibling = tmp_path / "sibling.py"
    sibling.write_text("from . import memory_cmd, options\n")
    assert _imports(sibling, "omne_cli.ingest_cmd") == {"omne_cli.memory_cmd", "omne_cli.options"}
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
