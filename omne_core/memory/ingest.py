"""Ingest files and folders into memory: convert, chunk, store as L0 `document_chunk` records.

The source file's bytes go to the store's `BlobStore` and every chunk cites that blob, so
ingesting the same file again yields identical records, which the store drops as duplicates.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ..config import OmneSettings
from ..documents.chunking import chunk_document, chunks_to_records
from ..documents.convert import convert_file
from ..documents.enrich import Transcriber
from ..documents.errors import DocumentError
from ..records import MemoryScope

if TYPE_CHECKING:
    from autogen_core.models import ChatCompletionClient

    from .store import MemoryStore


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


def discover_files(paths: Iterable[str | Path], *, include_hidden: bool = False) -> tuple[list[Path], list[IngestSkip]]:
    """Files named by `paths`, folders walked recursively (hidden entries skipped unless asked), sorted."""
    found: list[Path] = []
    skipped: list[IngestSkip] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                if not include_hidden:
                    dirs[:] = [d for d in dirs if not d.startswith(".")]
                dirs.sort()
                for name in sorted(files):
                    if include_hidden or not name.startswith("."):
                        found.append(Path(root) / name)
        else:
            skipped.append(IngestSkip(path=str(path), reason="no such file or folder", error="DocumentNotFoundError"))
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique, skipped


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


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
) -> IngestReport:
    """Ingest every file under `paths` into `scope`. Unreadable files are skipped with their reason;
    `on_start(total)` and `on_file(path, result)` report progress."""
    settings = settings or store.settings
    docs = settings.documents
    chunk_tokens = chunk_tokens or docs.chunk_tokens
    overlap_tokens = docs.chunk_overlap_tokens if overlap_tokens is None else overlap_tokens
    files, skipped = await asyncio.to_thread(discover_files, paths, include_hidden=include_hidden)
    report = IngestReport(skipped=list(skipped))
    if on_start:
        on_start(len(files))
    for skip in skipped:
        if on_file:
            on_file(Path(skip.path), skip)
    batch = settings.memory.max_batch
    slots = asyncio.Semaphore(max(1, docs.worker_processes))
    writing = asyncio.Lock()

    async def one(path: Path) -> IngestedFile | IngestSkip:
        async with slots:
            try:
                doc = await convert_file(path, settings, vision_client=vision_client, transcriber=transcriber)
            except DocumentError as exc:
                return IngestSkip(path=str(path), reason=exc.message, error=type(exc).__name__)
            except OSError as exc:
                return IngestSkip(path=str(path), reason=str(exc), error=type(exc).__name__)
        chunks = chunk_document(doc, chunk_tokens, overlap_tokens)
        if not chunks:
            return IngestSkip(path=str(path), reason="no text to store", error="EmptyDocument")
        blob_ref = await store.blobs.aput_bytes(await asyncio.to_thread(path.read_bytes)) if keep_files else None
        sha = blob_ref or await asyncio.to_thread(_sha256, path)
        records = chunks_to_records(
            chunks, scope, blob_ref=blob_ref,
            metadata={"ingested_from": str(path), "file_sha256": sha, "document_kind": doc.kind.value},
        )  # fmt: skip
        added = 0
        async with writing:
            for start in range(0, len(records), batch):
                piece = records[start : start + batch]
                stored = await store.add(piece, actor="ingest")
                added += sum(1 for new, kept in zip(piece, stored, strict=True) if new.id == kept.id)
        return IngestedFile(path=str(path), kind=doc.kind.value, chunks=len(chunks), added=added, warnings=doc.warnings)

    async def tracked(path: Path) -> IngestedFile | IngestSkip:
        result = await one(path)
        if on_file:
            on_file(path, result)
        return result

    for result in await asyncio.gather(*(tracked(p) for p in files)):
        if isinstance(result, IngestSkip):
            report.skipped.append(result)
        else:
            report.files.append(result)
    return report
