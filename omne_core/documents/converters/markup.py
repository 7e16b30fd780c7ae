"""Office and web documents through markitdown (DOCX, PPTX, HTML), split into provenance sections."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import CorruptFileError
from ..types import ConvertedDocument, DocumentSection, SectionKind
from .base import ConvertJob

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SLIDE_MARKER = re.compile(r"^<!-- Slide number: (\d+) -->\s*$", re.MULTILINE)


def split_by_headings(markdown: str, source: str) -> list[DocumentSection]:
    """Sections at level-1/2 headings (outside code fences), each keeping its heading line."""
    sections: list[DocumentSection] = []
    title: str | None = None
    lines: list[str] = []
    fenced = False

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            sections.append(DocumentSection(kind=SectionKind.SECTION, title=title, text=text, source=source))

    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match and len(match.group(1)) <= 2:
            flush()
            title, lines = match.group(2).strip(), [line]
        else:
            lines.append(line)
    flush()
    for number, section in enumerate(sections, start=1):
        section.index = number
    return sections or [DocumentSection(text="(no text)", source=source)]


def _markitdown(converter: Any, path: str, job: ConvertJob, **kwargs: Any) -> Any:
    from markitdown import StreamInfo

    info = StreamInfo(extension=Path(job.name).suffix.lower() or None, mimetype=job.mime_type, filename=job.name)
    try:
        with open(path, "rb") as fh:
            return converter.convert(fh, info, **kwargs)
    except (KeyError, ValueError, OSError, EOFError, AttributeError, TypeError, IndexError) as exc:
        raise CorruptFileError(f"not a readable {job.kind.value.upper()} file: {type(exc).__name__}: {exc}",
                               job.source) from exc  # fmt: skip
    except Exception as exc:
        if type(exc).__name__ in {"BadZipFile", "PackageNotFoundError", "XMLSyntaxError", "ParseError"}:
            raise CorruptFileError(f"not a readable {job.kind.value.upper()} file: {exc}", job.source) from exc
        raise


def convert_docx(path: str, job: ConvertJob) -> ConvertedDocument:
    from markitdown.converters import DocxConverter

    result = _markitdown(DocxConverter(), path, job)  # type: ignore[no-untyped-call]
    metadata = {"converter": "markitdown/mammoth", "title": result.title}
    return job.document(split_by_headings(result.markdown, job.source), metadata)


def convert_html(path: str, job: ConvertJob) -> ConvertedDocument:
    from markitdown.converters import HtmlConverter

    result = _markitdown(HtmlConverter(), path, job)
    title = result.title
    sections = split_by_headings(result.markdown, job.source)
    heading = title if title and not sections[0].text.lstrip().startswith("# ") else None
    return job.document(sections, {"converter": "markitdown/html", "title": title}, title=heading)


def convert_pptx(path: str, job: ConvertJob) -> ConvertedDocument:
    from markitdown.converters import PptxConverter

    result = _markitdown(PptxConverter(), path, job, keep_data_uris=False)  # type: ignore[no-untyped-call]
    pieces = _SLIDE_MARKER.split(result.markdown)
    sections = []
    for number, body in zip(pieces[1::2], pieces[2::2], strict=False):
        body = body.strip()
        title = None
        for line in body.splitlines():
            match = _HEADING.match(line)
            if match and len(match.group(1)) == 1:
                title = match.group(2).strip()
                body = body.replace(line, "", 1).strip()  # the title becomes the section heading
                break
        sections.append(
            DocumentSection(kind=SectionKind.SLIDE, index=int(number), title=title, text=body or "(empty slide)",
                            source=job.source)  # fmt: skip
        )
    metadata = {"converter": "markitdown/python-pptx", "slides": len(sections)}
    return job.document(sections or [DocumentSection(text="(no slides)", source=job.source)], metadata)
