"""Writes a GAIA-format directory (2023/validation and 2023/test) with real XLSX, PDF and PNG attachments."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from PIL import Image
from reportlab.pdfgen import canvas


@dataclass(frozen=True)
class FixtureTask:
    task_id: str
    level: int
    question: str
    answer: str
    file_name: str = ""


XLSX_VALUES = [12.5, 30, 7.25, 50, 0.25]  # column B of sales.xlsx; the total is 100
PDF_CITY = "Reykjavik"  # written on page 2 of report.pdf
PNG_SIZE = (37, 19)  # width, height of chart.png

VALIDATION_TASKS = [
    FixtureTask("v-l1-plain", 1, "What is six times seven?", "42"),
    FixtureTask("v-l1-xlsx", 1, "What is the total of the Amount column in the attached spreadsheet?", "100", "sales.xlsx"),
    FixtureTask("v-l1-bird", 1, "Which bird is on the harbour sign?", "seagull"),
    FixtureTask("v-l2-pdf", 2, "Which city is named on page 2 of the attached report?", PDF_CITY, "report.pdf"),
    FixtureTask("v-l2-png", 2, "How wide, in pixels, is the attached image?", "37", "chart.png"),
    FixtureTask("v-l2-list", 2, "List the primary colours of paint, in the usual order.", "red, yellow, blue"),
    FixtureTask("v-l3-money", 3, "How many US dollars did the project cost?", "1000"),
    FixtureTask("v-l3-list-num", 3, "Give the first three primes, comma separated.", "2, 3, 5"),
]

TEST_TASKS = [
    FixtureTask("t-1", 1, "What is the capital of Iceland?", "?"),
    FixtureTask("t-2", 2, "How many legs does a spider have?", "?"),
    FixtureTask("t-3", 3, "Read the attached spreadsheet and total column B.", "?", "sales.xlsx"),
]


def _write_xlsx(path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Sales"
    ws.append(["Item", "Amount"])
    for i, value in enumerate(XLSX_VALUES, start=1):
        ws.append([f"item {i}", value])
    wb.save(path)


def _write_pdf(path: Path) -> None:
    c = canvas.Canvas(str(path))
    c.drawString(72, 720, "Annual report. Page one has nothing of interest.")
    c.showPage()
    c.drawString(72, 720, f"The secret city is {PDF_CITY}.")
    c.showPage()
    c.save()


def _write_png(path: Path) -> None:
    Image.new("RGB", PNG_SIZE, (200, 30, 30)).save(path)


def _row(task: FixtureTask) -> dict:
    return {
        "task_id": task.task_id,
        "Question": task.question,
        "Level": str(task.level),  # the real files store the level as a string
        "Final answer": task.answer,
        "file_name": task.file_name,
        "Annotator Metadata": {"Steps": "1. look it up", "Number of steps": "1", "Tools": "none"},
    }


def _write_split(split_dir: Path, tasks: list[FixtureTask], extra_rows: list[dict] = ()) -> None:
    split_dir.mkdir(parents=True, exist_ok=True)
    _write_xlsx(split_dir / "sales.xlsx")
    _write_pdf(split_dir / "report.pdf")
    _write_png(split_dir / "chart.png")
    with (split_dir / "metadata.jsonl").open("w", encoding="utf-8") as fh:
        for row in [*extra_rows, *(_row(t) for t in tasks)]:
            fh.write(json.dumps(row) + "\n")


PLACEHOLDER_ROW = {
    "task_id": "0-0-0-0-0",
    "Question": "placeholder",
    "Level": "1",
    "Final answer": "?",
    "file_name": "",
    "Annotator Metadata": {},
}


def write_gaia_fixture(root: Path) -> Path:
    """Create `root/2023/{validation,test}` and return `root`."""
    _write_split(root / "2023" / "validation", VALIDATION_TASKS)
    _write_split(root / "2023" / "test", TEST_TASKS, extra_rows=[PLACEHOLDER_ROW])
    return root


def oracle_answers() -> dict[str, str]:
    return {t.task_id: t.answer for t in VALIDATION_TASKS}
