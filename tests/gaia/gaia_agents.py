"""Agent factories for the GAIA tests (importable as `gaia_agents:NAME` by a subprocess CLI run).

The model is scripted (`ScriptedAgent`); files, the results store and the runner are real.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from openpyxl import load_workbook
from PIL import Image
from pypdf import PdfReader

from omne_eval.gaia.scripted import ScriptedAgent, final_answer_reply
from omne_eval.gaia.task import GaiaAgentTask

_ATTACHED = re.compile(r"^Attached file: (.+)$", re.MULTILINE)


def read_attachment_answer(message: str) -> str:
    """Answer an attachment task by actually reading the file the task message points to."""
    match = _ATTACHED.search(message)
    if not match:
        return final_answer_reply("no file")
    path = Path(match.group(1))
    if path.suffix == ".xlsx":
        ws = load_workbook(path, data_only=True).active
        total = sum(row[1] for row in ws.iter_rows(min_row=2, values_only=True))
        return final_answer_reply(f"{total:g}")
    if path.suffix == ".pdf":
        text = PdfReader(path).pages[1].extract_text()
        return final_answer_reply(re.search(r"secret city is (\w+)", text).group(1))
    if path.suffix == ".png":
        with Image.open(path) as img:
            return final_answer_reply(str(img.width))
    return final_answer_reply("unknown file type")


def slow_oracle(task: GaiaAgentTask, settings: object) -> ScriptedAgent:
    """Oracle answers from $GAIA_TEST_ANSWERS after $GAIA_TEST_LATENCY s; logs each task to $GAIA_TEST_LOG.

    With $GAIA_TEST_STALL_FROM=n, the n-th task started (0-based) and later ones take a minute, so a run
    is surely still going when a test kills it.
    """
    log = Path(os.environ["GAIA_TEST_LOG"])
    started = len(log.read_text().split()) if log.exists() else 0
    with log.open("a", encoding="utf-8") as fh:
        fh.write(task.task_id + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    answers = json.loads(Path(os.environ["GAIA_TEST_ANSWERS"]).read_text())
    latency = float(os.environ.get("GAIA_TEST_LATENCY", "0"))
    stall_from = os.environ.get("GAIA_TEST_STALL_FROM")
    if stall_from is not None and started >= int(stall_from):
        latency = 60.0
    return ScriptedAgent([final_answer_reply(answers.get(task.task_id, "?"))], latency_s=latency)
