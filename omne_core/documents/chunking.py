"""Token-aware chunking of converted documents, and chunks as L0 `document_chunk` memory records.

Chunks never cross a page, sheet or slide, so each one carries exact provenance. Within a section,
paragraphs, tables and code blocks are packed up to `chunk_tokens`; consecutive chunks share
`overlap_tokens` of text; a table split across chunks repeats its header row in each piece.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from ..records import MemoryKind, MemoryRecord, MemoryScope
from ..tokens import count_tokens, encoding_for
from .types import ConvertedDocument, DocumentSection, SectionKind

_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


class DocumentChunk(BaseModel):
    """A piece of a document small enough to embed, with where it came from."""

    text: str
    index: int  # position in the document's chunk list
    source: str  # file path; archive members: `archive.zip!member`
    name: str
    mime_type: str
    section_kind: SectionKind
    page: int | None = None
    sheet: str | None = None
    slide: int | None = None
    section: str | None = None  # the heading the chunk falls under
    token_count: int

    @property
    def location(self) -> str:
        """Human-readable provenance: `page 2`, `sheet Budget`, `slide 3`, plus the heading."""
        parts = []
        if self.page is not None:
            parts.append(f"page {self.page}")
        if self.sheet is not None:
            parts.append(f"sheet {self.sheet}")
        if self.slide is not None:
            parts.append(f"slide {self.slide}")
        if self.section:
            parts.append(f"§ {self.section}")
        return ", ".join(parts)

    @property
    def citation(self) -> str:
        """`[source · location]`, prefixed to the text stored in memory so retrieval keeps provenance."""
        location = self.location
        return f"[{self.source}" + (f" · {location}]" if location else "]")


def _blocks(text: str) -> list[str]:
    """Paragraphs, keeping fenced code blocks and tables whole."""
    blocks: list[str] = []
    current: list[str] = []
    fenced = False
    in_table = False
    for line in text.splitlines():
        is_fence = line.lstrip().startswith("```")
        is_table = line.lstrip().startswith("|")
        if fenced:
            current.append(line)
            if is_fence:
                fenced = False
                blocks.append("\n".join(current))
                current = []
            continue
        if is_fence:
            if current:
                blocks.append("\n".join(current))
            current, fenced = [line], True
            continue
        if is_table != in_table and current:
            blocks.append("\n".join(current))
            current = []
        in_table = is_table
        if not line.strip():
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        if _HEADING.match(line) and current:
            blocks.append("\n".join(current))
            current = []
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return [b for b in blocks if b.strip()]


def _split_tokens(text: str, limit: int) -> list[str]:
    enc = encoding_for(None)
    ids = enc.encode(text, disallowed_special=())
    return [enc.decode(ids[i : i + limit]) for i in range(0, len(ids), limit)]


def _line_tokens(lines: list[str]) -> list[int]:
    """Token counts of many lines (tiktoken's `*_batch` spawns a thread pool per call: far slower here)."""
    encode = encoding_for(None).encode_ordinary
    return [len(encode(line)) for line in lines]


def _split_block(block: str, limit: int, first_limit: int | None = None) -> list[tuple[str, int]]:
    """A block over `limit` tokens as (piece, tokens) under it: tables by rows (header repeated), else by
    lines. The first piece gets at most `first_limit` tokens (to fill up a chunk already started)."""
    lines = block.splitlines()
    header: list[str] = []
    if len(lines) > 2 and lines[0].lstrip().startswith("|") and set(lines[1].replace("|", "").strip()) <= set("-: "):
        header, lines = lines[:2], lines[2:]
    header_tokens = count_tokens("\n".join(header)) + 1 if header else 0
    full_room = max(16, limit - header_tokens)
    room = max(16, (first_limit if first_limit is not None else limit) - header_tokens)
    pieces: list[tuple[str, int]] = []
    current: list[str] = []
    size = 0

    def flush() -> None:
        if current:
            pieces.append(("\n".join(header + current), size + header_tokens))

    for line, tokens in zip(lines, _line_tokens(lines), strict=True):
        n = tokens + 1
        if n > room:
            flush()
            current, size, room = [], 0, full_room
            for part in _split_tokens(line, room):
                pieces.append(("\n".join([*header, part]), room + header_tokens))
            continue
        if size + n > room:
            flush()
            current, size, room = [], 0, full_room
        current.append(line)
        size += n
    flush()
    exact = _line_tokens([text for text, _ in pieces])  # per-line sums overcount (".\n" is one token)
    return [(text, min(estimate, count)) for (text, estimate), count in zip(pieces, exact, strict=True)]


def _tail(text: str, tokens: int) -> str:
    """The last `tokens` tokens of `text`, starting at a word boundary."""
    if tokens <= 0:
        return ""
    enc = encoding_for(None)
    ids = enc.encode(text, disallowed_special=())
    if len(ids) <= tokens:
        return text
    tail = enc.decode(ids[-tokens:])
    cut = re.search(r"\s", tail)
    return tail[cut.end() :] if cut and cut.end() < len(tail) else tail


def _section_chunks(section: DocumentSection, chunk_tokens: int, overlap_tokens: int) -> list[tuple[str, str | None]]:
    """(text, heading) pieces of one section."""
    heading = section.title if section.kind is SectionKind.SECTION else None
    pieces: list[tuple[str, str | None]] = []
    current: list[str] = []
    current_heading = heading
    size = 0
    carry = ""

    def emit() -> None:
        nonlocal current, size, carry
        text = "\n\n".join(current).strip()
        if text:
            pieces.append((text, current_heading))
            carry = _tail(text, overlap_tokens)
        current, size = [], 0

    active = heading
    for block in _blocks(section.text):
        match = _HEADING.match(block.splitlines()[0])
        if match:
            active = match.group(1).strip()
        n = count_tokens(block)
        if n > chunk_tokens and current and chunk_tokens - size >= chunk_tokens // 4:
            parts = _split_block(block, chunk_tokens, first_limit=chunk_tokens - size - 2)
        else:
            parts = _split_block(block, chunk_tokens) if n > chunk_tokens else [(block, n)]
        for part, tokens in parts:
            m = tokens + 2
            if current and size + m > chunk_tokens:
                emit()
            if not current:
                current_heading = active
                carry_tokens = count_tokens(carry) + 2 if carry else 0
                if carry and carry_tokens + m <= chunk_tokens:
                    current.append(carry)
                    size = carry_tokens
                carry = ""
            current.append(part)
            size += m
    emit()
    return pieces


MIN_CHUNK_TOKENS = 32


def check_chunk_sizes(chunk_tokens: int, overlap_tokens: int) -> None:
    """Raise ValueError unless chunks of `chunk_tokens` tokens sharing `overlap_tokens` can be made."""
    if chunk_tokens < MIN_CHUNK_TOKENS:
        raise ValueError(f"chunk_tokens must be at least {MIN_CHUNK_TOKENS}, got {chunk_tokens}")
    if not 0 <= overlap_tokens < chunk_tokens // 2:
        raise ValueError(
            f"overlap_tokens must be >= 0 and less than half of chunk_tokens ({chunk_tokens}), got {overlap_tokens}"
        )


def chunk_document(
    doc: ConvertedDocument, chunk_tokens: int = 400, overlap_tokens: int = 60
) -> list[DocumentChunk]:
    """Split `doc` into token-bounded chunks with overlap; each chunk has file, page/sheet/slide and heading."""
    check_chunk_sizes(chunk_tokens, overlap_tokens)
    chunks: list[DocumentChunk] = []
    for section in doc.sections:
        for text, heading in _section_chunks(section, chunk_tokens, overlap_tokens):
            chunks.append(
                DocumentChunk(
                    text=text,
                    index=len(chunks),
                    source=section.source,
                    name=doc.name if section.source == doc.source else section.source.rsplit("!", 1)[-1],
                    mime_type=doc.mime_type,
                    section_kind=section.kind,
                    page=section.index if section.kind is SectionKind.PAGE else None,
                    sheet=section.title if section.kind is SectionKind.SHEET else None,
                    slide=section.index if section.kind is SectionKind.SLIDE else None,
                    section=heading or (section.title if section.kind is SectionKind.SLIDE else None),
                    token_count=count_tokens(text),
                )
            )
    return chunks


def chunks_to_records(
    chunks: list[DocumentChunk],
    scope: MemoryScope,
    *,
    blob_ref: str | None = None,
    event_time: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[MemoryRecord]:
    """One L0 `document_chunk` record per chunk. The stored text starts with the chunk's citation, so
    the same file ingested twice yields identical records (the store drops exact duplicates)."""
    total = len(chunks)
    records = []
    for chunk in chunks:
        provenance = {
            "source": chunk.source,
            "file_name": chunk.name,
            "section_kind": chunk.section_kind.value,
            "page": chunk.page,
            "sheet": chunk.sheet,
            "slide": chunk.slide,
            "section": chunk.section,
            "chunk_index": chunk.index,
            "chunk_count": total,
            "token_count": chunk.token_count,
        }
        records.append(
            MemoryRecord(
                kind=MemoryKind.DOCUMENT_CHUNK,
                text=f"{chunk.citation}\n{chunk.text}",
                scope=scope,
                mime_type=chunk.mime_type,
                blob_ref=blob_ref,
                event_time=event_time,
                metadata={**(metadata or {}), **{k: v for k, v in provenance.items() if v is not None}},
            )
        )
    return records


def document_to_records(
    doc: ConvertedDocument,
    scope: MemoryScope,
    *,
    chunk_tokens: int = 400,
    overlap_tokens: int = 60,
    blob_ref: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[MemoryRecord]:
    """`chunk_document` then `chunks_to_records`."""
    return chunks_to_records(
        chunk_document(doc, chunk_tokens, overlap_tokens), scope, blob_ref=blob_ref, metadata=metadata
    )
