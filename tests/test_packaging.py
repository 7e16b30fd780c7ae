"""Packaging: the folders `tools/` and `eval/` install as `omne_tools` and `omne_eval`, every package is
listed in pyproject.toml, `py.typed` ships, and a user's own top-level `tools`/`eval` packages coexist with
Omne (neither shadows the other) in a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
TOP_LEVELS = {"omne_core": "omne_core", "omne_tools": "tools", "omne_assistant": "omne_assistant",
              "omne_eval": "eval", "omne_cli": "omne_cli", "omne_server": "omne_server"}  # fmt: skip


def _folder_packages() -> set[str]:
    found = set()
    for name, folder in TOP_LEVELS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *parts)))
    return found


def test_every_package_folder_is_listed_under_its_installed_name():
    assert SETUPTOOLS["package-dir"] == {"omne_tools": "tools", "omne_eval": "eval"}
    assert set(SETUPTOOLS["packages"]) == _folder_packages()


def test_each_top_level_package_ships_py_typed():
    assert SETUPTOOLS["package-data"]["*"] == ["py.typed"]
    assert all((ROOT / folder / "py.typed").is_file() for folder in TOP_LEVELS.values())


def test_no_module_imports_the_folder_names():
    """Omne's code imports `omne_tools`/`omne_eval`, never the folder names a user's project may own."""
    import ast

    offenders = []
    for folder in (*TOP_LEVELS.values(), "tests", "bench", "examples"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in {"tools", "eval"}]
    assert offenders == []


PROJECT_MAIN = '''
import asyncio, json, sys
from pathlib import Path

import tools          # the project's own packages, not Omne's
import eval as project_eval
from autogen_core.tools import FunctionTool
from autogen_ext.models.replay import ReplayChatCompletionClient
from autogen_core.models import ModelFamily, ModelInfo, CreateResult, RequestUsage
from autogen_core import FunctionCall

from omne_assistant import ReactiveResponder, RetryPolicy
from omne_core.config import OmneSettings
from omne_eval.gaia import question_scorer
from omne_tools import build_toolset


def call(name, args):
    return CreateResult(finish_reason="function_calls", usage=RequestUsage(prompt_tokens=1, completion_tokens=1),
                        cached=False, content=[FunctionCall(id="c1", name=name, arguments=json.dumps(args))])


async def main():
    here = Path(__file__).parent
    settings = OmneSettings(data_dir=here / "data")
    toolset = build_toolset(settings, file_roots=[here / "docs"])
    mine = FunctionTool(tools.shout, description="Shout a word.")
    client = ReplayChatCompletionClient([
        json.dumps({"analysis": {"asked": "the code word", "constraints": [], "answer_format": "a word"},
                    "steps": ["read notes.txt", "shout it", "answer"]}),
        call("read_file", {"path": "notes.txt"}),
        call("shout", {"word": "lyon"}),
        "FINAL ANSWER: LYON",
        json.dumps({"satisfies": True, "problems": [], "final_answer": "LYON"}),
    ], model_info=ModelInfo(vision=False, function_calling=True, json_output=False,
                            family=ModelFamily.UNKNOWN, structured_output=False))
    agent = ReactiveResponder("solver", client, [*toolset, mine],
                              retry=RetryPolicy(max_attempts=1, base_delay_s=0, max_delay_s=0))
    result = await agent.solve("What is the code word in notes.txt, shouted?")
    print(json.dumps({
        "project_tools": tools.__file__, "project_eval": project_eval.MARK,
        "answer": result.answer, "status": result.status, "scored": question_scorer(result.answer, "lyon"),
        "trace": [step.detail for step in result.trace],
    }))

asyncio.run(main())
'''


def test_a_project_with_its_own_tools_and_eval_packages_uses_omne(tmp_path):
    project = tmp_path / "agent_project"
    (project / "tools").mkdir(parents=True)
    (project / "eval").mkdir()
    (project / "docs").mkdir()
    (project / "tools" / "__init__.py").write_text("def shout(word: str) -> str:\n    return word.upper() + '!'\n")
    (project / "eval" / "__init__.py").write_text("MARK = 'the project eval'\n")
    (project / "docs" / "notes.txt").write_text("The code word is lyon.\n")
    (project / "main.py").write_text(textwrap.dedent(PROJECT_MAIN))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNE_")}
    done = subprocess.run([sys.executable, "main.py"], cwd=project, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    out = __import__("json").loads(done.stdout.strip().splitlines()[-1])
    assert Path(out["project_tools"]).resolve() == (project / "tools" / "__init__.py").resolve()
    assert out["project_eval"] == "the project eval"
    assert out["status"] == "answered" and out["answer"] == "LYON" and out["scored"] is True
    trace = "\n".join(out["trace"])
    assert "The code word is lyon." in trace and "LYON!" in trace  # Omne's read_file and the project's own tool ran
