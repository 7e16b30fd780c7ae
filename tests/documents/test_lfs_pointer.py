"""A Git LFS pointer standing where a file should be is reported as unavailable, never read as the file."""

from __future__ import annotations

import hashlib

import pytest

from omne_core.documents import FileUnavailableError, convert_file, detect_file_type, read_lfs_pointer
from omne_core.documents.detect import lfs_pointer

OID = hashlib.sha256(b"the real spreadsheet").hexdigest()
POINTER = f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 13542\n"


@pytest.mark.parametrize("name", ["sales.xlsx", "notes.txt", "protein.pdb", "scan.png", "no_extension"])
async def test_a_pointer_is_unavailable_whatever_its_name(tmp_path, settings, name):
    path = tmp_path / name
    path.write_text(POINTER)
    with pytest.raises(FileUnavailableError, match=r"Git LFS pointer, not the file: the real file \(13,542 bytes"):
        await convert_file(path, settings)
    with pytest.raises(FileUnavailableError):
        detect_file_type(path)
    assert read_lfs_pointer(path) == lfs_pointer(POINTER.encode())


def test_what_is_and_is_not_a_pointer():
    assert lfs_pointer(POINTER.encode()).size == 13542
    assert lfs_pointer(POINTER.replace("\n", "\r\n").encode()) is not None  # checked out with CRLF
    assert lfs_pointer(b"version https://git-lfs.github.com/spec/v1\nsize 12\n") is None  # no oid
    assert lfs_pointer(POINTER.encode() + b"and then some prose\n") is None
    assert lfs_pointer(b"A text that mentions version https://git-lfs.github.com/spec/v1\n") is None
    assert lfs_pointer(POINTER.encode() + b"x" * 2000) is None


async def test_a_real_text_file_about_lfs_is_still_read(tmp_path, settings):
    path = tmp_path / "howto.txt"
    path.write_text("Our pointers start with:\n" + POINTER)
    assert "oid sha256" in (await convert_file(path, settings)).text
