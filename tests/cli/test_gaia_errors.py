"""`omne gaia run|score|report` on bad input: one-line errors, never Tracebacks (issue 14 item 18, GAIA cases)."""

from __future__ import annotations

import json

import pytest

from tests.gaia.gaia_fixture import write_gaia_fixture

from .support import flat, invoke, omne, one_line_error

LATIN1 = "réponse caféine".encode("latin-1")  # not UTF-8


@pytest.fixture
def gaia_root(tmp_path):
    return write_gaia_fixture(tmp_path / "GAIA")


def _usage_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    text = flat(result.output)
    for needle in needles:
        assert needle in text, text


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--limit", "0", "'--limit': Input should be greater than or equal to 1"),
        ("--limit", "-3", "'--limit': Input should be greater than or equal to 1"),
        ("--time-limit", "0", "must be more than 0"),
        ("--time-limit", "-1.5", "must be more than 0"),
        ("--max-steps", "0", "'--max-steps': Input should be greater than or equal to 1"),
        ("--max-tokens", "-1", "'--max-tokens': Input should be greater than or equal to 1"),
        ("--concurrency", "0", "Input should be greater than or equal to 1"),
        ("--level", "4", "'--level': Input should be less than or equal to 3"),
        ("--level", "0", "'--level': Input should be greater than or equal to 1"),
        ("--split", "bogus", "'bogus' is not a GAIA split"),
    ],
)
def test_gaia_run_refuses_bad_options_before_any_work(gaia_root, tmp_path, option, value, needle):
    out = tmp_path / "run"
    result = invoke("gaia", "run", "--data", str(gaia_root), "--out", str(out), option, value, "--no-progress")
    _usage_error(result, needle)
    assert not out.exists()


def test_gaia_score_with_a_bogus_split_and_out_naming_a_file(gaia_root, tmp_path):
    answers = tmp_path / "submission.jsonl"
    answers.write_text(json.dumps({"task_id": "v-l1-plain", "model_answer": "42"}) + "\n")
    _usage_error(invoke("gaia", "score", str(answers), "--data", str(gaia_root), "--split", "bogus"), "'bogus' is not a GAIA split")
    a_file = tmp_path / "taken"
    a_file.write_text("keep")
    _usage_error(invoke("gaia", "run", "--data", str(gaia_root), "--out", str(a_file)), "is a file; --out names a folder")
    _usage_error(invoke("gaia", "report", str(tmp_path), "--out", str(a_file / "sub")), "is a file")
    assert a_file.read_text() == "keep"


def test_gaia_out_in_an_unwritable_place(gaia_root, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        done = omne("gaia", "run", "--data", str(gaia_root), "--out", str(locked / "run"), no_root_override=True)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert f"cannot write in {locked} (permission denied)" in flat(done.stderr)
    finally:
        locked.chmod(0o755)


def test_non_utf8_inputs_to_run_score_and_report(gaia_root, tmp_path):
    metadata = gaia_root / "2023" / "validation" / "metadata.jsonl"
    good = metadata.read_bytes()
    metadata.write_bytes(good + LATIN1 + b"\n")
    done = omne("gaia", "run", "--data", str(gaia_root), "--out", str(tmp_path / "run"), "--no-progress")
    one_line_error(done, str(metadata), "not UTF-8 text")
    answers = tmp_path / "submission.jsonl"
    answers.write_bytes(json.dumps({"task_id": "v-l1-plain", "model_answer": "42"}).encode() + b"\n" + LATIN1 + b"\n")
    done = omne("gaia", "score", str(answers), "--data", str(gaia_root))
    one_line_error(done, "not UTF-8 text")
    metadata.write_bytes(good)
    done = omne("gaia", "score", str(answers), "--data", str(gaia_root))
    one_line_error(done, str(answers), "not UTF-8 text")

    run_dir = tmp_path / "old-run"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_bytes(LATIN1 + b"\n")
    done = omne("gaia", "report", str(run_dir))
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "holds no results" in done.stderr
    done = omne("gaia", "score", str(run_dir / "results.jsonl"))
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
