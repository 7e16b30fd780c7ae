"""File type detection by content first (magic bytes, ZIP layout, text sniffing), extension second."""

from __future__ import annotations

import mimetypes
import re
import zipfile
from pathlib import Path

import filetype
from pydantic import BaseModel

from .errors import CorruptFileError, EncryptedFileError, FileUnavailableError, UnsupportedFileTypeError
from .types import DocumentKind

_HEAD_BYTES = 64 * 1024
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_TEXT_EXTENSIONS = {
    ".csv": DocumentKind.CSV,
    ".tsv": DocumentKind.CSV,
    ".html": DocumentKind.HTML,
    ".htm": DocumentKind.HTML,
    ".xhtml": DocumentKind.HTML,
    ".json": DocumentKind.JSON,
    ".jsonld": DocumentKind.JSON,
    ".geojson": DocumentKind.JSON,
    ".xml": DocumentKind.XML,
    ".xsd": DocumentKind.XML,
    ".rss": DocumentKind.XML,
    ".atom": DocumentKind.XML,
    ".kml": DocumentKind.XML,
    ".gpx": DocumentKind.XML,
}
_OOXML_PARTS = {
    "word/document.xml": DocumentKind.DOCX,
    "xl/workbook.xml": DocumentKind.XLSX,
    "ppt/presentation.xml": DocumentKind.PPTX,
}
_OOXML_EXTENSIONS = {
    ".docx": DocumentKind.DOCX,
    ".docm": DocumentKind.DOCX,
    ".xlsx": DocumentKind.XLSX,
    ".xlsm": DocumentKind.XLSX,
    ".pptx": DocumentKind.PPTX,
    ".pptm": DocumentKind.PPTX,
}
_LEGACY_OFFICE = {".doc": "Word 97-2003 (.doc)", ".ppt": "PowerPoint 97-2003 (.ppt)", ".msg": "Outlook (.msg)"}
_EXTRA_MIME = {
    ".jsonld": "application/ld+json",
    ".geojson": "application/geo+json",
    ".md": "text/markdown",
    ".pdb": "chemical/x-pdb",
}


# A Git LFS pointer (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md): under 1024 bytes, the spec's
# version line, then only `ext-N-name sha256:<hex>`, `oid sha256:<hex>` and `size N` lines.
LFS_POINTER_MAX_BYTES = 1024
_LFS_POINTER = re.compile(
    rb"\Aversion https://(?:git-lfs|hawser)\.github\.com/spec/v1\r?\n"
    rb"(?:(?:ext-\d+-[a-z0-9]+ sha256:[0-9a-f]{64}|oid sha256:[0-9a-f]{64}|size \d+)\r?\n)+\Z"
)
_LFS_OID = re.compile(rb"^oid sha256:([0-9a-f]{64})\r?$", re.MULTILINE)
_LFS_SIZE = re.compile(rb"^size (\d+)\r?$", re.MULTILINE)


class LfsPointer(BaseModel):
    """The object a Git LFS pointer file names in place of the file itself."""

    oid: str
    size: int


def lfs_pointer(head: bytes) -> LfsPointer | None:
    """The pointer `head` (a file's first bytes, or all of it) is, if it is a Git LFS pointer file."""
    if len(head) >= LFS_POINTER_MAX_BYTES or not _LFS_POINTER.match(head):
        return None
    oid, size = _LFS_OID.search(head), _LFS_SIZE.search(head)
    if oid is None or size is None:
        return None
    return LfsPointer(oid=oid.group(1).decode(), size=int(size.group(1)))


def read_lfs_pointer(path: str | Path) -> LfsPointer | None:
    """`lfs_pointer` of the file at `path` (reads at most 1 KiB)."""
    with Path(path).open("rb") as fh:
        return lfs_pointer(fh.read(LFS_POINTER_MAX_BYTES))


def check_not_lfs_pointer(head: bytes, source: str) -> None:
    """Raise `FileUnavailableError` when the bytes are a Git LFS pointer instead of the file they stand for."""
    pointer = lfs_pointer(head)
    if pointer is not None:
        raise FileUnavailableError(
            f"this is a Git LFS pointer, not the file: the real file ({pointer.size:,} bytes, sha256 "
            f"{pointer.oid[:12]}...) was never downloaded (run `git lfs pull` where it came from, or download "
            "it with its content)",
            source,
        )


class DetectedType(BaseModel):
    """The detected kind; `by_content` is True when only the bytes (not the extension) told us."""

    kind: DocumentKind
    mime_type: str
    encoding: str | None = None  # text files: the detected character encoding
    by_content: bool = False


def _mime_for_name(path: Path, default: str) -> str:
    suffix = path.suffix.lower()
    return _EXTRA_MIME.get(suffix) or mimetypes.guess_type(path.name)[0] or default


def _ooxml_kind(path: Path) -> DocumentKind | None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    for part, kind in _OOXML_PARTS.items():
        if part in names:
            return kind
    return None


def _is_encrypted_ooxml(path: Path) -> bool:
    """Password-protected .docx/.xlsx/.pptx files are OLE containers holding an `EncryptedPackage` stream."""
    try:
        import olefile

        with olefile.OleFileIO(str(path)) as ole:
            return bool(ole.exists("EncryptedPackage"))
    except Exception:  # not a readable OLE file: let the format's converter report it
        return False


def text_encoding(head: bytes) -> str | None:
    """The encoding `head` decodes with if it looks like text, else None (binary)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a multi-byte character cut by the head boundary
            return "utf-8"
    from charset_normalizer import from_bytes

    matches = list(from_bytes(head))
    if not matches or matches[0].chaos > 0.2:
        return None
    best = matches[0]
    # Ties are common on short samples; prefer the most widespread encodings among equally good ones.
    tied = {m.encoding for m in matches if m.chaos == best.chaos and m.coherence == best.coherence}
    for preferred in ("cp1252", "latin_1", "utf_16", "cp1251", "shift_jis", "gb18030"):
        if preferred in tied:
            return preferred
    return best.encoding


def _sniff_text_kind(head: bytes, encoding: str) -> DocumentKind:
    start = head[:2048].decode(encoding, errors="ignore").lstrip("\ufeff \t\r\n").lower()
    if start.startswith("<?xml"):
        return DocumentKind.HTML if "<html" in start else DocumentKind.XML
    if start.startswith(("<!doctype html", "<html")):
        return DocumentKind.HTML
    if start.startswith(("{", "[")):
        return DocumentKind.JSON
    return DocumentKind.TEXT


def detect_file_type(path: str | Path) -> DetectedType:
    """Detect what `path` holds. Raises `UnsupportedFileTypeError` for binaries no converter reads and
    `FileUnavailableError` for a Git LFS pointer standing in for the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
    check_not_lfs_pointer(head, str(path))

    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        kind = _ooxml_kind(path) or _OOXML_EXTENSIONS.get(suffix)
        if kind is not None:
            return DetectedType(kind=kind, mime_type=kind.mime_type)
        return DetectedType(kind=DocumentKind.ZIP, mime_type="application/zip")
    if b"%PDF-" in head[:1024]:  # the PDF spec allows leading junk before the header
        return DetectedType(kind=DocumentKind.PDF, mime_type="application/pdf")
    if head.startswith(_OLE_MAGIC):
        if _is_encrypted_ooxml(path) or suffix in _OOXML_EXTENSIONS:
            raise EncryptedFileError("the Office file is password-protected (encrypted OOXML package)", str(path))
        if suffix in _LEGACY_OFFICE:
            raise UnsupportedFileTypeError(
                f"{_LEGACY_OFFICE[suffix]} files are not supported; save the file in the newer format", str(path)
            )
        return DetectedType(kind=DocumentKind.XLS, mime_type=DocumentKind.XLS.mime_type)

    guess = filetype.guess(head)
    if guess is not None:
        if guess.mime.startswith("image/"):
            return DetectedType(kind=DocumentKind.IMAGE, mime_type=guess.mime)
        if guess.mime.startswith("audio/"):
            return DetectedType(kind=DocumentKind.AUDIO, mime_type=guess.mime)
        raise UnsupportedFileTypeError(f"unsupported file type {guess.mime} (.{guess.extension})", str(path))

    encoding = text_encoding(head)
    if encoding is None:
        if suffix in _OOXML_EXTENSIONS or suffix in {".pdf", ".xls", ".zip"}:
            # Claims a known binary format but lacks its signature: a damaged file, not an unknown one.
            raise CorruptFileError(f"not a valid {suffix} file (signature missing)", str(path))
        raise UnsupportedFileTypeError("binary file of unknown type", str(path))
    if suffix in _TEXT_EXTENSIONS:
        kind = _TEXT_EXTENSIONS[suffix]
        return DetectedType(kind=kind, mime_type=_mime_for_name(path, kind.mime_type), encoding=encoding)
    if suffix == ".svg":
        return DetectedType(kind=DocumentKind.XML, mime_type="image/svg+xml", encoding=encoding)
    kind = _sniff_text_kind(head, encoding)
    mime = _mime_for_name(path, kind.mime_type if kind is not DocumentKind.TEXT else "text/plain")
    return DetectedType(kind=kind, mime_type=mime, encoding=encoding, by_content=kind is not DocumentKind.TEXT)
