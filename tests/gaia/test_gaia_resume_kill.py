"""A real `omne gaia run` process SIGKILLed mid-run, then rerun: exactly the remaining tasks, none twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from omne_eval.gaia import read_results
from tests.support.tree import tree_pythonpath

from .gaia_fixture import VALIDATION_TASKS, oracle_answers

REPO = Path(__file__).resolve().parents[2]


def _cmd(gaia_root: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "omne_cli", "gaia", "run", "--data", str(gaia_root),
        "--agent", "tests.gaia.gaia_agents:slow_oracle", "--out", str(out), "-j", "2", "--no-progress", "--no-report",
    ]  # fmt: skip


def _env(tmp_path: Path, log: Path, latency: float, **extra: str) -> dict[str, str]:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(oracle_answers()))
    return os.environ | extra | {
        "GAIA_TEST_ANSWERS": str(answers),
        "GAIA_TEST_LOG": str(log),
        "GAIA_TEST_LATENCY": str(latency),
        "PYTHONPATH": tree_pythonpath(),
    }


def _started(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_a_killed_run_resumes_with_exactly_the_remaining_tasks(gaia_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    results = out / "results.jsonl"
    log1, log2 = tmp_path / "started-1.log", tmp_path / "started-2.log"
    proc = subprocess.Popen(
        _cmd(gaia_root, out),
        cwd=REPO,
        env=_env(tmp_path, log1, 0.2, GAIA_TEST_STALL_FROM="5"),  # tasks 6.. stall: the kill lands mid-run
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while len(read_results(results)) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run recorded nothing in time"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    finished_first = set(read_results(results))
    assert 3 <= len(finished_first) < len(VALIDATION_TASKS)
    assert finished_first <= set(_started(log1))

    done = subprocess.run(
        _cmd(gaia_root, out), cwd=REPO, env=_env(tmp_path, log2, 0.0), capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    all_ids = {t.task_id for t in VALIDATION_TASKS}
    assert sorted(_started(log2)) == sorted(all_ids - finished_first)  # exactly the remaining tasks
    recorded = [json.loads(line)["task_id"] for line in results.read_text().splitlines() if line.strip()]
    assert sorted(recorded) == sorted(all_ids)  # no task twice
    assert all(r.correct for r in read_results(results).values())
    submission = [json.loads(line) for line in (out / "submission.jsonl").read_text().splitlines()]
    assert sorted(line["task_id"] for line in submission) == sorted(all_ids)
    assert f"ran {len(all_ids - finished_first)} task(s), {len(finished_first)} already done" in done.stdout
