"""Each supported format converted from a real file; assertions on the extracted content."""

from __future__ import annotations

import json

import pytest

from omne_core.documents import (
    CorruptFileError,
    DocumentKind,
    SectionKind,
    UnsupportedFileTypeError,
    convert_file,
    convert_file_sync,
)

from . import builders


async def test_pdf_text_on_page_two(tmp_path, settings):
    path = builders.make_pdf(tmp_path / "report.pdf", ["Cover page", "The launch code is 7391\nSecond line", "End"])
    doc = await convert_file(path, settings)
    assert doc.kind is DocumentKind.PDF and doc.mime_type == "application/pdf"
    pages = [s for s in doc.sections if s.kind is SectionKind.PAGE]
    assert [s.index for s in pages] == [1, 2, 3]
    assert "launch code is 7391" in pages[1].text
    assert "7391" not in pages[0].text + pages[2].text
    assert doc.metadata["pages"] == 3
    assert doc.text.index("## Page 2") < doc.text.index("7391") < doc.text.index("## Page 3")


async def test_pdf_table_cells_become_a_markdown_table(tmp_path, settings):
    doc = await convert_file(builders.make_pdf_with_table(tmp_path / "cities.pdf"), settings)
    assert "| Oslo | 709037 |" in doc.text
    assert doc.metadata["pages_with_tables"] == [1]


async def test_xlsx_every_sheet_values_merged_and_fill_colours(tmp_path, settings):
    doc = await convert_file(builders.make_xlsx(tmp_path / "inventory.xlsx"), settings)
    sheets = {s.title: s for s in doc.sections}
    assert set(sheets) == {"Inventory", "Notes"}
    inventory = sheets["Inventory"].text
    assert sheets["Inventory"].kind is SectionKind.SHEET and sheets["Inventory"].index == 1
    # addressed table: row number, then columns A, B, C
    assert "| 2 | Item | Count | Price |" in inventory
    assert "| 3 | Apples [fill #FF0000 red] | 12 | 0.5 |" in inventory
    assert "Merged cells: A1:C1 (value 'Inventory 2024')" in inventory
    assert "- #4F81BD blue (1 cells): B4" in inventory  # theme colour resolved through the workbook theme
    assert "- #FFFF00 yellow (1 cells): C4" in inventory
    assert "(this sheet is hidden)" in sheets["Notes"].text and "secret note" in sheets["Notes"].text


async def test_xlsx_formula_results_and_formulas(tmp_path, settings):
    doc = await convert_file(builders.make_xlsx_with_formula(tmp_path / "totals.xlsx"), settings)
    assert "| 2 | 2 | 3 | 6 (=A2*B2) |" in doc.text
    assert "=SUM(A2:B2)" in doc.text


async def test_xls_values_merged_and_colour(tmp_path, settings):
    doc = await convert_file(builders.make_xls(tmp_path / "legacy.xls"), settings)
    assert doc.kind is DocumentKind.XLS
    assert "| 2 | alpha | 42 [fill #00FF00 bright green] |" in doc.text
    assert "Merged cells: A1:B1" in doc.text


async def test_csv_table(tmp_path, settings):
    path = tmp_path / "scores.csv"
    path.write_text("name;score\nada;91\nbob;78\n")
    doc = await convert_file(path, settings)
    assert doc.metadata["delimiter"] == ";"
    assert "| ada | 91 |" in doc.text


async def test_docx_headings_become_sections_with_table(tmp_path, settings):
    doc = await convert_file(builders.make_docx(tmp_path / "paper.docx"), settings)
    titles = [s.title for s in doc.sections]
    assert titles == ["Introduction", "Results"]
    assert "| Recall | 0.93 |" in doc.sections[0].text
    assert "forty-two" in doc.sections[1].text


async def test_pptx_slide_titles(tmp_path, settings):
    doc = await convert_file(builders.make_pptx(tmp_path / "deck.pptx"), settings)
    slides = [s for s in doc.sections if s.kind is SectionKind.SLIDE]
    assert [(s.index, s.title) for s in slides] == [(1, "Quarterly Review"), (2, "Next Steps")]
    assert "Revenue grew 12%" in slides[0].text
    assert "## Slide 2: Next Steps" in doc.text


async def test_html(tmp_path, settings):
    path = tmp_path / "page.html"
    path.write_text("<html><head><title>T</title><script>var x=1</script></head><body><h1>Welcome</h1>"
                    "<p>Some <b>bold</b> text</p><ul><li>one</li></ul></body></html>")  # fmt: skip
    doc = await convert_file(path, settings)
    assert "# Welcome" in doc.text and "**bold**" in doc.text and "var x" not in doc.text


async def test_json_ld_and_invalid_json(tmp_path, settings):
    path = tmp_path / "person.jsonld"
    path.write_text(json.dumps({"@context": "https://schema.org", "@type": "Person", "name": "Ada Lovelace"}))
    doc = await convert_file(path, settings)
    assert doc.mime_type == "application/ld+json" and doc.metadata["jsonld_types"] == ["Person"]
    assert '"name": "Ada Lovelace"' in doc.text

    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,')
    with pytest.raises(CorruptFileError, match="invalid JSON"):
        await convert_file(bad, settings)


async def test_xml_and_broken_xml(tmp_path, settings):
    path = tmp_path / "data.xml"
    path.write_text("<?xml version='1.0'?><catalog><book id='1'>Dune</book></catalog>")
    doc = await convert_file(path, settings)
    assert doc.metadata["root"] == "catalog" and "<book id='1'>Dune</book>" in doc.text

    broken = tmp_path / "broken.xml"
    broken.write_text("<catalog><book></catalog>")
    with pytest.raises(CorruptFileError, match="invalid XML"):
        await convert_file(broken, settings)


async def test_text_detected_by_content_and_source_code(tmp_path, settings):
    pdb = tmp_path / "1abc.pdb"
    pdb.write_text("HEADER    HYDROLASE\nATOM      1  N   MET A   1      11.104  13.207  10.678  1.00 20.00\n")
    doc = await convert_file(pdb, settings)
    assert doc.kind is DocumentKind.TEXT and "ATOM      1  N   MET" in doc.text

    code = tmp_path / "main.py"
    code.write_text("def answer():\n    return 42\n")
    doc = await convert_file(code, settings)
    assert doc.text.startswith("```python\ndef answer():")

    latin = tmp_path / "notes.weird"
    latin.write_bytes("Café crème, señor — déjà vu".encode("cp1252"))
    doc = await convert_file(latin, settings)
    assert "Café crème" in doc.text


async def test_unknown_binary_is_refused(tmp_path, settings):
    blob = tmp_path / "data.bin"
    blob.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(UnsupportedFileTypeError):
        await convert_file(blob, settings)
    legacy = tmp_path / "old.doc"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(UnsupportedFileTypeError, match=r"\.doc"):
        await convert_file(legacy, settings)


def test_sync_api_inside_and_outside_an_event_loop(tmp_path, settings):
    import asyncio

    path = tmp_path / "a.txt"
    path.write_text("plain words")
    assert convert_file_sync(path, settings).text.strip() == "plain words"

    async def inside():
        return convert_file_sync(path, settings)

    assert asyncio.run(inside()).text.strip() == "plain words"
