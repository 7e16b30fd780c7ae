"""`/v1/memories`: add, search, list with paging, and one record's get, update, delete, history, supersede."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStatus, RecordLinks
from omne_core.memory.wire import (
    MAX_PAGE,
    AddMemoriesRequest,
    AddMemoriesResponse,
    DeleteManyRequest,
    DeleteManyResponse,
    HistoryResponse,
    ListRequest,
    RecordPage,
    ResolveRequest,
    SearchRequest,
    SearchResponse,
    SupersedeRequest,
    UpdateMemoryRequest,
)

from ..state import Reader, Writer

router = APIRouter(prefix="/v1", tags=["memories"])

_NON_BLANK = r".*\S.*"


def scope_query(
    user_id: Annotated[str, Query(min_length=1, max_length=512, pattern=_NON_BLANK, description="The user the records belong to.")],
    agent_id: Annotated[str | None, Query(max_length=512)] = None,
    session_id: Annotated[str | None, Query(max_length=512)] = None,
    namespace: Annotated[str | None, Query(max_length=512)] = None,
) -> MemoryScope:
    """A scope from query parameters (GET routes); POST routes take a `scope` object (or a list) in the body."""
    return MemoryScope(user_id=user_id, agent_id=agent_id, session_id=session_id, namespace=namespace)


ScopeQuery = Annotated[MemoryScope, Depends(scope_query)]


@router.post("/memories", response_model=AddMemoriesResponse, summary="Add one record or a batch")
async def add_memories(body: AddMemoriesRequest, ctx: Writer) -> AddMemoriesResponse:
    """Store records (an exact duplicate in the same scope returns the existing record). With `supersedes`,
    each record replaces the listed ids, all in one transaction."""
    actor = ctx.actor(body.actor)
    if body.supersedes is None:
        records = await ctx.store.add(body.records, actor=actor)
        return AddMemoriesResponse(records=records, superseded=[[] for _ in records])
    pairs = await ctx.store.add_superseding(list(zip(body.records, body.supersedes, strict=True)), actor=actor)
    return AddMemoriesResponse(records=[r for r, _ in pairs], superseded=[ids for _, ids in pairs])


@router.post("/memories/search", response_model=SearchResponse, summary="Hybrid search in a scope")
async def search_memories(body: SearchRequest, ctx: Reader) -> SearchResponse:
    """Dense + BM25 search; scope, kinds, time window, status and metadata values are hard filters. Each hit has its fused
    score, its dense and lexical scores and the reasons it ranked."""
    hits = await ctx.store.search(
        body.query, body.scope, kinds=body.kinds, since=body.since, until=body.until,
        limit=body.limit, include_inactive=body.include_inactive, min_similarity=body.min_similarity,
        metadata=body.metadata,
    )  # fmt: skip
    return SearchResponse(hits=hits)


async def _page(ctx: Reader, request: ListRequest) -> RecordPage:
    records = await ctx.store.list(
        request.scope, kinds=request.kinds, since=request.since, until=request.until, limit=request.limit + 1,
        include_inactive=request.include_inactive, statuses=request.statuses, oldest_first=request.oldest_first,
        after=request.after, metadata=request.metadata,
    )  # fmt: skip
    page = records[: request.limit]
    return RecordPage(records=page, next_after=page[-1].id if len(records) > request.limit else None)


@router.get("/memories", response_model=RecordPage, summary="List a scope's records (newest first), one page")
async def list_memories(
    ctx: Reader,
    scope: ScopeQuery,
    kind: Annotated[list[MemoryKind] | None, Query(description="Only these kinds (repeatable).")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    include_inactive: bool = False,
    status: Annotated[list[MemoryStatus] | None, Query(description="Only these statuses (repeatable).")] = None,
    oldest_first: bool = False,
    after: Annotated[str | None, Query(min_length=1, description="The `next_after` of the previous page.")] = None,
) -> RecordPage:
    request = ListRequest(
        scope=scope, kinds=kind, since=since, until=until, limit=limit, include_inactive=include_inactive,
        statuses=status, oldest_first=oldest_first, after=after,
    )  # fmt: skip
    return await _page(ctx, request)


@router.post("/memories/list", response_model=RecordPage, summary="List records of one or more scopes, one page")
async def list_memories_post(body: ListRequest, ctx: Reader) -> RecordPage:
    return await _page(ctx, body)


@router.post("/memories/resolve", response_model=MemoryRecord, summary="A record by its id or the start of it")
async def resolve_memory(body: ResolveRequest, ctx: Reader) -> MemoryRecord:
    """The scope's record with this id, else the only one whose id starts with it; another scope's record is
    404 like an unknown id, a prefix several records share is 422 naming some of them."""
    return await ctx.store.resolve(body.id, body.scope, candidates=body.candidates)


@router.post("/memories/delete", response_model=DeleteManyResponse, summary="Delete many records at once")
async def delete_memories(body: DeleteManyRequest, ctx: Writer) -> DeleteManyResponse:
    """Soft or hard delete of the listed records in one transaction; unknown ids are skipped."""
    return DeleteManyResponse(deleted=await ctx.store.delete_many(body.ids, hard=body.hard, actor=ctx.actor(body.actor)))


@router.get("/memories/{record_id:path}/links", response_model=RecordLinks, summary="A record's provenance both ways")
async def memory_links(record_id: str, ctx: Reader) -> RecordLinks:
    """The records it cites and the conclusions citing it; the records it replaced and the one replacing it."""
    return await ctx.store.links(record_id)


@router.get("/memories/{record_id:path}/history", response_model=HistoryResponse, summary="A record's change history")
async def memory_history(record_id: str, ctx: Reader) -> HistoryResponse:
    return HistoryResponse(changes=await ctx.store.history(record_id))


@router.post("/memories/{record_id:path}/supersede", response_model=MemoryRecord, summary="Mark a record superseded")
async def supersede_memory(record_id: str, body: SupersedeRequest, ctx: Writer) -> MemoryRecord:
    """`record_id` becomes superseded by `by` (a newer record of the same user); nothing is deleted."""
    return await ctx.store.supersede(record_id, body.by, actor=ctx.actor(body.actor))


@router.get("/memories/{record_id:path}", response_model=MemoryRecord, summary="One record")
async def get_memory(record_id: str, ctx: Reader) -> MemoryRecord:
    return await ctx.store.get(record_id)


@router.patch("/memories/{record_id:path}", response_model=MemoryRecord, summary="Change a record (a new version)")
async def update_memory(record_id: str, body: UpdateMemoryRequest, ctx: Writer) -> MemoryRecord:
    return await ctx.store.update(record_id, **body.changes(), actor=ctx.actor(body.actor))


@router.delete("/memories/{record_id:path}", status_code=204, summary="Delete a record (soft, or hard with ?hard=true)")
async def delete_memory(record_id: str, ctx: Writer, hard: bool = False, actor: str = "user") -> Response:
    await ctx.store.delete(record_id, hard=hard, actor=ctx.actor(actor[:200]))
    return Response(status_code=204)
