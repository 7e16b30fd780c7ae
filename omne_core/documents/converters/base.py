"""The contract of a local converter: a plain function `(path, job) -> ConvertedDocument` run in a worker."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ...config.documents import DocumentSettings
from ..types import ConvertedDocument, DocumentKind, DocumentSection


class ConvertJob(BaseModel):
    """Everything a converter needs besides the file itself (picklable, so it crosses into the worker)."""

    source: str  # provenance label: the path, or `archive.zip!member` inside archives
    name: str
    kind: DocumentKind
    mime_type: str
    encoding: str | None = None
    by_content: bool = False
    settings: DocumentSettings = DocumentSettings()

    def document(
        self,
        sections: list[DocumentSection],
        metadata: dict[str, Any],
        *,
        mime_type: str | None = None,
        warnings: list[str] | None = None,
        title: str | None = None,
    ) -> ConvertedDocument:
        """The converted file: `sections` under this job's source, name and kind (and its MIME type unless given)."""
        return ConvertedDocument.from_sections(
            source=self.source,
            name=self.name,
            kind=self.kind,
            mime_type=mime_type or self.mime_type,
            sections=sections,
            metadata=metadata,
            warnings=warnings,
            title=title,
        )


def md_cell(value: object) -> str:
    """A value made safe for one markdown table cell."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>").strip()


def md_table(rows: list[list[str]], header: list[str] | None = None) -> str:
    """A GitHub-flavoured markdown table; the first row is the header unless `header` is given."""
    if header is None:
        if not rows:
            return ""
        header, rows = rows[0], rows[1:]
    width = max([len(header), *(len(r) for r in rows)])
    header = header + [""] * (width - len(header))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * width]
    for row in rows:
        row = row + [""] * (width - len(row))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
