"""Conversion throughput: PDF pages/second and XLSX rows/second on generated files of growing size.

    .venv/bin/python bench/convert.py [--quick]

Each file is converted once to warm the worker process, then timed over `--repeat` runs (best kept).
The growth line compares how time grows against how size grows (exponent 1.0 = linear).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from pathlib import Path

from omne_core.config import DocumentSettings
from omne_core.documents import chunk_document, convert_file


def make_pdf(path: Path, pages: int) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for page in range(pages):
        pdf.add_page()
        for line in range(45):
            pdf.cell(0, 5.5, f"Page {page + 1}, line {line + 1}: revenue {page * 45 + line} units, status nominal.",
                     new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.output(str(path))


def make_xlsx(path: Path, rows: int) -> None:
    import openpyxl
    from openpyxl.styles import PatternFill

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "name", "region", "qty", "price", "total"])
    red = PatternFill("solid", fgColor="FFFF0000")
    for i in range(1, rows + 1):
        ws.append([i, f"item {i}", ["north", "south", "east", "west"][i % 4], i % 97, round(i * 0.37, 2), f"=D{i + 1}*E{i + 1}"])
        if i % 10 == 0:
            ws.cell(row=i + 1, column=4).fill = red
    wb.save(path)


async def timed(path: Path, settings: DocumentSettings, repeat: int) -> tuple[float, float, int]:
    """Best conversion time, chunking time of that run, number of chunks."""
    await convert_file(path, settings)  # warm the worker and caches
    best, chunk_s, chunks = math.inf, 0.0, 0
    for _ in range(repeat):
        start = time.perf_counter()
        doc = await convert_file(path, settings)
        elapsed = time.perf_counter() - start
        if elapsed < best:
            start = time.perf_counter()
            pieces = chunk_document(doc, settings.chunk_tokens, settings.chunk_overlap_tokens)
            best, chunk_s, chunks = elapsed, time.perf_counter() - start, len(pieces)
    return best, chunk_s, chunks


def growth(sizes: list[int], times: list[float]) -> str:
    steps = []
    points = list(zip(sizes, times, strict=True))
    for (s0, t0), (s1, t1) in zip(points, points[1:], strict=False):
        exponent = math.log(t1 / t0) / math.log(s1 / s0)
        steps.append(f"{s0}→{s1}: ×{s1 / s0:g} size, ×{t1 / t0:.1f} time (exponent {exponent:.2f})")
    return "; ".join(steps)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (10, 100 pages; 1k, 10k rows)")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    settings = DocumentSettings(per_file_timeout_s=900, max_file_bytes=1 << 30)
    pages = [10, 100] if args.quick else [10, 100, 1000]
    rows = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]

    with tempfile.TemporaryDirectory(prefix="omne-bench-") as tmp:
        root = Path(tmp)
        print("PDF (pypdfium2 text per page; pdfplumber tables only on pages that draw ruling lines)")
        print(f"{'pages':>7} {'MB':>7} {'convert s':>10} {'pages/s':>9} {'chunk s':>8} {'chunks':>7}")
        pdf_times = []
        for n in pages:
            path = root / f"p{n}.pdf"
            make_pdf(path, n)
            best, chunk_s, chunks = await timed(path, settings, args.repeat)
            pdf_times.append(best)
            print(f"{n:>7} {path.stat().st_size / 1e6:>7.2f} {best:>10.3f} {n / best:>9.1f} {chunk_s:>8.3f} {chunks:>7}")
        print("growth:", growth(pages, pdf_times))
        print()
        print("XLSX (openpyxl: values, formulas, merged cells, fill colours; 6 columns, every 10th row coloured)")
        print(f"{'rows':>7} {'MB':>7} {'convert s':>10} {'rows/s':>9} {'chunk s':>8} {'chunks':>7}")
        xlsx_times = []
        for n in rows:
            path = root / f"r{n}.xlsx"
            make_xlsx(path, n)
            best, chunk_s, chunks = await timed(path, settings, args.repeat)
            xlsx_times.append(best)
            print(f"{n:>7} {path.stat().st_size / 1e6:>7.2f} {best:>10.3f} {n / best:>9.0f} {chunk_s:>8.3f} {chunks:>7}")
        print("growth:", growth(rows, xlsx_times))


if __name__ == "__main__":
    asyncio.run(main())
