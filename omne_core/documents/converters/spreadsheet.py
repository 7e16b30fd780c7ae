"""Spreadsheets (XLSX, XLS, CSV): every sheet as an addressed table with values, formulas' results,
merged ranges and fill colours (a colour-blind table loses answers that are encoded in colours)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..errors import CorruptFileError, EncryptedFileError
from ..types import ConvertedDocument, DocumentSection, SectionKind
from .base import ConvertJob, md_cell, md_table
from .colors import describe, openpyxl_color, theme_palette
from .text import read_text


def format_value(value: Any) -> str:
    """A cell value as text: integral floats without `.0`, dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time(0) else value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def column_letter(index: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _runs(cells: list[tuple[int, int]]) -> str:
    """Cells (row, col) as compact ranges: consecutive cells of one row become `A1:C1`."""
    by_row: dict[int, list[int]] = defaultdict(list)
    for row, col in cells:
        by_row[row].append(col)
    parts = []
    for row in sorted(by_row):
        cols = sorted(by_row[row])
        start = prev = cols[0]
        following: list[int | None] = [*cols[1:], None]
        for nxt in following:
            if nxt is not None and nxt == prev + 1:
                prev = nxt
                continue
            first = f"{column_letter(start)}{row}"
            parts.append(first if start == prev else f"{first}:{column_letter(prev)}{row}")
            if nxt is not None:
                start = prev = nxt
    return ", ".join(parts)


class SheetGrid:
    """One sheet's cells collected by a reader, rendered as an addressed markdown table plus legends."""

    def __init__(self, name: str, index: int) -> None:
        self.name = name
        self.index = index
        self.cells: dict[tuple[int, int], str] = {}
        self.fills: dict[tuple[int, int], str] = {}
        self.merged: list[str] = []
        self.max_row = 0
        self.max_col = 0
        self.truncated = False
        self.state: str | None = None

    def put(self, row: int, col: int, text: str, fill: str | None = None) -> None:
        if text:
            self.cells[(row, col)] = text
        if fill:
            self.fills[(row, col)] = fill
        if text or fill:
            self.max_row = max(self.max_row, row)
            self.max_col = max(self.max_col, col)

    def render(self) -> str:
        if not self.cells and not self.fills:
            return "(empty sheet)"
        lines = []
        if self.state and self.state != "visible":
            lines.append(f"(this sheet is {self.state})\n")
        lines.append(f"Used range: A1:{column_letter(self.max_col)}{self.max_row} "
                     f"({self.max_row} rows × {self.max_col} columns)\n")  # fmt: skip
        header = [""] + [column_letter(c) for c in range(1, self.max_col + 1)]
        rows = []
        for r in range(1, self.max_row + 1):
            row = [str(r)]
            for c in range(1, self.max_col + 1):
                text = md_cell(self.cells.get((r, c), ""))
                fill = self.fills.get((r, c))
                if fill:
                    text = f"{text} [fill {describe(fill)}]".strip()
                row.append(text)
            rows.append(row)
        lines.append(md_table(rows, header=header))
        if self.merged:
            lines.append("\nMerged cells: " + ", ".join(self.merged))
        if self.fills:
            by_colour: dict[str, list[tuple[int, int]]] = defaultdict(list)
            for cell, colour in self.fills.items():
                by_colour[colour].append(cell)
            lines.append("\nFill colours:")
            for colour, cells in sorted(by_colour.items(), key=lambda kv: -len(kv[1])):
                lines.append(f"- {describe(colour)} ({len(cells)} cells): {_runs(cells)}")
        if self.truncated:
            lines.append("\n(sheet truncated at the configured cell limit)")
        return "\n".join(lines)

    def section(self, source: str) -> DocumentSection:
        return DocumentSection(
            kind=SectionKind.SHEET,
            index=self.index,
            title=self.name,
            text=self.render(),
            source=source,
            metadata={"rows": self.max_row, "columns": self.max_col, "coloured_cells": len(self.fills)},
        )


def _document(job: ConvertJob, grids: list[SheetGrid], converter: str, warnings: list[str]) -> ConvertedDocument:
    metadata = {"converter": converter, "sheets": [g.name for g in grids]}
    return job.document([g.section(job.source) for g in grids], metadata, warnings=warnings)


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formulas(path: str) -> bool:
    """Whether any worksheet XML holds a formula (a byte scan, far cheaper than a second parse)."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                continue
            with zf.open(name) as fh:
                tail = b""
                while block := fh.read(1 << 20):
                    if _FORMULA_TAG.search(tail + block):
                        return True
                    tail = block[-16:]
    return False


def _formulas(path: str) -> dict[str, dict[tuple[int, int], str]]:
    """Formula text of every formula cell, per sheet (a fast read-only pass)."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        found: dict[str, dict[tuple[int, int], str]] = {}
        for ws in wb.worksheets:
            cells: dict[tuple[int, int], str] = {}
            for row in ws.iter_rows():
                for cell in row:
                    value = getattr(cell, "value", None)
                    if isinstance(value, str) and value.startswith("="):
                        cells[(cell.row, cell.column)] = value
                    elif value is not None and type(value).__name__ in {"ArrayFormula", "DataTableFormula"}:
                        cells[(cell.row, cell.column)] = str(getattr(value, "text", value))
            found[ws.title] = cells
        return found
    finally:
        wb.close()


def convert_xlsx(path: str, job: ConvertJob) -> ConvertedDocument:
    import zipfile

    import openpyxl

    try:
        with zipfile.ZipFile(path) as zf:
            if "EncryptedPackage" in zf.namelist():
                raise EncryptedFileError("the workbook is password-protected", job.source)
        wb = openpyxl.load_workbook(path, data_only=True, rich_text=False)
        formulas = _formulas(path) if _has_formulas(path) else {}
    except EncryptedFileError:
        raise
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
        raise CorruptFileError(f"not a readable XLSX workbook: {type(exc).__name__}: {exc}", job.source) from exc

    palette = theme_palette(getattr(wb, "loaded_theme", None))
    budget = job.settings.max_spreadsheet_cells
    grids: list[SheetGrid] = []
    warnings: list[str] = []
    for index, ws in enumerate(wb.worksheets, start=1):
        grid = SheetGrid(ws.title, index)
        grid.state = ws.sheet_state
        sheet_formulas = formulas.get(ws.title, {})
        for row in ws.iter_rows():
            for cell in row:
                if budget <= 0:
                    grid.truncated = True
                    break
                budget -= 1
                value = cell.value
                fill = None
                if cell.has_style and cell.fill is not None:
                    pattern = getattr(cell.fill, "fill_type", None) or getattr(cell.fill, "patternType", None)
                    if pattern and pattern != "none":
                        fill = openpyxl_color(cell.fill.fgColor, palette)
                    elif getattr(cell.fill, "stop", None):
                        fill = openpyxl_color(cell.fill.stop[0].color, palette)
                text = format_value(value)
                formula = sheet_formulas.get((cell.row, cell.column))
                if formula:
                    text = f"{text} ({formula})" if text else f"{formula} (result not stored in the file)"
                grid.put(cell.row, cell.column, text, fill)
            if grid.truncated:
                break
        for merged in ws.merged_cells.ranges:
            anchor = ws.cell(merged.min_row, merged.min_col).value
            grid.merged.append(f"{merged.coord}" + (f" (value {format_value(anchor)!r})" if anchor is not None else ""))
        if grid.truncated:
            warnings.append(f"sheet {ws.title!r} truncated at {job.settings.max_spreadsheet_cells} cells")
        grids.append(grid)
    wb.close()
    return _document(job, grids, "openpyxl", warnings)


def convert_xls(path: str, job: ConvertJob) -> ConvertedDocument:
    import xlrd

    try:
        book = xlrd.open_workbook(path, formatting_info=True)
    except xlrd.biffh.XLRDError as exc:
        if "encrypt" in str(exc).lower() or "password" in str(exc).lower():
            raise EncryptedFileError("the workbook is password-protected", job.source) from exc
        raise CorruptFileError(f"not a readable XLS workbook: {exc}", job.source) from exc
    except (AssertionError, IndexError, KeyError, ValueError, EOFError, OSError) as exc:
        raise CorruptFileError(f"not a readable XLS workbook: {type(exc).__name__}: {exc}", job.source) from exc

    budget = job.settings.max_spreadsheet_cells
    grids: list[Any] = []
    warnings: list[str] = []
    for index in range(book.nsheets):
        sheet = book.sheet_by_index(index)
        grid = SheetGrid(sheet.name, index + 1)
        for r in range(sheet.nrows):
            for c in range(sheet.ncols):
                if budget <= 0:
                    grid.truncated = True
                    break
                budget -= 1
                cell = sheet.cell(r, c)
                if cell.ctype == xlrd.XL_CELL_DATE:
                    try:
                        value: Any = xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)
                    except (ValueError, OverflowError):
                        value = cell.value
                elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                    value = bool(cell.value)
                elif cell.ctype == xlrd.XL_CELL_ERROR:
                    value = xlrd.error_text_from_code.get(cell.value, "#ERR")
                else:
                    value = cell.value if cell.ctype != xlrd.XL_CELL_EMPTY else None
                fill = None
                xf = book.xf_list[sheet.cell_xf_index(r, c)]
                if xf.background.fill_pattern:
                    rgb = book.colour_map.get(xf.background.pattern_colour_index)
                    if rgb:
                        fill = "#{:02X}{:02X}{:02X}".format(*rgb)
                grid.put(r + 1, c + 1, format_value(value), fill)
            if grid.truncated:
                break
        for rlo, rhi, clo, chi in sheet.merged_cells:
            grid.merged.append(f"{column_letter(clo + 1)}{rlo + 1}:{column_letter(chi)}{rhi}")
        grids.append(grid)
    return _document(job, grids, "xlrd", warnings)


def convert_csv(path: str, job: ConvertJob) -> ConvertedDocument:
    text = read_text(path, job.encoding)
    sample = text[:32_768]
    delimiter = "\t" if Path(job.name).suffix.lower() == ".tsv" else ","
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        pass
    rows = [[md_cell(v) for v in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    rows = [r for r in rows if any(r)]
    body = md_table(rows) if rows else "(empty file)"
    section = DocumentSection(
        kind=SectionKind.DOCUMENT,
        text=body,
        source=job.source,
        metadata={"rows": max(0, len(rows) - 1), "columns": max((len(r) for r in rows), default=0)},
    )
    metadata = {"converter": "csv", "delimiter": delimiter, "rows": max(0, len(rows) - 1)}
    return job.document([section], metadata)
