"""Ingest files and folders into memory: convert, chunk, store as L0 `document_chunk` records.

A document is identified by its path and its bytes (SHA-256) within the scope:
- the same bytes at the same path again add nothing (the file is not even converted again);
- the same bytes under another path are that document, not a new one (reported as a duplicate);
- new bytes at a known path supersede that path's old chunks once every new chunk is stored.

Files go through a few workers one at a time (convert, chunk, store), never the whole folder at once. The
source file's bytes go to the store's `BlobStore` (copied block by block) and every chunk cites that blob; the
blob is journaled until its chunks are committed, so a killed ingest leaves nothing the store keeps. A folder
walk follows no symbolic link out of the folder, never enters the store's own data directory, and reports
special files (pipes, sockets, devices) instead of reading them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ..config import OmneSettings
from ..documents.chunking import DocumentChunk, check_chunk_sizes, chunk_document, chunks_to_records
from ..documents.convert import convert_file
from ..documents.enrich import Transcriber
from ..documents.errors import DocumentError
from ..documents.types import ConvertedDocument
from ..records import MemoryKind, MemoryRecord, MemoryScope
from .errors import MemoryValidationError

if TYPE_CHECKING:
    from autogen_core.models import ChatCompletionClient

    from .store import MemoryStore

SOURCE_KEY = "ingested_from"  # chunk metadata: the file's resolved path
SHA_KEY = "file_sha256"  # chunk metadata: the file's SHA-256
_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
            (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))  # fmt: skip


class IngestSkip(BaseModel):
    """A path that was not ingested, and why."""

    path: str
    reason: str
    error: str


class IngestedFile(BaseModel):
    path: str
    kind: str
    chunks: int
    added: int  # new records; chunks - added were already in memory
    superseded: int = 0  # chunks of an earlier version of this path, now superseded
    duplicate_of: str | None = None  # the path these bytes were ingested under already
    warnings: list[str] = Field(default_factory=list)


class IngestReport(BaseModel):
    """What an ingestion did: files converted, chunks made and added, paths skipped with reasons."""

    files: list[IngestedFile] = Field(default_factory=list)
    skipped: list[IngestSkip] = Field(default_factory=list)

    @property
    def chunks(self) -> int:
        return sum(f.chunks for f in self.files)

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def duplicates(self) -> int:
        return self.chunks - self.added


def _skip(path: Path | str, reason: str, error: str) -> IngestSkip:
    return IngestSkip(path=str(path), reason=reason, error=error)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _special(mode: int) -> str | None:
    return next((name for test, name in _SPECIAL if test(mode)), None)


class _Walk:
    """Collects the files of the given paths, and why others were left out."""

    def __init__(self, include_hidden: bool, exclude: Sequence[Path]) -> None:
        self.include_hidden = include_hidden
        self.exclude = [p.resolve() for p in exclude]
        self.found: list[Path] = []
        self.skipped: list[IngestSkip] = []

    def excluded(self, resolved: Path) -> bool:
        return any(_inside(resolved, folder) for folder in self.exclude)

    def add(self, raw: str | Path) -> None:
        path = Path(raw).expanduser()
        try:
            mode = path.stat().st_mode  # a path named on purpose may be a link: followed
        except FileNotFoundError:
            self.skipped.append(_skip(path, "no such file or folder", "DocumentNotFoundError"))
            return
        except OSError as exc:
            self.skipped.append(_skip(path, exc.strerror or str(exc), type(exc).__name__))
            return
        resolved = path.resolve()
        if self.excluded(resolved):
            self.skipped.append(_skip(path, "Omne's own data directory is never ingested", "DataDirectory"))
        elif stat.S_ISDIR(mode):
            self.walk(resolved)
        else:
            self.file(path, resolved, mode)

    def file(self, path: Path, resolved: Path, mode: int) -> None:
        kind = _special(mode)
        if kind is not None:
            self.skipped.append(_skip(path, f"{kind}, not a regular file", "SpecialFile"))
        elif stat.S_ISREG(mode):
            self.found.append(resolved)
        else:
            self.skipped.append(_skip(path, "not a regular file", "SpecialFile"))

    def walk(self, root: Path) -> None:
        """Every regular file under `root`; links are followed only when they stay inside `root`."""
        for folder, dirs, files in os.walk(root):
            here = Path(folder)
            kept = []
            for name in sorted(dirs):
                if not self.include_hidden and name.startswith("."):
                    continue
                path = here / name
                if path.is_symlink():
                    self.skipped.append(_skip(path, "a symbolic link to a folder (not followed)", "SymbolicLink"))
                elif self.excluded(path):
                    self.skipped.append(_skip(path, "Omne's own data directory is never ingested", "DataDirectory"))
                else:
                    kept.append(name)
            dirs[:] = kept
            for name in sorted(files):
                if self.include_hidden or not name.startswith("."):
                    self.entry(root, here / name)

    def entry(self, root: Path, path: Path) -> None:
        try:
            mode = path.lstat().st_mode
            resolved = path
            if stat.S_ISLNK(mode):
                resolved = path.resolve()
                if not _inside(resolved, root):
                    self.skipped.append(_skip(path, f"a symbolic link leading outside {root} (not followed)", "SymbolicLink"))
                    return
                mode = resolved.stat().st_mode
        except OSError as exc:  # a broken link, a file gone meanwhile
            self.skipped.append(_skip(path, exc.strerror or str(exc), type(exc).__name__))
            return
        if self.excluded(resolved):
            self.skipped.append(_skip(path, "Omne's own data directory is never ingested", "DataDirectory"))
        else:
            self.file(path, resolved, mode)


def discover_files(
    paths: Iterable[str | Path], *, include_hidden: bool = False, exclude: Sequence[Path] = ()
) -> tuple[list[Path], list[IngestSkip]]:
    """Files named by `paths`, folders walked recursively (hidden entries skipped unless asked), sorted by the
    walk, each once (resolved). A link in a folder is followed only when it stays inside the folder; nothing
    under `exclude` is taken; pipes, sockets and devices are reported, never read."""
    walk = _Walk(include_hidden, exclude)
    for raw in paths:
        walk.add(raw)
    return list(dict.fromkeys(walk.found)), walk.skipped


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (read block by block): what a document is known by besides its name."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


class _Known:
    """The scope's ingested documents: for each path its current chunks (id -> content hash), bytes and kind; for
    each bytes, the path that holds them."""

    def __init__(self, chunks: Sequence[MemoryRecord]) -> None:
        self.chunks: dict[str, dict[str, str]] = {}
        self.kind: dict[str, str] = {}
        newest: dict[str, tuple[datetime, str]] = {}
        for record in chunks:
            path, sha = record.metadata.get(SOURCE_KEY), record.metadata.get(SHA_KEY)
            if not isinstance(path, str) or not isinstance(sha, str):
                continue
            self.chunks.setdefault(path, {})[record.id] = record.content_hash()
            self.kind[path] = str(record.metadata.get("document_kind", "document"))
            if path not in newest or record.created_at > newest[path][0]:
                newest[path] = (record.created_at, sha)
        self.sha = {path: sha for path, (_, sha) in newest.items()}
        self.path_of: dict[str, str] = {}
        for path in sorted(self.sha):
            self.path_of.setdefault(self.sha[path], path)

    async def claim(self, path: str, sha: str, holds_bytes: Callable[[str, str], bool]) -> str | None:
        """None if `path` with these bytes is new to memory (it now holds them); else the path they are in memory
        under: this one, or another whose file still has these bytes (a file edited since is not a copy's source)."""
        if self.sha.get(path) == sha:
            return path
        other = self.path_of.get(sha)
        if other is not None and await asyncio.to_thread(holds_bytes, other, sha):
            return other
        self.path_of = {held: holder for held, holder in self.path_of.items() if holder != path}
        self.path_of[sha] = path  # files later in this run with the same bytes are copies of this one
        return None

    def replaced(self, path: str, records: Sequence[MemoryRecord]) -> list[str]:
        """The path's current chunks that `records` (its new version) do not repeat word for word."""
        kept = {record.content_hash() for record in records}
        return [rid for rid, content in self.chunks.get(path, {}).items() if content not in kept]

    def stored(self, path: str, sha: str, kind: str, records: Sequence[MemoryRecord]) -> None:
        self.chunks[path] = {record.id: record.content_hash() for record in records}
        self.sha[path], self.kind[path] = sha, kind


def _renamed(doc: ConvertedDocument, path: str, source: str) -> ConvertedDocument:
    """`doc` with `path` replaced by `source` where it names the file (its sections, archive members included)."""

    def rename(name: str) -> str:
        return source + name[len(path) :] if name == path or name.startswith(path + "!") else name

    sections = [s.model_copy(update={"source": rename(s.source)}) for s in doc.sections]
    return doc.model_copy(update={"source": rename(doc.source), "sections": sections})


def _has_bytes(path: str, sha: str) -> bool:
    try:
        return file_sha256(Path(path)) == sha
    except OSError:
        return False


class _InOrder:
    """Runs one step per file in the files' order, whichever worker gets there first: of two files with the same
    bytes, the first in walk order is the document, on every run."""

    def __init__(self) -> None:
        self._next = 0
        self._ready = asyncio.Condition()

    @asynccontextmanager
    async def turn(self, index: int) -> AsyncIterator[None]:
        async with self._ready:
            await self._ready.wait_for(lambda: self._next == index)
            try:
                yield
            finally:
                self._next += 1
                self._ready.notify_all()


async def _known_documents(store: MemoryStore, scope: MemoryScope) -> _Known:
    chunks = await store.list(scope, kinds=[MemoryKind.DOCUMENT_CHUNK], limit=None)
    return _Known([r for r in chunks if r.scope == scope])  # exactly this scope: a wider one is another memory


async def ingest_paths(
    store: MemoryStore,
    paths: Iterable[str | Path],
    scope: MemoryScope,
    *,
    settings: OmneSettings | None = None,
    vision_client: ChatCompletionClient | None = None,
    transcriber: Transcriber | None = None,
    chunk_tokens: int | None = None,
    overlap_tokens: int | None = None,
    keep_files: bool = True,
    include_hidden: bool = False,
    on_file: Callable[[Path, IngestedFile | IngestSkip], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    sources: Mapping[Path, str] | None = None,
    holds_bytes: Callable[[str, str], bool] = _has_bytes,
) -> IngestReport:
    """Ingest every file under `paths` into `scope`. Unreadable files are skipped with their reason;
    `on_start(total)` and `on_file(path, result)` report progress.

    A document is known by its source name: the file's path unless `sources` names it otherwise, and
    `holds_bytes(source, sha)` says whether an earlier source still has some bytes (default: its file is read).
    A server passes the names its client gave the uploaded files, and what this upload holds."""
    sources = sources or {}
    settings = settings or store.settings
    docs = settings.documents
    chunk_tokens = docs.chunk_tokens if chunk_tokens is None else chunk_tokens
    overlap_tokens = docs.chunk_overlap_tokens if overlap_tokens is None else overlap_tokens
    try:
        check_chunk_sizes(chunk_tokens, overlap_tokens)
    except ValueError as exc:
        raise MemoryValidationError(str(exc)) from None
    own = [settings.data_dir, settings.chroma_path, settings.blob_dir]
    files, skipped = await asyncio.to_thread(discover_files, paths, include_hidden=include_hidden, exclude=own)
    report = IngestReport(skipped=list(skipped))
    if on_start:
        on_start(len(files) + len(skipped))
    for skip in skipped:
        if on_file:
            on_file(Path(skip.path), skip)
    known = await _known_documents(store, scope)
    batch = settings.memory.max_batch
    writing = asyncio.Lock()  # one file's chunks are written together

    claims = _InOrder()

    async def one(index: int, path: Path) -> IngestedFile | IngestSkip:
        source = sources.get(path, str(path))
        try:
            sha: str | None = await asyncio.to_thread(file_sha256, path)
        except OSError as exc:
            sha, unreadable = None, _skip(source, exc.strerror or str(exc), type(exc).__name__)
        async with claims.turn(index):  # every file takes its turn, readable or not
            if sha is None:
                return unreadable
            earlier = await known.claim(source, sha, holds_bytes)
        if earlier == source:
            stored = len(known.chunks.get(source, {}))
            return IngestedFile(path=source, kind=known.kind.get(source, "document"), chunks=stored, added=0)
        if earlier is not None:
            return IngestedFile(path=source, kind=known.kind.get(earlier, "document"), chunks=0, added=0, duplicate_of=earlier)
        try:
            doc = await convert_file(path, settings, vision_client=vision_client, transcriber=transcriber)
        except DocumentError as exc:
            return _skip(source, exc.message, type(exc).__name__)
        except OSError as exc:
            return _skip(source, exc.strerror or str(exc), type(exc).__name__)
        if source != str(path):  # cite the document by its source name, never by where the bytes were read
            doc = _renamed(doc, str(path), source)
        chunks = chunk_document(doc, chunk_tokens, overlap_tokens)
        if not chunks:
            return _skip(source, "no text to store", "EmptyDocument")
        async with writing:
            return await store_file(path, sha, doc.kind.value, chunks, doc.warnings)

    async def store_file(path: Path, sha: str, kind: str, chunks: list[DocumentChunk], warnings: list[str]) -> IngestedFile | IngestSkip:
        """The chunks of one file, batch by batch; its old version is superseded with the last batch."""
        source = sources.get(path, str(path))
        blob_ref = await store.blobs.aput_file(path) if keep_files else None
        if blob_ref is not None and blob_ref != sha:  # the file changed since it was converted
            await store.release_blob(blob_ref)
            return _skip(source, "the file changed while it was read; ingest it again", "FileChanged")
        records = chunks_to_records(
            chunks, scope, blob_ref=blob_ref, metadata={SOURCE_KEY: source, SHA_KEY: sha, "document_kind": kind}
        )
        old = known.replaced(source, records)
        added = superseded = 0
        stored_records: list[MemoryRecord] = []
        for start in range(0, len(records), batch):
            piece = records[start : start + batch]
            last = start + batch >= len(records)
            items = [(record, old if last and i == 0 else []) for i, record in enumerate(piece)]
            stored = await store.add_superseding(items, actor="ingest")
            added += sum(1 for new, (kept, _) in zip(piece, stored, strict=True) if new.id == kept.id)
            superseded += sum(len(gone) for _, gone in stored)
            stored_records += [kept for kept, _ in stored]
        known.stored(source, sha, kind, stored_records)
        return IngestedFile(path=source, kind=kind, chunks=len(chunks), added=added, superseded=superseded, warnings=warnings)

    pending = enumerate(files)

    async def worker() -> None:
        for index, path in pending:  # shared: each worker takes the next file when it is done with one
            result = await one(index, path)
            if isinstance(result, IngestSkip):
                report.skipped.append(result)
            else:
                report.files.append(result)
            if on_file:
                on_file(path, result)

    workers = [asyncio.ensure_future(worker()) for _ in range(max(1, min(docs.worker_processes, len(files))))]
    try:
        await asyncio.gather(*workers)
    finally:  # a failed worker stops the others (they may wait for its turn)
        for task in workers:
            task.cancel()
    order = {sources.get(path, str(path)): i for i, path in enumerate(files)}
    report.files.sort(key=lambda f: order.get(f.path, 0))
    return report
