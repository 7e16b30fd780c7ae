"""Whole scopes and users: the users, statistics, export and import (streamed JSONL), forgetting a user."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from omne_core.memory import ImportResult, MemoryStats
from omne_core.memory.filters import ScopeArg
from omne_core.memory.wire import JSONL_MEDIA_TYPE, ForgetUserResponse, ScopeRequest, UsersResponse

from ..state import Reader, Writer, server_state
from .records import ScopeQuery

router = APIRouter(prefix="/v1", tags=["scopes"])


@router.delete("/users/{user_id}", response_model=ForgetUserResponse, summary="Forget a user entirely")
async def forget_user(
    user_id: Annotated[str, PathParam(min_length=1, max_length=512)], ctx: Writer, actor: str = "user"
) -> ForgetUserResponse:
    """Purge every record, vector, blob and history entry of the user (not undoable)."""
    return ForgetUserResponse(removed=await ctx.store.forget_user(user_id, actor=ctx.actor(actor[:200])))


@router.get("/users", response_model=UsersResponse, summary="Every user of the tenant, with record counts")
async def users(ctx: Reader) -> UsersResponse:
    return UsersResponse(users=await ctx.store.users())


@router.get("/stats", response_model=MemoryStats, summary="Counts of a scope's records by kind and status")
async def stats(ctx: Reader, scope: ScopeQuery) -> MemoryStats:
    return await ctx.store.stats(scope)


@router.post("/stats", response_model=MemoryStats, summary="Counts of one or more scopes' records")
async def stats_post(body: ScopeRequest, ctx: Reader) -> MemoryStats:
    return await ctx.store.stats(body.scope)


async def _export(ctx: Reader, scope: ScopeArg, actor: str) -> FileResponse:
    """The scope as a JSONL download; the export is logged in the tenant's activity under `actor`."""
    fd, name = tempfile.mkstemp(prefix="omne-export-", suffix=".jsonl")
    os.close(fd)
    path = Path(name)
    try:
        await ctx.store.export_jsonl(path, scope, actor=actor)
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    return FileResponse(
        path, media_type=JSONL_MEDIA_TYPE, filename="omne-export.jsonl",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )  # fmt: skip


@router.get("/export", summary="Export a scope as JSONL (every status, blobs inlined)",
            response_class=FileResponse, responses={200: {"content": {JSONL_MEDIA_TYPE: {}}}})  # fmt: skip
async def export_scope(ctx: Reader, scope: ScopeQuery, actor: str = "user") -> FileResponse:
    return await _export(ctx, scope, ctx.actor(actor[:200]))


@router.post("/export", summary="Export one or more scopes as JSONL",
             response_class=FileResponse, responses={200: {"content": {JSONL_MEDIA_TYPE: {}}}})  # fmt: skip
async def export_scopes(body: ScopeRequest, ctx: Reader, actor: str = "user") -> FileResponse:
    return await _export(ctx, body.scope, ctx.actor(actor[:200]))


def upload_limit(request: Request) -> int:
    return server_state(request).settings.server.max_upload_bytes


@router.post(
    "/import", response_model=ImportResult, summary="Import a JSONL export (the request body)",
    openapi_extra={"requestBody": {"content": {JSONL_MEDIA_TYPE: {"schema": {"type": "string"}}}, "required": True}},
)  # fmt: skip
async def import_jsonl(request: Request, ctx: Writer, actor: str = "import") -> ImportResult:
    """Every line is checked before anything is written: a corrupt file is rejected whole (422 `import_error`)."""
    fd, name = tempfile.mkstemp(prefix="omne-import-", suffix=".jsonl")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            async for chunk in request.stream():
                fh.write(chunk)
        return await ctx.store.import_jsonl(path, actor=ctx.actor(actor[:200]))
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)
