"""`convert_file`: any supported file → markdown with provenance, under size, archive and time limits."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import OmneSettings
from ..config.documents import DocumentSettings
from .archive import ExtractionBudget, convert_zip
from .converters import EXTENSION_CONVERTERS, LOCAL_CONVERTERS, ConvertJob
from .detect import LFS_POINTER_MAX_BYTES, check_not_lfs_pointer, detect_file_type
from .enrich import Transcriber, add_image_description, add_transcript, transcriber_from_settings
from .errors import (
    ConversionTimeoutError,
    DocumentError,
    DocumentNotFoundError,
    FileTooLargeError,
    ServiceUnavailableError,
)
from .llama_parse import parse_with_llama_cloud
from .types import ConvertedDocument, DocumentKind
from .worker import default_pool, run_in_thread

if TYPE_CHECKING:
    from autogen_core.models import ChatCompletionClient

# Spreadsheets stay local by default: LlamaParse drops cell fill colours, which GAIA tasks rely on.
LLAMA_PARSE_KINDS = frozenset({DocumentKind.PDF, DocumentKind.DOCX, DocumentKind.PPTX})


def _file_size(path: Path) -> int | None:
    return path.stat().st_size if path.is_file() else None


class _Conversion:
    """One `convert_file` call: settings, optional model clients, and the archive byte budget."""

    def __init__(
        self, settings: OmneSettings | DocumentSettings | None, vision_client: Any, transcriber: Any
    ) -> None:
        if settings is None:
            settings = DocumentSettings()  # the defaults: settings come from the caller, never the environment
        if isinstance(settings, OmneSettings):
            self.docs = settings.documents
            key = settings.llama_cloud_api_key
            self.llama_key = key.get_secret_value() if key else None
            self.transcriber = transcriber or transcriber_from_settings(settings)
        else:
            self.docs = settings
            self.llama_key = None
            self.transcriber = transcriber
        self.vision_client = vision_client
        self.budget = ExtractionBudget(self.docs.max_zip_uncompressed_bytes)

    async def convert(self, path: Path, source: str, name: str, depth: int) -> ConvertedDocument:
        size = await asyncio.to_thread(_file_size, path)
        if size is None:
            raise DocumentNotFoundError("no such file", source)
        if size > self.docs.max_file_bytes:
            raise FileTooLargeError(f"file has {size} bytes, more than max_file_bytes={self.docs.max_file_bytes}", source)

        custom = EXTENSION_CONVERTERS.get(path.suffix.lower())
        if custom is not None:
            if size < LFS_POINTER_MAX_BYTES:  # detection (below) checks the other files
                check_not_lfs_pointer(await asyncio.to_thread(path.read_bytes), source)
            target, kind, mime_type = custom
            job = ConvertJob(source=source, name=name, kind=kind, mime_type=mime_type, settings=self.docs)
            return self._finish(await self._run_local(target, path, job), size)

        try:
            detected = await asyncio.to_thread(detect_file_type, path)
        except DocumentError as exc:  # name the provenance label, not a temporary member path
            raise type(exc)(exc.message, source) from None
        kind = detected.kind
        if kind is DocumentKind.ZIP:
            doc = await convert_zip(
                path, source=source, name=name, depth=depth, settings=self.docs, budget=self.budget,
                convert_member=self.convert,
            )  # fmt: skip
            return self._finish(doc, size)

        llama_failure: str | None = None
        if self.llama_key and self.docs.use_llama_parse and kind in LLAMA_PARSE_KINDS:
            try:
                doc = await parse_with_llama_cloud(
                    path, source=source, name=name, kind=kind, mime_type=detected.mime_type, api_key=self.llama_key,
                    base_url=self.docs.llama_parse_base_url, timeout_s=self.docs.llama_parse_timeout_s,
                )  # fmt: skip
                return self._finish(doc, size)
            except ServiceUnavailableError as exc:
                llama_failure = exc.message

        job = ConvertJob(
            source=source, name=name, kind=kind, mime_type=detected.mime_type, encoding=detected.encoding,
            by_content=detected.by_content, settings=self.docs,
        )  # fmt: skip
        doc = await self._run_local(LOCAL_CONVERTERS[kind], path, job)
        if llama_failure is not None:
            doc.metadata["parser"] = "local"
            doc.metadata["llama_parse_fallback"] = llama_failure
            doc.warnings.append(f"LlamaParse failed, used the local converter: {llama_failure}")
        if kind is DocumentKind.IMAGE and self.vision_client is not None:
            doc = await add_image_description(doc, path, self.vision_client, self.docs.vision_timeout_s)
        if kind is DocumentKind.AUDIO:
            doc = await add_transcript(doc, path, self.transcriber, self.docs.per_file_timeout_s)
        return self._finish(doc, size)

    async def _run_local(self, target: str, path: Path, job: ConvertJob) -> ConvertedDocument:
        timeout = self.docs.per_file_timeout_s
        if self.docs.isolate_converters:
            pool = default_pool(self.docs.worker_processes)
            cancel = threading.Event()
            try:
                return await asyncio.to_thread(pool.run, target, path, job, timeout, cancel)
            except asyncio.CancelledError:
                cancel.set()  # the waiting thread kills the worker within a fraction of a second
                raise
        try:
            return await asyncio.wait_for(asyncio.to_thread(run_in_thread, target, path, job), timeout)
        except TimeoutError as exc:  # the thread cannot be killed; it is abandoned
            raise ConversionTimeoutError(f"conversion took longer than {timeout:g} s", job.source) from exc

    @staticmethod
    def _finish(doc: ConvertedDocument, size: int) -> ConvertedDocument:
        doc.metadata.setdefault("parser", "local")
        doc.metadata["size_bytes"] = size
        return doc


async def convert_file(
    path: str | Path,
    settings: OmneSettings | DocumentSettings | None = None,
    *,
    vision_client: ChatCompletionClient | None = None,
    transcriber: Transcriber | None = None,
) -> ConvertedDocument:
    """Convert a file to markdown with page/sheet/slide provenance.

    Raises a `DocumentError` subclass for missing, oversized, unknown, corrupt or encrypted files,
    ZIP bombs, over-deep archives and converters that exceed the per-file time limit.
    `vision_client` (a vision-capable AutoGen model client) adds image descriptions; `transcriber`
    (or `settings.documents.transcriber`) adds audio transcripts.
    """
    path = Path(path)
    conversion = _Conversion(settings, vision_client, transcriber)
    return await conversion.convert(path, str(path), path.name, depth=0)


def convert_file_sync(
    path: str | Path,
    settings: OmneSettings | DocumentSettings | None = None,
    *,
    vision_client: ChatCompletionClient | None = None,
    transcriber: Transcriber | None = None,
) -> ConvertedDocument:
    """`convert_file` for synchronous code (also works when called from inside a running event loop)."""
    coro = convert_file(path, settings, vision_client=vision_client, transcriber=transcriber)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coro).result()
