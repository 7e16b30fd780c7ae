"""Ctrl-C during a reply of `omne chat --no-stream` on the REAL bundled model, in a real subprocess: the model
call is stopped safely (no crash), the chat ends with exit code 130, no further turn starts, and the store is
readable with nothing of the cut turn in it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from omne_core.config import load_settings
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore
from tests.support.local_model import requires_local
from tests.support.tree import tree_pythonpath

pytestmark = [requires_local, pytest.mark.llamacpp]

USER = "ivy"
SEED = "user: I love dragons and very long stories about them."
LINES = ["Tell me a very long story about dragons, with many chapters.", "A second question that must never run."]
CRASH_SIGNS = ("Traceback", "Segmentation", "Fatal Python error", "Exception ignored", "core dumped")


async def _seed(data_dir: Path) -> None:
    async with await MemoryStore.open(load_settings(data_dir=data_dir)) as store:
        await store.add(MemoryRecord(kind=MemoryKind.MESSAGE, text=SEED, scope=MemoryScope(user_id=USER, session_id="s0")))


async def _records(data_dir: Path) -> list[MemoryRecord]:
    async with await MemoryStore.open(load_settings(data_dir=data_dir)) as store:
        return await store.list(MemoryScope(user_id=USER), limit=None, include_inactive=True)


def _as_at_a_terminal() -> None:
    """Ctrl-C as a terminal delivers it: a shell without job control starts background commands with SIGINT
    ignored (`make test &` in a script), and the chat would inherit that and never see the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_chat(data_dir: Path, delay_s: float) -> tuple[int, str, str]:
    """Start `omne chat --no-stream`, send two lines, press Ctrl-C `delay_s` after the first turn's model call
    starts (right after the chat prints the memories it used); return (exit code, stdout, stderr)."""
    env = {
        **os.environ,
        "PYTHONPATH": tree_pythonpath(),
        "PYTHONUNBUFFERED": "1",
        "OMNE_DATA_DIR": str(data_dir),
        "OMNE_MODELS__MAIN__MAX_TOKENS": "2000",  # far longer than the test waits: the reply is still running
        "OMNE_MODELS__MAIN__N_CTX": "4096",
    }
    errors = data_dir / "stderr.txt"
    with errors.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "omne_cli", "chat", "--user", USER, "--no-stream", "--reflect-every", "0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sink, env=env, cwd=data_dir,
            preexec_fn=_as_at_a_terminal,
        )  # fmt: skip
    out: list[bytes] = []
    started = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in iter(proc.stdout.readline, b""):
            out.append(line)
            if b"memories used" in line:  # printed just before the model is called
                started.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        assert proc.stdin is not None
        proc.stdin.write(("\n".join(LINES) + "\n").encode())
        proc.stdin.flush()
        if not started.wait(timeout=180):
            pytest.fail(f"the chat never reached the model call:\n{b''.join(out).decode()}")
        time.sleep(delay_s)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)  # stdout is read to its end by the pump alone
    return proc.returncode, b"".join(out).decode(errors="replace"), errors.read_text(errors="replace")


@pytest.mark.parametrize("delay_s", [0.2, 1.0, 3.0, 6.0])
def test_ctrl_c_during_a_reply_stops_the_chat_cleanly(tmp_path, bundled_gguf, delay_s):
    data_dir = tmp_path / "data"
    asyncio.run(_seed(data_dir))

    code, out, err = interrupt_chat(data_dir, delay_s)

    assert code == 130, f"exit code {code}\nstdout:\n{out}\nstderr:\n{err}"  # interrupted, not -11 (segfault)
    assert not [sign for sign in CRASH_SIGNS if sign in err], err
    assert "interrupted" in out
    assert "omne>" not in out  # the cut reply was never shown as an answer, and no second turn ran
    records = asyncio.run(_records(data_dir))  # the store opens and reads fine after the interrupt
    assert [r.text for r in records] == [SEED]  # nothing of the cut turn, nothing of the line after it
    assert not [r for r in records if r.kind is not MemoryKind.MESSAGE]  # and no reflection ran


def test_a_chat_that_ends_normally_exits_cleanly(tmp_path, bundled_gguf):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": tree_pythonpath(), "OMNE_DATA_DIR": str(data_dir), "OMNE_MODELS__MAIN__MAX_TOKENS": "8",
           "OMNE_MODELS__MAIN__N_CTX": "2048"}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "omne_cli", "chat", "--user", USER, "--no-stream", "--reflect-every", "0"],
        input=b"Hello there.\n", capture_output=True, env=env, cwd=data_dir, timeout=600,
    )  # fmt: skip
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, err
    assert not [sign for sign in CRASH_SIGNS if sign in err], err  # no "Exception ignored in Llama.__del__"
    assert "omne>" in proc.stdout.decode() and "bye" in proc.stdout.decode()
    speakers = sorted(r.metadata["speaker"] for r in asyncio.run(_records(data_dir)) if r.kind is MemoryKind.MESSAGE)
    assert speakers == ["omne", "user"]  # a reply that completed is stored as usual
