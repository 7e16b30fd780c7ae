"""Token-aware chunks with overlap and provenance, and their memory records."""

from __future__ import annotations

import pytest

from omne_core.config import DocumentSettings
from omne_core.documents import (
    ConvertedDocument,
    DocumentKind,
    DocumentSection,
    chunk_document,
    chunks_to_records,
    convert_file,
)
from omne_core.records import MemoryKind, MemoryScope
from omne_core.tokens import count_tokens

from . import builders


def _doc(text: str) -> ConvertedDocument:
    return ConvertedDocument.from_sections(
        source="notes.md", name="notes.md", kind=DocumentKind.TEXT,
        sections=[DocumentSection(text=text, source="notes.md")],
    )  # fmt: skip


def test_chunks_respect_the_token_budget_and_overlap():
    paragraphs = [f"Paragraph {i} talks about topic {i}. " + " ".join(f"w{i}x{j}" for j in range(40)) for i in range(30)]
    chunks = chunk_document(_doc("\n\n".join(paragraphs)), chunk_tokens=200, overlap_tokens=40)
    assert len(chunks) > 5
    assert all(c.token_count <= 200 for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for previous, current in zip(chunks, chunks[1:], strict=False):
        head = current.text[:80].split()[0]
        assert head in previous.text, "each chunk starts with the end of the previous one"
    joined = " ".join(c.text for c in chunks)
    assert all(f"Paragraph {i} talks" in joined for i in range(30))


def test_headings_become_section_provenance():
    text = "# Alpha\n\nalpha body\n\n# Beta\n\n" + "\n\n".join(["beta body " * 30] * 6)
    chunks = chunk_document(_doc(text), chunk_tokens=120, overlap_tokens=10)
    assert chunks[0].section == "Alpha"
    assert {c.section for c in chunks[1:]} == {"Beta"}


def test_long_tables_repeat_their_header_in_every_chunk():
    rows = "\n".join(f"| {i} | item {i} | {i * 3} |" for i in range(200))
    table = "| id | name | price |\n|---|---|---|\n" + rows
    chunks = chunk_document(_doc(table), chunk_tokens=150, overlap_tokens=0)
    assert len(chunks) > 3
    assert all(c.text.startswith("| id | name | price |\n|---|---|---|") for c in chunks)
    assert "| 199 | item 199 | 597 |" in chunks[-1].text


def test_an_unbreakable_line_is_split_by_tokens():
    chunks = chunk_document(_doc("x" * 20000), chunk_tokens=100, overlap_tokens=0)
    assert all(c.token_count <= 100 for c in chunks) and "".join(c.text for c in chunks) == "x" * 20000


def test_bad_parameters():
    with pytest.raises(ValueError):
        chunk_document(_doc("a"), chunk_tokens=10, overlap_tokens=0)
    with pytest.raises(ValueError):
        chunk_document(_doc("a"), chunk_tokens=100, overlap_tokens=60)


async def test_pdf_xlsx_pptx_chunks_carry_page_sheet_slide(tmp_path):
    settings = DocumentSettings()
    pdf = await convert_file(builders.make_pdf(tmp_path / "r.pdf", ["intro", "page two facts"]), settings)
    chunks = chunk_document(pdf, 100, 10)
    assert [(c.page, c.source) for c in chunks] == [(1, str(tmp_path / "r.pdf")), (2, str(tmp_path / "r.pdf"))]
    assert chunks[1].citation == f"[{tmp_path / 'r.pdf'} · page 2]"

    xlsx = await convert_file(builders.make_xlsx(tmp_path / "s.xlsx"), settings)
    assert {c.sheet for c in chunk_document(xlsx, 100, 10)} == {"Inventory", "Notes"}

    pptx = await convert_file(builders.make_pptx(tmp_path / "d.pptx"), settings)
    slides = chunk_document(pptx, 100, 10)
    assert [(c.slide, c.section) for c in slides] == [(1, "Quarterly Review"), (2, "Next Steps")]


async def test_chunk_records_are_l0_document_chunks_and_stable(tmp_path):
    doc = await convert_file(builders.make_pdf(tmp_path / "r.pdf", ["alpha", "beta"]), DocumentSettings())
    scope = MemoryScope(user_id="u1", namespace="docs")
    first = chunks_to_records(chunk_document(doc, 100, 10), scope)
    second = chunks_to_records(chunk_document(doc, 100, 10), scope)
    assert all(r.kind is MemoryKind.DOCUMENT_CHUNK and r.level.value == "L0" for r in first)
    assert first[1].metadata["page"] == 2 and first[1].metadata["chunk_count"] == 2
    assert first[1].text.startswith(f"[{tmp_path / 'r.pdf'} · page 2]\n")
    assert [r.content_hash() for r in first] == [r.content_hash() for r in second]
    assert count_tokens(first[0].text) < 100
