"""`omne gaia run` as a user runs it: a factory module in the current folder, reruns into a run folder."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omne_cli.app import app
from omne_eval.gaia import read_results

from .gaia_fixture import VALIDATION_TASKS, oracle_answers

runner = CliRunner()

_FACTORY_MODULE = '''
from omne_eval.gaia.scripted import ScriptedAgent, final_answer_reply

ANSWERS = {answers!r}

def make_agent(task, settings):
    return ScriptedAgent([final_answer_reply(ANSWERS.get(task.task_id, "{default}"))])
'''


def _factory_module(folder: Path, answers: dict[str, str], default: str = "no idea") -> str:
    """Write a uniquely named factory module into `folder`; returns its module name."""
    name = f"my_agents_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(_FACTORY_MODULE.format(answers=answers, default=default), encoding="utf-8")
    return name


def test_an_agent_module_in_the_current_folder_imports_as_with_python_m(
    gaia_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    module = _factory_module(project, oracle_answers())
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(project))])
    out = tmp_path / "run"
    args = ["gaia", "run", "--data", str(gaia_root), "--agent", f"{module}:make_agent", "--out", str(out),
            "--no-progress", "--no-report"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    results = read_results(out / "results.jsonl")
    assert len(results) == len(VALIDATION_TASKS) and all(r.correct for r in results.values())
    assert json.loads((out / "run.json").read_text())["agent"] == f"{module}:make_agent"


def test_a_rerun_into_a_run_folder_with_another_agent_refuses(
    gaia_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    first = _factory_module(tmp_path, oracle_answers())
    second = _factory_module(tmp_path, {}, default="wrong")
    out = tmp_path / "run"
    common = ["gaia", "run", "--data", str(gaia_root), "--out", str(out), "--no-progress", "--no-report"]
    assert runner.invoke(app, [*common, "--agent", f"{first}:make_agent", "--limit", "2"]).exit_code == 0
    results = (out / "results.jsonl").read_bytes()

    res = runner.invoke(app, [*common, "--agent", f"{second}:make_agent"])
    assert res.exit_code == 2 and "holds another run" in res.output and second in res.output
    res = runner.invoke(app, [*common, "--agent", f"{first}:make_agent", "--model", "another-model"])
    assert res.exit_code == 2 and "another-model" in res.output
    assert (out / "results.jsonl").read_bytes() == results
    assert json.loads((out / "run.json").read_text())["agent"] == f"{first}:make_agent"


def test_run_on_a_validation_folder_as_the_test_split_is_an_error(gaia_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["gaia", "run", "--data", str(gaia_root / "2023" / "validation"), "--split", "test",
            "--agent", "omne_eval.gaia.scripted:scripted_factory", "--out", str(out), "--no-progress"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "not GAIA's test split" in res.output, res.output
    assert not out.exists()


def test_score_a_partial_submission(gaia_root: Path, tmp_path: Path) -> None:
    answered = {"v-l1-plain": "42", "v-l1-bird": "seagull", "v-l2-list": "blue, yellow, red", "v-l3-money": ""}
    submission = tmp_path / "submission.jsonl"
    submission.write_text("".join(json.dumps({"task_id": k, "model_answer": v}) + "\n" for k, v in answered.items()))

    res = runner.invoke(app, ["gaia", "score", str(submission), "--data", str(gaia_root), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["overall"]["tasks"] == len(VALIDATION_TASKS) and summary["overall"]["correct"] == 2
    unanswered = len(VALIDATION_TASKS) - len(answered)
    assert summary["error_classes"] == {"unanswered": unanswered, "ok": 3, "no_answer": 1}  # never "ok" for them
    assert "--answered-only" in res.stderr

    res = runner.invoke(app, ["gaia", "score", str(submission), "--data", str(gaia_root), "--json", "--answered-only"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["overall"]["tasks"] == summary["overall"]["scored"] == len(answered)
    assert summary["accuracy"] == pytest.approx(2 / 4)
    assert "unanswered" not in summary["error_classes"]


def test_run_warns_about_git_lfs_pointer_attachments(
    gaia_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{'b' * 64}\nsize 77\n"
    (gaia_root / "2023" / "validation" / "chart.png").write_text(pointer)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    module = _factory_module(tmp_path, {})
    args = ["gaia", "run", "--data", str(gaia_root), "--agent", f"{module}:make_agent", "--task-id", "v-l2-png",
            "--out", str(tmp_path / "run"), "--no-progress", "--no-report"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "1 attachment(s) are Git LFS pointers, not the files" in res.stderr and "v-l2-png" in res.stderr
