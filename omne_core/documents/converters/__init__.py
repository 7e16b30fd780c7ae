"""Local converters by kind, named as `module:function` so a worker process can import them."""

from __future__ import annotations

from ..types import DocumentKind
from .base import ConvertJob

_PKG = "omne_core.documents.converters"

LOCAL_CONVERTERS: dict[DocumentKind, str] = {
    DocumentKind.PDF: f"{_PKG}.pdf:convert_pdf",
    DocumentKind.DOCX: f"{_PKG}.markup:convert_docx",
    DocumentKind.PPTX: f"{_PKG}.markup:convert_pptx",
    DocumentKind.HTML: f"{_PKG}.markup:convert_html",
    DocumentKind.XLSX: f"{_PKG}.spreadsheet:convert_xlsx",
    DocumentKind.XLS: f"{_PKG}.spreadsheet:convert_xls",
    DocumentKind.CSV: f"{_PKG}.spreadsheet:convert_csv",
    DocumentKind.JSON: f"{_PKG}.structured:convert_json",
    DocumentKind.XML: f"{_PKG}.structured:convert_xml",
    DocumentKind.TEXT: f"{_PKG}.text:convert_text",
    DocumentKind.IMAGE: f"{_PKG}.media:convert_image",
    DocumentKind.AUDIO: f"{_PKG}.media:convert_audio",
}

# Extension → (converter, kind, mime type) for formats added by applications (see `register_converter`).
EXTENSION_CONVERTERS: dict[str, tuple[str, DocumentKind, str]] = {}


def register_converter(
    extension: str,
    target: str,
    kind: DocumentKind = DocumentKind.TEXT,
    mime_type: str = "application/octet-stream",
) -> None:
    """Convert files ending in `extension` with `target` (`"package.module:function"`, taking
    `(path: str, job: ConvertJob)` and returning a `ConvertedDocument`). It must be importable by name
    because it runs in a worker process."""
    if ":" not in target:
        raise ValueError(f"converter target must be 'module:function', got {target!r}")
    ext = extension.lower() if extension.startswith(".") else f".{extension.lower()}"
    EXTENSION_CONVERTERS[ext] = (target, kind, mime_type)


def unregister_converter(extension: str) -> None:
    ext = extension.lower() if extension.startswith(".") else f".{extension.lower()}"
    EXTENSION_CONVERTERS.pop(ext, None)


__all__ = ["EXTENSION_CONVERTERS", "LOCAL_CONVERTERS", "ConvertJob", "register_converter", "unregister_converter"]
