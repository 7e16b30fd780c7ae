"""Bytes: blobs that records reference (images, files, audio), and file ingest by upload."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi import Path as PathParam
from starlette.responses import Response

from omne_core.blobs import BlobNotFoundError
from omne_core.memory import MemoryScope
from omne_core.memory.ingest import IngestReport, IngestSkip, file_sha256, ingest_paths
from omne_core.memory.wire import BlobRef

from ..problems import ApiProblem, ProblemCode
from ..state import Reader, Writer, server_state

router = APIRouter(prefix="/v1", tags=["files"])

_REF = r"^[0-9a-f]{64}$"
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


@router.post(
    "/blobs", response_model=BlobRef, summary="Store bytes; answers their sha256 reference",
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}, "required": True}},
)  # fmt: skip
async def put_blob(request: Request, ctx: Writer) -> BlobRef:
    data = await request.body()
    if not data:
        raise ApiProblem(422, ProblemCode.INVALID_REQUEST, "body: the blob is empty")
    return BlobRef(ref=await ctx.store.blobs.aput_bytes(data))


@router.get("/blobs/{ref}", response_class=Response, summary="The bytes of a blob",
            responses={200: {"content": {"application/octet-stream": {}}}})  # fmt: skip
async def get_blob(ref: Annotated[str, PathParam(pattern=_REF)], ctx: Reader) -> Response:
    try:
        data = await ctx.store.blobs.aget_bytes(ref)
    except BlobNotFoundError:
        raise ApiProblem(404, ProblemCode.NOT_FOUND, f"no blob {ref}") from None
    return Response(data, media_type="application/octet-stream")


def _safe_name(name: str | None, index: int) -> str:
    """A file name that is only a name (no folders, no dot files), keeping the extension converters need."""
    base = _UNSAFE.sub("_", Path(name or "").name).strip(" .") or f"upload-{index}"
    return base[-200:]


@router.post("/ingest", response_model=IngestReport, summary="Ingest uploaded files as document chunks")
async def ingest_files(
    request: Request,
    ctx: Writer,
    files: Annotated[list[UploadFile], File(description="The files to convert, chunk and store.")],
    user_id: Annotated[str, Form(min_length=1, max_length=512, pattern=r".*\S.*")],
    agent_id: Annotated[str | None, Form(max_length=512)] = None,
    session_id: Annotated[str | None, Form(max_length=512)] = None,
    namespace: Annotated[str | None, Form(max_length=512)] = None,
    chunk_tokens: Annotated[int | None, Form(ge=32, le=8192)] = None,
    overlap_tokens: Annotated[int | None, Form(ge=0, le=4096)] = None,
    keep_files: Annotated[bool, Form()] = True,
    sources: Annotated[list[str] | None, Form(description="The name each file is known by (one per file, e.g. "
                                                          "the client's path); default: its file name.")] = None,
) -> IngestReport:
    """Each file is converted (PDF, Office, HTML, text, ...), chunked and stored as L0 `document_chunk`
    records of the scope. A document is known by its source name: the same bytes under it add nothing, new
    bytes supersede its old chunks, the same bytes under another name in this upload are a duplicate.
    Unreadable files are listed as skipped."""
    scope = MemoryScope(user_id=user_id, agent_id=agent_id, session_id=session_id, namespace=namespace)
    if sources is not None and (len(sources) != len(files) or any(not s.strip() or len(s) > 4096 for s in sources)):
        raise ApiProblem(422, ProblemCode.INVALID_REQUEST, "sources: one non-empty name (at most 4096 characters) per file")
    folder = await asyncio.to_thread(lambda: Path(tempfile.mkdtemp(prefix="omne-ingest-")).resolve())
    try:
        names: dict[Path, str] = {}
        for i, upload in enumerate(files):
            target = (folder / f"{i:03d}" / _safe_name(upload.filename, i)).resolve()
            target.parent.mkdir()
            await asyncio.to_thread(_copy, upload, target)
            names[target] = sources[i] if sources is not None else target.name
        held = {names[path]: await asyncio.to_thread(file_sha256, path) for path in names}
        settings = server_state(request).tenants.settings_for(ctx.principal.tenant)
        report = await ingest_paths(
            ctx.store, list(names), scope, settings=settings, chunk_tokens=chunk_tokens,
            overlap_tokens=overlap_tokens, keep_files=keep_files, sources=names,
            holds_bytes=lambda source, sha: held.get(source) == sha,  # the server sees only this upload's files
        )  # fmt: skip
        return _without_folder(report, folder, names)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _copy(upload: UploadFile, target: Path) -> None:
    with target.open("wb") as fh:
        shutil.copyfileobj(upload.file, fh)


def _without_folder(report: IngestReport, folder: Path, names: dict[Path, str]) -> IngestReport:
    """The report with the server's temporary folder cut from every path and reason (the client's names instead)."""
    by_path = {str(path): name for path, name in names.items()}

    def name(path: str) -> str:
        return by_path.get(path) or (Path(path).name if path.startswith(str(folder)) else path)

    def reason(text: str) -> str:
        for path, shown in by_path.items():
            text = text.replace(path, shown)
        return text.replace(str(folder), "")

    files = [f.model_copy(update={"path": name(f.path)}) for f in report.files]
    skipped = [IngestSkip(path=name(s.path), reason=reason(s.reason), error=s.error) for s in report.skipped]
    return IngestReport(files=files, skipped=skipped)
