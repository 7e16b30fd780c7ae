"""PDF: text per page with PDFium (fast, robust); tables with pdfplumber on pages that draw ruling lines."""

from __future__ import annotations

from typing import Any

from ..errors import CorruptFileError, EncryptedFileError
from ..types import ConvertedDocument, DocumentSection, SectionKind
from .base import ConvertJob, md_cell, md_table


def _open(path: str, job: ConvertJob) -> Any:
    import pypdfium2

    try:
        return pypdfium2.PdfDocument(path)
    except pypdfium2.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise EncryptedFileError("the PDF is password-protected", job.source) from exc
        raise CorruptFileError(f"not a readable PDF: {exc}", job.source) from exc


_MIN_PATHS_FOR_TABLE = 4  # ruled tables draw lines/rectangles; pages without vector paths are skipped


def _path_objects(page: Any) -> int:
    import pypdfium2.raw as pdfium_c

    return sum(1 for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=2))


def _page_tables(path: str, pages: list[int]) -> dict[int, list[str]]:
    """Markdown tables on the given pages (1-based), using pdfplumber's ruling-line detection."""
    import pdfplumber

    found: dict[int, list[str]] = {}
    with pdfplumber.open(path, pages=pages) as pdf:
        for number, page in zip(pages, pdf.pages, strict=True):
            tables = [t for t in page.extract_tables() if t and len(t) > 1]
            rendered = [md_table([[md_cell(c) for c in row] for row in t]) for t in tables]
            if rendered:
                found[number] = rendered
            page.close()
    return found


def convert_pdf(path: str, job: ConvertJob) -> ConvertedDocument:
    document = _open(path, job)
    try:
        meta: dict[str, Any] = {k: v for k, v in document.get_metadata_dict(skip_empty=True).items()}
        page_count = len(document)
        texts = []
        table_candidates: list[int] = []
        for index in range(page_count):
            page = document[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n").strip())
            textpage.close()
            if len(table_candidates) < job.settings.pdf_table_max_pages and _path_objects(page) >= _MIN_PATHS_FOR_TABLE:
                table_candidates.append(index + 1)
            page.close()
    finally:
        document.close()

    warnings: list[str] = []
    tables: dict[int, list[str]] = {}
    if table_candidates:
        try:
            tables = _page_tables(path, table_candidates)
        except Exception as exc:  # tables are a bonus: the text is already extracted
            warnings.append(f"table extraction failed: {type(exc).__name__}: {exc}")

    sections = []
    empty_pages = []
    for number, text in enumerate(texts, start=1):
        body = text
        if number in tables:
            body += "\n\n" + "\n\n".join(tables[number])
        if not body:
            empty_pages.append(number)
            body = "(no extractable text on this page: scanned image or empty)"
        sections.append(DocumentSection(kind=SectionKind.PAGE, index=number, text=body, source=job.source))
    if empty_pages:
        warnings.append(f"{len(empty_pages)} page(s) without extractable text: {empty_pages[:20]}")
    metadata = {"converter": "pypdfium2+pdfplumber", "pages": page_count, **{k.lower(): v for k, v in meta.items()}}
    if tables:
        metadata["pages_with_tables"] = sorted(tables)
    return job.document(sections, metadata, warnings=warnings, title=meta.get("Title"))
