"""ZIP archives: members extracted under limits (count, bytes, ratio, depth) and converted one by one."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath

from ..config.documents import DocumentSettings
from .errors import (
    ArchiveDepthError,
    ArchiveError,
    ArchiveTooLargeError,
    CorruptFileError,
    DocumentError,
    EncryptedFileError,
)
from .types import ConvertedDocument, DocumentKind, DocumentSection, trim_blank_edges

_RATIO_MIN_BYTES = 1024 * 1024
_JUNK = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$)")
_COPY_CHUNK = 1 << 20

ConvertMember = Callable[[Path, str, str, int], Awaitable[ConvertedDocument]]


class ExtractionBudget:
    """Uncompressed bytes still allowed across an archive and every archive nested in it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.remaining = limit

    def take(self, size: int, source: str) -> None:
        self.remaining -= size
        if self.remaining < 0:
            raise ArchiveTooLargeError(
                f"archive expands to more than {self.limit} bytes (max_zip_uncompressed_bytes)", source
            )


def _check_limits(infos: list[zipfile.ZipInfo], settings: DocumentSettings, source: str) -> None:
    if len(infos) > settings.max_zip_members:
        raise ArchiveTooLargeError(
            f"archive has {len(infos)} members, more than max_zip_members={settings.max_zip_members}", source
        )
    total = sum(i.file_size for i in infos)
    if total > settings.max_zip_uncompressed_bytes:
        raise ArchiveTooLargeError(
            f"archive declares {total} uncompressed bytes, more than "
            f"max_zip_uncompressed_bytes={settings.max_zip_uncompressed_bytes} (ZIP bomb?)",
            source,
        )
    for info in infos:
        ratio = info.file_size / max(1, info.compress_size)
        if info.file_size > _RATIO_MIN_BYTES and ratio > settings.max_zip_compression_ratio:
            raise ArchiveTooLargeError(
                f"member {info.filename!r} expands {ratio:.0f}× ({info.compress_size} → {info.file_size} bytes), "
                f"above max_zip_compression_ratio={settings.max_zip_compression_ratio:g} (ZIP bomb?)",
                source,
            )


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: ExtractionBudget, source: str) -> None:
    """Copy one member out, never trusting its declared size."""
    written = 0
    with zf.open(info) as src, target.open("wb") as dst:
        while chunk := src.read(_COPY_CHUNK):
            written += len(chunk)
            if written > info.file_size:
                raise ArchiveTooLargeError(f"member {info.filename!r} is larger than it declares", source)
            budget.take(len(chunk), source)
            dst.write(chunk)


def _safe_name(index: int, filename: str) -> str:
    base = PurePosixPath(filename.replace("\\", "/")).name or f"member-{index}"
    base = re.sub(r"[^\w.\- ]", "_", base)[:120]
    return f"{index:05d}-{base}"


def _safe_part(part: str) -> str:
    return re.sub(r"[^\w.\- ]", "_", part)[:120]


def _safe_relative_path(index: int, filename: str) -> PurePosixPath:
    """A member's path with every part made safe (no `..`, no absolute path, no drive); never empty."""
    parts = [_safe_part(p) for p in PurePosixPath(filename.replace("\\", "/")).parts if p not in ("", ".", "..", "/")]
    parts = [p for p in parts if p.strip(".")]
    return PurePosixPath(*parts) if parts else PurePosixPath(f"member-{index}")


def _readable_members(zf: zipfile.ZipFile, settings: DocumentSettings, source: str) -> list[zipfile.ZipInfo]:
    """The archive's files (no folders, no OS junk) once its limits are checked; all encrypted is an error."""
    infos = [i for i in zf.infolist() if not i.is_dir() and not _JUNK.search(i.filename)]
    _check_limits(infos, settings, source)
    if infos and all(i.flag_bits & 0x1 for i in infos):
        raise EncryptedFileError("every member of the archive is password-protected", source)
    return infos


def extract_zip(path: Path, dest: Path, settings: DocumentSettings) -> list[tuple[str, Path]]:
    """Extract a ZIP archive's files under `dest` with their folders (paths made safe), under the same limits
    as its conversion; returns (member name, extracted path) pairs. Encrypted and oversized members are left out."""
    source = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptFileError(f"not a readable ZIP archive: {exc}", source) from exc
    budget = ExtractionBudget(settings.max_zip_uncompressed_bytes)
    extracted: list[tuple[str, Path]] = []
    with zf:
        for index, info in enumerate(_readable_members(zf, settings, source)):
            if info.flag_bits & 0x1 or info.file_size > settings.max_file_bytes:
                continue
            target = dest / _safe_relative_path(index, info.filename)
            if target.exists():  # two members made safe to the same path
                target = target.with_name(f"{index:05d}-{target.name}")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                _extract(zf, info, target, budget, source)
            except ArchiveError:
                raise
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError):
                target.unlink(missing_ok=True)
                continue
            extracted.append((info.filename, target))
    return extracted


async def convert_zip(
    path: Path,
    *,
    source: str,
    name: str,
    depth: int,
    settings: DocumentSettings,
    budget: ExtractionBudget,
    convert_member: ConvertMember,
) -> ConvertedDocument:
    """Convert every member (recursively); member failures are listed, archive-limit failures raise."""
    if depth >= settings.max_archive_depth:
        raise ArchiveDepthError(
            f"archives nested more than max_archive_depth={settings.max_archive_depth} levels deep", source
        )
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptFileError(f"not a readable ZIP archive: {exc}", source) from exc
    workdir = Path(tempfile.mkdtemp(prefix="omne-zip-"))
    try:
        with zf:
            infos = _readable_members(zf, settings, source)
            encrypted = [i for i in infos if i.flag_bits & 0x1]
            skipped: list[dict[str, str]] = [
                {"member": i.filename, "error": "EncryptedFileError", "reason": "password-protected member"}
                for i in encrypted
            ]
            extracted: list[tuple[zipfile.ZipInfo, Path]] = []
            for index, info in enumerate(infos):
                if info.flag_bits & 0x1:
                    continue
                if info.file_size > settings.max_file_bytes:
                    skipped.append({"member": info.filename, "error": "FileTooLargeError",
                                    "reason": f"{info.file_size} bytes > max_file_bytes"})  # fmt: skip
                    continue
                target = workdir / _safe_name(index, info.filename)
                try:
                    await asyncio.to_thread(_extract, zf, info, target, budget, source)
                except ArchiveError:
                    raise
                except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError) as exc:
                    skipped.append({"member": info.filename, "error": "CorruptFileError", "reason": str(exc)})
                    continue
                extracted.append((info, target))

        members: list[tuple[str, ConvertedDocument]] = []
        for info, target in extracted:
            member_source = f"{source}!{info.filename}"
            try:
                doc = await convert_member(target, member_source, info.filename, depth + 1)
            except ArchiveError:
                raise
            except DocumentError as exc:
                skipped.append({"member": info.filename, "error": type(exc).__name__, "reason": exc.message})
                continue
            members.append((info.filename, doc))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    listing = [f"Archive {name} with {len(infos)} file(s):"]
    listing += [f"- {i.filename} ({i.file_size} bytes)" for i in infos]
    sections = [DocumentSection(text="\n".join(listing), source=source, metadata={"members": len(infos)})]
    blocks = ["\n".join(listing)]
    for member_name, doc in members:
        sections.extend(doc.sections)
        blocks.append(f"## File: {member_name}\n\n{trim_blank_edges(doc.text)}")
    if skipped:
        lines = ["Skipped members:"] + [f"- {s['member']}: {s['reason']}" for s in skipped]
        blocks.append("\n".join(lines))
    warnings = [f"{member}: {w}" for member, doc in members for w in doc.warnings]
    warnings += [f"skipped {s['member']}: {s['reason']}" for s in skipped]
    return ConvertedDocument(
        source=source,
        name=name,
        kind=DocumentKind.ZIP,
        mime_type=DocumentKind.ZIP.mime_type,
        text="\n\n".join(blocks).strip() + "\n",
        sections=sections,
        metadata={
            "converter": "zip",
            "members": [m for m, _ in members],
            "member_kinds": {m: d.kind.value for m, d in members},
            "skipped": skipped,
            "depth": depth,
        },
        warnings=warnings,
    )
