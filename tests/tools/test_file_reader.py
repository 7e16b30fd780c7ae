"""The file reader on real files: root confinement (`../`, absolute paths, symlinks), conversion, question mode."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from autogen_ext.models.replay import ReplayChatCompletionClient

from omne_tools.errors import FileReadError, PathNotAllowedError, PathNotFoundError
from omne_tools.files import DocumentQuestionAnswerer, FileReader, FileRoots, parse_answer
from omne_tools.toolset import file_reader_tool

from .agent_view import tool_text
from .toolsite import PDF_SENTENCE, make_pdf, make_xlsx


@pytest.fixture
def task_dir(tmp_path):
    """tmp/task (the root) with files, a subfolder and symlinks; tmp/secret.txt and tmp/private/ outside."""
    root = tmp_path / "task"
    (root / "sub").mkdir(parents=True)
    (root / "notes.txt").write_text("The meeting is on Tuesday at 10:00.\n")
    (root / "sub" / "inner.txt").write_text("inner file\n")
    (root / "report.pdf").write_bytes(make_pdf())
    (root / "data.xlsx").write_bytes(make_xlsx())
    (root / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    (tmp_path / "secret.txt").write_text("TOP SECRET\n")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "keys.txt").write_text("KEYS\n")
    (root / "link_out").symlink_to(tmp_path / "secret.txt")
    (root / "dir_out").symlink_to(tmp_path / "private", target_is_directory=True)
    (root / "link_in").symlink_to(root / "notes.txt")
    return root


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "sub/../../secret.txt",
        "link_out",
        "dir_out/keys.txt",
        "/etc/passwd",
        "{tmp}/secret.txt",
    ],
)
def test_escapes_refused(task_dir, path):
    roots = FileRoots([task_dir])
    with pytest.raises(PathNotAllowedError, match="outside the files you may read"):
        roots.resolve(path.format(tmp=task_dir.parent))


def test_paths_inside_root_resolve(task_dir):
    roots = FileRoots([task_dir])
    assert roots.resolve("notes.txt") == task_dir / "notes.txt"
    assert roots.resolve("sub/../notes.txt") == task_dir / "notes.txt"
    assert roots.resolve("link_in") == task_dir / "notes.txt"  # a symlink that stays inside is fine
    assert roots.resolve(str(task_dir / "sub" / "inner.txt")) == task_dir / "sub" / "inner.txt"
    with pytest.raises(PathNotFoundError, match="No such file: nope.txt"):
        roots.resolve("nope.txt")
    with pytest.raises(PathNotAllowedError, match="no folders"):
        FileRoots([]).resolve("notes.txt")


def test_a_file_root_allows_that_file_alone(task_dir):
    """A task's attachment as the root: readable by path or name; its folder and neighbours are not."""
    roots = FileRoots([task_dir / "notes.txt"])
    assert roots.resolve(str(task_dir / "notes.txt")) == task_dir / "notes.txt"
    assert roots.resolve("notes.txt") == task_dir / "notes.txt"
    for path in ["report.pdf", str(task_dir / "report.pdf"), str(task_dir), ".", "../task/report.pdf",
                 "notes.txt/../report.pdf", str(task_dir / "link_in" / ".." / "data.xlsx")]:  # fmt: skip
        with pytest.raises((PathNotAllowedError, PathNotFoundError)):
            roots.resolve(path)
    with pytest.raises(PathNotAllowedError):
        FileRoots([task_dir / "link_in"]).resolve(str(task_dir / "report.pdf"))  # a root given as a symlink


def _files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


async def test_an_archive_root_is_read_whole_and_its_extracted_folder_becomes_readable(tmp_path):
    import zipfile

    (tmp_path / "answers.txt").write_text("the answer key\n")  # beside the archive: never readable
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("docs/inner.txt", "inside the archive\n")
        zf.writestr("../../escape.txt", "tries to leave\n")
        zf.writestr("data.csv", "a,b\n1,2\n")
    reader = FileReader([archive])
    whole = await reader.read("bundle.zip")
    assert "inside the archive" in whole and "Extracted to: " in whole
    folder = Path(whole.split("Extracted to: ", 1)[1].split(" ", 1)[0])
    assert _files_under(folder) == ["data.csv", "docs/inner.txt", "escape.txt"]
    member = await reader.read(str(folder / "docs" / "inner.txt"))
    assert member.endswith("inside the archive\n")
    assert "| 1 | 2 |" in await reader.read("data.csv")  # by its name within the extracted folder
    with pytest.raises(PathNotAllowedError):
        await reader.read(str(tmp_path / "answers.txt"))
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path.parent / "escape.txt").exists()


async def test_read_text_pdf_xlsx_and_folder(task_dir):
    reader = FileReader([task_dir])
    notes = await reader.read("notes.txt")
    assert notes.startswith("File: notes.txt\nType: text") and "Tuesday at 10:00" in notes
    pdf = await reader.read("report.pdf")
    assert "Type: pdf" in pdf and PDF_SENTENCE in " ".join(pdf.split())
    xlsx = await reader.read("data.xlsx")
    assert "Springfield" in xlsx and "30720" in xlsx
    listing = await reader.read(".")
    assert "sub/" in listing and "notes.txt  (36 bytes)" in listing and "link_out  (symbolic link)" in listing


async def test_reading_escapes_raises_typed_errors(task_dir):
    reader = FileReader([task_dir])
    with pytest.raises(PathNotAllowedError):
        await reader.read("../secret.txt")
    with pytest.raises(PathNotAllowedError):
        await reader.read("link_out")
    with pytest.raises(FileReadError, match="Could not read broken.pdf"):
        await reader.read("broken.pdf")


async def test_long_file_shows_a_window_within_the_budget(task_dir):
    (task_dir / "long.txt").write_text(" ".join(f"word{i}" for i in range(5000)))
    text = await FileReader([task_dir], max_output_tokens=100).read("long.txt")
    assert "Showing characters 0-" in text and "[More: read_file(path='long.txt', offset=" in text
    assert "word4999" not in text


def _pdb_like(lines: int, needle_at: int) -> tuple[str, str]:
    """A PDB-style file of fixed-width records; the record the question needs starts near character `needle_at`."""
    records = [f"ATOM  {i:5d}  CA  ALA A{i % 9999:4d}    {i * 0.013:8.3f}{i * 0.007:8.3f}{i * 0.011:8.3f}  1.00 20.00           C"
               for i in range(1, lines + 1)]  # fmt: skip
    needle = "HETATM 9999 FE   HEM A 900      12.345  -6.789  10.111  1.00 15.00          FE"
    index = needle_at // (len(records[0]) + 1)
    records.insert(index, needle)
    return "\n".join(records) + "\n", needle


async def test_a_long_file_is_paged_to_the_text_at_117k_characters(tmp_path):
    """A 1.36M-token .pdb showed only its first 6k tokens; its needed data starts at character ~117k."""
    content, needle = _pdb_like(6000, 117_000)
    (tmp_path / "protein.pdb").write_text(content)
    position = content.index(needle)
    assert 110_000 < position < 125_000
    reader = FileReader([tmp_path])

    first = await reader.read("protein.pdb")
    assert needle not in first
    assert f"Length: {len(content):,} characters, 6,001 lines." in first
    pages, offset, seen = 0, 0, first
    while needle not in seen:  # the agent follows "the next part starts at" until it sees the record
        end = int(seen.rsplit("offset=", 1)[1].split(")", 1)[0])
        assert f"Showing characters {offset:,}-{end:,}" in seen  # windows are contiguous: nothing skipped
        body = seen.split("=======================\n")[1]
        assert body.endswith("\n") and content[offset:end] == body  # whole records, the file's own text
        offset, pages = end, pages + 1
        seen = await reader.read("protein.pdb", offset=offset)
        assert pages < 20
    assert pages >= 3  # it really was beyond the first windows

    found = await reader.read("protein.pdb", find="fe   hem")  # case and spacing as the agent types them
    assert needle in found
    line = content[:position].count("\n") + 1
    at = content.index("FE   HEM")
    assert f"Found 'fe   hem' at character {at:,} (line {line:,}): match 1 of 1." in found
    missing = await reader.read("protein.pdb", find="HEM", offset=at + 8)
    assert missing.startswith("'HEM' was not found at or after character") and "without offset" in missing
    with pytest.raises(FileReadError, match="outside protein.pdb"):
        await reader.read("protein.pdb", offset=len(content) + 1)


async def test_the_read_file_tool_takes_offset_and_find(tmp_path):
    from autogen_core import CancellationToken

    from omne_core.config import OmneSettings
    from omne_tools.toolset import file_reader_tool

    content, needle = _pdb_like(3000, 117_000 // 2)
    (tmp_path / "protein.pdb").write_text(content)
    tool = file_reader_tool(FileReader([tmp_path], settings=OmneSettings(data_dir=tmp_path / "data")))
    assert {"offset", "find"} <= set(tool.schema["parameters"]["properties"])
    found = await tool.run_json({"path": "protein.pdb", "find": "HETATM"}, CancellationToken())
    assert needle in found
    tail = await tool.run_json({"path": "protein.pdb", "offset": len(content) - 100}, CancellationToken())
    assert "[End of protein.pdb." in tail and content[-100:] in tail


async def test_question_mode_short_document(task_dir):
    reply = '{"short_answer": "Tuesday 10:00", "detailed_answer": "The notes say the meeting is on Tuesday at 10:00."}'
    model = ReplayChatCompletionClient([reply])
    text = await FileReader([task_dir], model_client=model).read("notes.txt", question="When is the meeting?")
    assert text.startswith("Short answer: Tuesday 10:00\n\nDetailed answer: The notes say")
    assert "read the whole document" in text
    seen = "\n".join(m.content for m in model.create_calls[0]["messages"])
    assert "Tuesday at 10:00" in seen and "Question: When is the meeting?" in seen
    assert len(model.create_calls) == 1


async def test_question_mode_long_document_reads_relevant_parts(task_dir):
    filler = " ".join(f"filler{i} about nothing much." for i in range(1200))
    (task_dir / "long.txt").write_text(
        filler + " The treasure chest is buried under the old oak tree. " + filler
    )
    model = ReplayChatCompletionClient(
        [
            "The treasure chest is buried under the old oak tree.",
            "NOTHING RELEVANT",
            '{"short_answer": "under the old oak tree", "detailed_answer": "Part notes say it is under the oak."}',
        ]
    )
    answerer = DocumentQuestionAnswerer(model, window_tokens=1500, max_windows=2)
    text = await FileReader([task_dir], answerer=answerer).read(
        "long.txt", question="Where is the treasure chest buried?"
    )
    assert "Short answer: under the old oak tree" in text
    assert len(model.create_calls) == 3  # two parts read (map), one answer (reduce)
    first_part = model.create_calls[0]["messages"][1].content
    assert "treasure chest" in first_part  # the part mentioning the question's words is read
    final = model.create_calls[2]["messages"][1].content
    assert "buried under the old oak tree" in final and "NOTHING RELEVANT" not in final
    assert "read 2 of" in text and "parts (those closest to the question)" in text


async def test_question_mode_malformed_reply_kept_whole(task_dir):
    model = ReplayChatCompletionClient(["It is on Tuesday.\nAt ten in the morning."])
    text = await FileReader([task_dir], model_client=model).read("notes.txt", question="When?")
    assert "Short answer: It is on Tuesday." in text
    assert "Detailed answer: It is on Tuesday.\nAt ten in the morning." in text
    assert "did not reply in the requested JSON form" in text


async def test_question_mode_without_model_or_with_failing_model(task_dir):
    with pytest.raises(FileReadError, match="needs a model"):
        await FileReader([task_dir]).read("notes.txt", question="When?")
    exhausted = ReplayChatCompletionClient([])
    tool = file_reader_tool(FileReader([task_dir], model_client=exhausted))
    answer = await tool_text(tool, path="notes.txt", question="When?")
    assert answer.startswith("Error: the model failed while reading notes.txt (ValueError")


async def test_question_mode_timeout(task_dir):
    class SlowModel(ReplayChatCompletionClient):
        async def create(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            await asyncio.sleep(5)
            return await super().create(*args, **kwargs)

    answerer = DocumentQuestionAnswerer(SlowModel(["{}"]), timeout_s=0.2)
    answer = await tool_text(file_reader_tool(FileReader([task_dir], answerer=answerer)), path="notes.txt", question="When?")
    assert answer == "Error: the model did not answer about notes.txt within 0.2 s."


def test_parse_answer_variants():
    wrapped = parse_answer('Sure!\n```json\n{"short_answer": 42, "detailed_answer": "Because 6*7."}\n```')
    assert (wrapped.short_answer, wrapped.detailed_answer, wrapped.well_formed) == (
        "42",
        "Because 6*7.",
        True,
    )
    missing_key = parse_answer('{"answer": "x"}')
    assert missing_key.well_formed is False and missing_key.detailed_answer == '{"answer": "x"}'


async def test_a_git_lfs_pointer_is_reported_to_the_agent_as_unavailable(tmp_path):
    oid = "0" * 64
    (tmp_path / "data.xlsx").write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 2048\n")
    with pytest.raises(FileReadError, match=r"Could not read data.xlsx: this is a Git LFS pointer, not the file"):
        await FileReader([tmp_path]).read("data.xlsx")
