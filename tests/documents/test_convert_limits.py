"""Bad input and limits: each gives its typed error quickly, never a hang or a crash of the caller."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from omne_core.documents import (
    ArchiveDepthError,
    ArchiveTooLargeError,
    ConversionTimeoutError,
    ConverterCrashedError,
    CorruptFileError,
    DocumentError,
    DocumentNotFoundError,
    EncryptedFileError,
    FileTooLargeError,
    convert_file,
    register_converter,
    unregister_converter,
)

from . import builders


async def test_missing_and_oversized_files(tmp_path, settings):
    with pytest.raises(DocumentNotFoundError):
        await convert_file(tmp_path / "nope.pdf", settings)
    with pytest.raises(DocumentNotFoundError):
        await convert_file(tmp_path, settings)  # a folder is not a file
    big = tmp_path / "big.txt"
    big.write_text("x" * 5000)
    with pytest.raises(FileTooLargeError, match="max_file_bytes"):
        await convert_file(big, settings.model_copy(update={"max_file_bytes": 1000}))


async def test_encrypted_and_corrupt_pdf(tmp_path, settings):
    plain = builders.make_pdf(tmp_path / "plain.pdf", ["classified"])
    encrypted = builders.make_encrypted_pdf(tmp_path / "locked.pdf", plain)
    with pytest.raises(EncryptedFileError, match="password"):
        await convert_file(encrypted, settings)

    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref\n%%EOF\n")
    with pytest.raises(CorruptFileError):
        await convert_file(corrupt, settings)

    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(plain.read_bytes()[:200])
    with pytest.raises(CorruptFileError):
        await convert_file(truncated, settings)


async def test_truncated_xlsx_and_docx(tmp_path, settings):
    full = builders.make_xlsx(tmp_path / "full.xlsx").read_bytes()
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(full[: len(full) // 2])
    with pytest.raises(CorruptFileError, match="XLSX"):
        await convert_file(truncated, settings)

    docx = builders.make_docx(tmp_path / "full.docx").read_bytes()
    broken = tmp_path / "broken.docx"
    broken.write_bytes(docx[: len(docx) // 3])
    with pytest.raises(CorruptFileError):
        await convert_file(broken, settings)


async def test_nested_zip_members_are_converted(tmp_path, settings):
    pdf = builders.make_pdf(tmp_path / "inner.pdf", ["first", "needle on page two"])
    inner = builders.make_zip(tmp_path / "inner.zip", {"docs/inner.pdf": pdf, "deep/readme.md": b"# Deep\nburied treasure"})
    outer = builders.make_zip(tmp_path / "outer.zip", {"inner.zip": inner, "top.txt": b"top level"})
    doc = await convert_file(outer, settings)
    sources = {s.source for s in doc.sections}
    assert f"{outer}!inner.zip!deep/readme.md" in sources
    page_two = next(s for s in doc.sections if s.source.endswith("!docs/inner.pdf") and s.index == 2)
    assert "needle on page two" in page_two.text
    assert "buried treasure" in doc.text and "top level" in doc.text
    assert doc.metadata["members"] == ["inner.zip", "top.txt"]


async def test_zip_bomb_is_refused(tmp_path, settings):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.txt", b"\0" * (20 * 1024 * 1024))  # 20 MiB → ~20 KiB: a 1000x expansion
    assert bomb.stat().st_size < 100_000
    started = time.monotonic()
    with pytest.raises(ArchiveTooLargeError, match="ZIP bomb"):
        await convert_file(bomb, settings)
    with pytest.raises(ArchiveTooLargeError, match="max_zip_uncompressed_bytes"):
        await convert_file(bomb, settings.model_copy(update={"max_zip_uncompressed_bytes": 1024 * 1024,
                                                            "max_zip_compression_ratio": 1e9}))  # fmt: skip
    assert time.monotonic() - started < 5


async def test_zip_member_count_and_depth_limits(tmp_path, settings):
    many = builders.make_zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(30)})
    with pytest.raises(ArchiveTooLargeError, match="max_zip_members"):
        await convert_file(many, settings.model_copy(update={"max_zip_members": 10}))

    level = builders.make_zip(tmp_path / "l0.zip", {"core.txt": b"core"})
    for depth in range(1, 4):
        level = builders.make_zip(tmp_path / f"l{depth}.zip", {level.name: level})
    with pytest.raises(ArchiveDepthError, match="max_archive_depth=2"):
        await convert_file(level, settings.model_copy(update={"max_archive_depth": 2}))
    doc = await convert_file(level, settings.model_copy(update={"max_archive_depth": 4}))
    assert "core" in doc.text


async def test_bad_member_is_skipped_with_its_reason(tmp_path, settings):
    archive = builders.make_zip(
        tmp_path / "mixed.zip", {"good.txt": b"good content", "bad.pdf": b"%PDF-1.4 broken", "../evil.txt": b"evil"}
    )
    doc = await convert_file(archive, settings)
    assert "good content" in doc.text and "evil" in doc.text
    skipped = {s["member"]: s for s in doc.metadata["skipped"]}
    assert skipped["bad.pdf"]["error"] == "CorruptFileError"
    assert any("bad.pdf" in w for w in doc.warnings)
    assert not (tmp_path.parent / "evil.txt").exists()


HANG_MODULE = """
import os, time

def hang(path, job):
    with open(path + ".pid", "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(3600)

def crash(path, job):
    os._exit(3)

def slow(path, job):
    time.sleep(3)
"""


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    name = f"omne_test_plugins_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(HANG_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for ext in (".hang", ".crash", ".slow"):
        unregister_converter(ext)


async def test_hanging_converter_is_killed_and_the_pool_recovers(tmp_path, settings, plugin_module):
    register_converter(".hang", f"{plugin_module}:hang")
    path = tmp_path / "forever.hang"
    path.write_text("x")
    started = time.monotonic()
    with pytest.raises(ConversionTimeoutError, match="worker killed"):
        await convert_file(path, settings.model_copy(update={"per_file_timeout_s": 1.0}))
    assert time.monotonic() - started < 10
    ok = tmp_path / "after.txt"
    ok.write_text("still working")
    assert "still working" in (await convert_file(ok, settings)).text


async def test_cancelling_the_caller_kills_the_worker(tmp_path, settings, plugin_module):
    register_converter(".hang", f"{plugin_module}:hang")
    path = tmp_path / "forever.hang"
    path.write_text("x")
    task = asyncio.create_task(convert_file(path, settings))
    pid_file = f"{path}.pid"

    def written() -> bool:
        return os.path.exists(pid_file) and os.path.getsize(pid_file) > 0

    for _ in range(200):
        if await asyncio.to_thread(written):
            break
        await asyncio.sleep(0.05)
    pid = int(await asyncio.to_thread(Path(pid_file).read_text))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(60):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the worker running the cancelled conversion is still alive")


async def test_crashing_converter_gives_a_typed_error(tmp_path, settings, plugin_module):
    register_converter(".crash", f"{plugin_module}:crash")
    path = tmp_path / "boom.crash"
    path.write_text("x")
    with pytest.raises(ConverterCrashedError, match="exit code 3"):
        await convert_file(path, settings)
    assert os.getpid()  # the caller is alive
    ok = tmp_path / "after.txt"
    ok.write_text("alive")
    assert "alive" in (await convert_file(ok, settings)).text


async def test_thread_mode_times_out_too(tmp_path, settings, plugin_module):
    register_converter(".slow", f"{plugin_module}:slow")
    path = tmp_path / "slow.slow"
    path.write_text("x")
    with pytest.raises(ConversionTimeoutError):
        await convert_file(path, settings.model_copy(update={"isolate_converters": False, "per_file_timeout_s": 0.5}))


def test_every_error_is_a_document_error():
    for error in (ArchiveDepthError, ArchiveTooLargeError, ConversionTimeoutError, ConverterCrashedError,
                  CorruptFileError, DocumentNotFoundError, EncryptedFileError, FileTooLargeError):  # fmt: skip
        assert issubclass(error, DocumentError)
        assert "p.pdf" in str(error("bad", "p.pdf"))


async def test_password_protected_xlsx(tmp_path, settings):
    ooxml = pytest.importorskip("msoffcrypto.format.ooxml")
    plain = builders.make_xlsx(tmp_path / "plain.xlsx")
    locked = tmp_path / "locked.xlsx"
    with plain.open("rb") as src, locked.open("wb") as dst:
        ooxml.OOXMLFile(src).encrypt("pw", dst)
    with pytest.raises(EncryptedFileError, match="password-protected"):
        await convert_file(locked, settings)
