"""Real test files made with the libraries that write them (fpdf2, reportlab, openpyxl, xlsxwriter,
xlwt, python-docx, python-pptx, Pillow, zipfile, wave)."""

from __future__ import annotations

import io
import math
import struct
import wave
import zipfile
from pathlib import Path


def make_pdf(path: Path, pages: list[str]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        for line in text.splitlines():
            pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def make_pdf_with_table(path: Path) -> Path:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    doc = SimpleDocTemplate(str(path), pagesize=A4)
    table = Table([["City", "Population"], ["Oslo", "709037"], ["Bergen", "291940"]])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 1, colors.black)]))
    doc.build([Paragraph("Norwegian cities", getSampleStyleSheet()["Heading1"]), table])
    return path


def make_encrypted_pdf(path: Path, source: Path) -> Path:
    import pypdf

    writer = pypdf.PdfWriter(clone_from=str(source))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    writer.write(str(path))
    return path


def make_xlsx(path: Path) -> Path:
    """Two sheets: values, a red and a theme-coloured fill, a merged title, a hidden sheet."""
    import openpyxl
    from openpyxl.styles import Color, PatternFill

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Inventory"
    ws["A1"] = "Inventory 2024"
    ws.merge_cells("A1:C1")
    ws.append(["Item", "Count", "Price"])
    ws.append(["Apples", 12, 0.5])
    ws.append(["Pears", 7, 0.75])
    ws["A3"].fill = PatternFill("solid", fgColor="FFFF0000")
    ws["B4"].fill = PatternFill("solid", fgColor=Color(theme=4))  # accent1 of openpyxl's theme (Office 2007): 4F81BD
    ws["C4"].fill = PatternFill("solid", fgColor="FFFFFF00")
    hidden = wb.create_sheet("Notes")
    hidden["A1"] = "secret note"
    hidden.sheet_state = "hidden"
    wb.save(path)
    return path


def make_xlsx_with_formula(path: Path) -> Path:
    """A formula whose result is stored in the file, as Excel saves it."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Totals")
    ws.write_row(0, 0, ["a", "b"])
    ws.write_row(1, 0, [2, 3])
    ws.write_formula("C2", "=A2*B2", None, 6)
    ws.write_formula("C3", "=SUM(A2:B2)")  # no stored result
    wb.close()
    return path


def make_xls(path: Path) -> Path:
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Legacy")
    green = xlwt.easyxf("pattern: pattern solid, fore_colour bright_green;")
    sheet.write_merge(0, 0, 0, 1, "Header")
    sheet.write(1, 0, "alpha")
    sheet.write(1, 1, 42, green)
    book.save(str(path))
    return path


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Introduction", level=1)
    document.add_paragraph("Omne keeps raw data and conclusions.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Metric"
    table.cell(0, 1).text = "Value"
    table.cell(1, 0).text = "Recall"
    table.cell(1, 1).text = "0.93"
    document.add_heading("Results", level=1)
    document.add_paragraph("The answer is forty-two.")
    document.save(path)
    return path


def make_pptx(path: Path) -> Path:
    import pptx

    presentation = pptx.Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[1])
    first.shapes.title.text = "Quarterly Review"
    first.placeholders[1].text = "Revenue grew 12%"
    second = presentation.slides.add_slide(presentation.slide_layouts[1])
    second.shapes.title.text = "Next Steps"
    second.placeholders[1].text = "Hire two engineers"
    presentation.save(path)
    return path


def make_jpeg_with_gps(path: Path) -> Path:
    from PIL import Image

    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "OmneCam"  # Make
    exif[0x0110] = "Model 1"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 29.5)
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.0)
    image.save(path, exif=exif)
    return path


def make_png(path: Path, colour: tuple[int, int, int] = (0, 128, 255), size: tuple[int, int] = (32, 32)) -> Path:
    from PIL import Image

    Image.new("RGB", size, colour).save(path)
    return path


def png_bytes(colour: tuple[int, int, int] = (10, 200, 10)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def make_wav(path: Path, seconds: float = 0.5, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(int(seconds * rate))
        )
        out.writeframes(frames)
    return path


def make_zip(path: Path, members: dict[str, bytes | Path]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            if isinstance(content, Path):
                zf.write(content, name)
            else:
                zf.writestr(name, content)
    return path
