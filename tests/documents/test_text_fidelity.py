"""Plain text arrives as the file holds it: leading spaces and indentation are data (a GAIA answer counts them)."""

from __future__ import annotations

from omne_core.documents import ConvertedDocument, DocumentKind, DocumentSection, convert_file


async def test_leading_whitespace_of_a_text_file_is_kept(tmp_path, settings):
    content = "   three spaces first\n\tthen a tab\n  two\n"
    path = tmp_path / "puzzle.txt"
    path.write_text(content)
    doc = await convert_file(path, settings)
    assert doc.kind is DocumentKind.TEXT
    assert doc.text == content
    assert doc.sections[0].text == content


async def test_leading_blank_lines_go_but_the_first_lines_indentation_stays(tmp_path, settings):
    path = tmp_path / "indented.txt"
    path.write_text("\n\n    indented start\nnext\n\n\n")
    doc = await convert_file(path, settings)
    assert doc.text == "    indented start\nnext\n"


def test_sections_under_headings_keep_their_first_lines_indentation():
    sections = [DocumentSection(text="  a\n b", source="x"), DocumentSection(text="\n  c  \n", source="x")]
    doc = ConvertedDocument.from_sections(source="x", name="x", kind=DocumentKind.TEXT, sections=sections)
    assert doc.text == "  a\n b\n\n  c\n"


async def test_a_text_file_inside_a_zip_keeps_its_leading_spaces(tmp_path, settings):
    import zipfile

    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("puzzle.txt", "  two spaces\n")
    doc = await convert_file(path, settings)
    assert "## File: puzzle.txt\n\n  two spaces\n" in doc.text
