"""Reports (markdown + HTML + charts) and the `omne gaia run | score | report` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from omne_cli.app import app
from omne_eval.gaia import ErrorClass, GaiaResult, write_report

from .gaia_fixture import VALIDATION_TASKS, oracle_answers

runner = CliRunner()


def _result(task_id: str, level: int, correct: bool, **extra) -> GaiaResult:  # type: ignore[no-untyped-def]
    return GaiaResult(task_id=task_id, level=level, model_answer="a" if correct else "b", ground_truth="a",
                      correct=correct, lenient_correct=correct, **extra)  # fmt: skip


def test_report_has_level_accuracy_costs_times_and_error_classes(tmp_path: Path) -> None:
    results = [
        _result("t1", 1, True, cost_usd=0.01, seconds=2.0, prompt_tokens=1000, completion_tokens=100),
        _result("t2", 1, True, cost_usd=0.03, seconds=4.0),
        _result("t3", 1, False, cost_usd=0.02, seconds=6.0),
        _result("t4", 2, False, seconds=600.0, error="timed out after 600 s", error_class=ErrorClass.TIMEOUT),
        _result("t5", 3, True, seconds=1.0),
    ]
    files = write_report(results, tmp_path / "rep", lenient=True)
    md = files.markdown.read_text()
    assert "| 1 | 3 | 3 | 2 | 66.7% | 66.7% | 0 | $0.0600 | 4.0 |" in md
    assert "| 2 | 1 | 1 | 0 | 0.0% | 0.0% | 1 | n/a | 600.0 |" in md  # t4 has no price
    assert "| all | 5 | 5 | 3 | 60.0% | 60.0% | 1 | $0.0600+? |" in md
    assert "| all | 5 | 5 | 3 | 60.0% |" in md
    assert "| timeout | 1 |" in md and "| ok | 4 |" in md
    assert "t4 | 2 | timeout | timed out after 600 s" in md
    assert "lenient view, not official" in md
    assert files.summary.seconds_max == 600.0 and files.summary.prompt_tokens == 1000
    names = {p.name for p in files.charts}
    assert names == {"accuracy_by_level.png", "cost_distribution.png", "time_distribution.png", "error_classes.png"}
    for chart in files.charts:
        assert f"report_files/{chart.name}" in md
        with Image.open(chart) as img:
            assert img.format == "PNG" and img.width > 100
    html = files.html.read_text()
    assert html.count("data:image/png;base64,") == 4  # self-contained
    assert "<td>66.7%</td>" in html and "<h2>Accuracy per level</h2>" in html


def test_report_escapes_model_text_in_html(tmp_path: Path) -> None:
    results = [GaiaResult(task_id="x", level=1, model_answer="<script>alert(1)</script>", ground_truth="a|b", correct=False)]
    files = write_report(results, tmp_path)
    assert "<script>" not in files.html.read_text()
    assert "a\\|b" in files.markdown.read_text()  # a pipe does not break the markdown table


@pytest.fixture
def agent_env(tmp_path: Path) -> dict[str, str]:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(oracle_answers() | {"v-l1-bird": "pelican"}))
    return {"GAIA_TEST_ANSWERS": str(answers), "GAIA_TEST_LOG": str(tmp_path / "started.log")}


def test_cli_run_score_report(gaia_root: Path, tmp_path: Path, agent_env: dict[str, str]) -> None:
    out = tmp_path / "run"
    args = ["gaia", "run", "--data", str(gaia_root), "--agent", "tests.gaia.gaia_agents:slow_oracle",
            "--out", str(out), "--no-progress", "-j", "4"]  # fmt: skip
    res = runner.invoke(app, args, env=agent_env)
    assert res.exit_code == 0, res.output
    assert f"{len(VALIDATION_TASKS)} task(s) from" in res.output and "87.5%" in res.output  # 7 of 8
    assert (out / "report.md").is_file() and (out / "report.html").is_file()

    res = runner.invoke(app, ["gaia", "score", str(out / "submission.jsonl"), "--data", str(gaia_root), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["accuracy"] == pytest.approx(7 / 8) and summary["overall"]["correct"] == 7

    res = runner.invoke(app, ["gaia", "score", str(out / "results.jsonl"), "--lenient"])
    assert res.exit_code == 0 and "87.5%" in res.output

    res = runner.invoke(app, ["gaia", "score", str(out / "submission.jsonl")])
    assert res.exit_code == 2 and "--data" in res.output

    res = runner.invoke(app, ["gaia", "report", str(out), "--out", str(tmp_path / "rep"), "--lenient"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rep" / "report.html").is_file()
    assert "| v-l1-bird | 1 | pelican | seagull |" in (tmp_path / "rep" / "report.md").read_text()


def test_cli_test_split_writes_a_submission_without_scoring(gaia_root: Path, tmp_path: Path, agent_env) -> None:
    out = tmp_path / "run"
    args = ["gaia", "run", "--data", str(gaia_root), "--split", "test", "--agent", "tests.gaia.gaia_agents:slow_oracle",
            "--out", str(out), "--no-progress", "--no-report"]  # fmt: skip
    res = runner.invoke(app, args, env=agent_env)
    assert res.exit_code == 0, res.output
    assert "1 placeholder row(s) skipped, 3 with a hidden answer" in res.output
    assert len((out / "submission.jsonl").read_text().splitlines()) == 3
    res = runner.invoke(app, ["gaia", "score", str(out / "results.jsonl")])
    assert res.exit_code == 2 and "hidden" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gaia", "run"], "HF_TOKEN"),  # no --data and no token
        (["gaia", "run", "--data", "{root}", "--agent", "no_such_module:make"], "cannot import"),
        (["gaia", "run", "--data", "{root}", "--agent", "no-colon"], "module:function"),
        (["gaia", "run", "--data", "{root}", "--split", "train"], "validation or test"),
        (["gaia", "run", "--data", "{root}", "--task-id", "nope"], "unknown task id"),
        (["gaia", "report", "{root}/absent"], "no results file"),
    ],
)
def test_cli_errors_are_clear(gaia_root: Path, args: list[str], message: str) -> None:
    res = runner.invoke(app, [a.replace("{root}", str(gaia_root)) for a in args])
    assert res.exit_code == 2
    assert message in res.output


def test_cli_run_with_the_hub_unreachable_stops_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends
    res = runner.invoke(app, ["gaia", "run", "--no-progress"],
                        env={"HF_TOKEN": "hf_test", "HF_ENDPOINT": f"http://127.0.0.1:{port}"})  # fmt: skip
    assert res.exit_code == 2
    assert f"Cannot reach the Hugging Face Hub at http://127.0.0.1:{port}" in res.output


HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    "[click](javascript:alert(3))",
    "**bold** _it_ `code` ![i](http://x/i.png)",
    "a | b <b>c</b> &amp; &lt;",
]


def test_report_shows_hostile_task_text_as_text_in_html_and_markdown(tmp_path: Path) -> None:
    """Answers, ground truths, errors, ids and the title come from agents and files: text, never markup."""
    from markdown_it import MarkdownIt

    results = [
        GaiaResult(task_id=f"id{i} {text}", level=1, model_answer=text, ground_truth=f"truth {text}", correct=False,
                   error=f"failed on {text}", error_class=ErrorClass.AGENT_ERROR)
        for i, text in enumerate(HOSTILE)
    ]  # fmt: skip
    files = write_report(results, tmp_path, title="Run <i>1</i> **x**")
    html = files.html.read_text()
    rendered = MarkdownIt("commonmark").enable("table").render(files.markdown.read_text())
    for page in (html, rendered):
        for markup in ("<img src=x", "<script>", "<b>c", "<i>1", "<a href", "<strong>", "<em>", "<code>", 'src="http://x'):
            assert markup not in page, markup
    for text in HOSTILE:  # each shows as the literal text (HTML-escaped in the page source)
        assert text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered and "**bold**" in rendered
    assert "[click](javascript:alert(3))" in rendered
