"""What a conversion returns: a markdown text plus sections that say where each part came from."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class DocumentKind(StrEnum):
    """The file formats Omne converts, with their canonical MIME types."""

    PDF = "pdf"
    DOCX = "docx"
    PPTX = "pptx"
    XLSX = "xlsx"
    XLS = "xls"
    CSV = "csv"
    HTML = "html"
    JSON = "json"
    XML = "xml"
    TEXT = "text"
    ZIP = "zip"
    IMAGE = "image"
    AUDIO = "audio"

    @property
    def mime_type(self) -> str:
        return _MIME[self]


_MIME = {
    DocumentKind.PDF: "application/pdf",
    DocumentKind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    DocumentKind.PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    DocumentKind.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    DocumentKind.XLS: "application/vnd.ms-excel",
    DocumentKind.CSV: "text/csv",
    DocumentKind.HTML: "text/html",
    DocumentKind.JSON: "application/json",
    DocumentKind.XML: "application/xml",
    DocumentKind.TEXT: "text/plain",
    DocumentKind.ZIP: "application/zip",
    DocumentKind.IMAGE: "image/*",
    DocumentKind.AUDIO: "audio/*",
}


class SectionKind(StrEnum):
    """The unit a section stands for; it decides which provenance field a chunk carries."""

    DOCUMENT = "document"  # the whole file (formats without pages)
    PAGE = "page"
    SHEET = "sheet"
    SLIDE = "slide"
    SECTION = "section"  # a heading-delimited part of a document
    IMAGE = "image"
    AUDIO = "audio"


class DocumentSection(BaseModel):
    """One page, sheet, slide or heading section; `source` names the file (`a.zip!dir/b.pdf` inside archives)."""

    kind: SectionKind = SectionKind.DOCUMENT
    index: int | None = None  # 1-based page/slide number or sheet position
    title: str | None = None  # sheet name, slide title or heading
    text: str
    source: str
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def heading(self) -> str | None:
        """The heading this section gets in the document's markdown (None: no heading)."""
        if self.kind is SectionKind.PAGE:
            return f"Page {self.index}"
        if self.kind is SectionKind.SHEET:
            return f"Sheet: {self.title}"
        if self.kind is SectionKind.SLIDE:
            return f"Slide {self.index}" + (f": {self.title}" if self.title else "")
        return None


_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t\f\v]*\n)+")


def trim_blank_edges(text: str) -> str:
    """`text` without its leading blank lines and trailing whitespace; the first line's indentation is kept
    (leading spaces can be data: a puzzle may count them)."""
    return _LEADING_BLANK_LINES.sub("", text).rstrip()


class ConvertedDocument(BaseModel):
    """A file as markdown: `text` is the whole document, `sections` the same content with provenance."""

    source: str  # the file path (archive members: `archive.zip!member`)
    name: str  # the file name shown to a reader
    mime_type: str
    kind: DocumentKind
    text: str
    sections: list[DocumentSection] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)

    @classmethod
    def from_sections(
        cls,
        *,
        source: str,
        name: str,
        kind: DocumentKind,
        sections: list[DocumentSection],
        mime_type: str | None = None,
        metadata: dict[str, Any] | None = None,
        warnings: list[str] | None = None,
        title: str | None = None,
    ) -> ConvertedDocument:
        """Build a document whose markdown is its sections joined under their headings."""
        blocks = [f"# {title}"] if title else []
        for section in sections:
            heading = section.heading
            body = trim_blank_edges(section.text)
            blocks.append(f"## {heading}\n\n{body}" if heading else body)
        return cls(
            source=source,
            name=name,
            kind=kind,
            mime_type=mime_type or kind.mime_type,
            text="\n\n".join(b for b in blocks if b).rstrip() + "\n",
            sections=sections,
            metadata=metadata or {},
            warnings=warnings or [],
        )
