"""The inspector's read-only pages: the tenant's users, a record list, one record, the search playground."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from omne_core.memory import MemoryKind, build_context

from .context import Reader, RecordId, UiRoute, ui_state
from .queries import PAGE_SIZES, STATUS_CHOICES, RecordQuery, SearchQuery
from .render import UI_PREFIX, url
from .views import changed_fields, supersession_chain

router = APIRouter(prefix=UI_PREFIX, route_class=UiRoute, include_in_schema=False)

KINDS = [k.value for k in MemoryKind]
ACTIVITY_ROWS = 20  # the newest tenant-wide history entries (users forgotten, exports) on the users page
DONE = {  # fixed messages after an action (the query string picks one; it is never shown itself)
    "edited": "Saved: the record has a new version.",
    "superseded": "The record is now superseded.",
    "deleted": "The record is deleted (soft: it stays in the history and can be listed with status deleted).",
    "hard_deleted": "The record was purged (hard delete): text, vector and history content are gone.",
    "forgotten": "The user was forgotten: every record, vector and history entry is gone.",
}


def _done(request: Request) -> str | None:
    return DONE.get(request.query_params.get("done", ""))


@router.get("")
async def home_slash_less() -> Response:
    return RedirectResponse(url("/"), status_code=307)


@router.get("/")
async def home(ctx: Reader) -> Response:
    return RedirectResponse(url("/users"), status_code=303)


@router.get("/users")
async def users(request: Request, ctx: Reader) -> Response:
    found = await ctx.store.users()
    kinds = [k for k in KINDS if any(u.by_kind.get(k) for u in found)]
    activity = await ctx.store.activity(ACTIVITY_ROWS)
    return ui_state(request).renderer.page(
        request, "users.html", users=found, kinds=kinds, activity=activity, done=_done(request)
    )


@router.get("/records")
async def records(request: Request, ctx: Reader) -> Response:
    query = RecordQuery.parse(request.query_params)
    page, more, elapsed = [], False, 0.0
    if query.user and not query.problems:
        started = time.perf_counter()
        found = await ctx.store.list(
            query.scope, kinds=query.kinds or None, since=query.since, until=query.until, limit=query.limit + 1,
            statuses=query.statuses, include_inactive=query.statuses is None, oldest_first=query.oldest_first,
            after=query.after or None, metadata=query.metadata,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        page, more = found[: query.limit], len(found) > query.limit
    users = [] if query.user else [u.user_id for u in await ctx.store.users()]
    return ui_state(request).renderer.page(
        request, "records.html", query=query, records=page, more=more, users=users, kinds=KINDS,
        statuses=STATUS_CHOICES, page_sizes=PAGE_SIZES, elapsed_ms=elapsed * 1000, done=_done(request),
    )  # fmt: skip


@router.get("/record")
async def record(request: Request, ctx: Reader, record_id: RecordId) -> Response:
    links = await ctx.store.links(record_id)
    chain = await supersession_chain(ctx.store, links)
    history = await ctx.store.history(record_id)
    changes = [(change, changed_fields(change)) for change in history]
    return ui_state(request).renderer.page(
        request, "record.html", record=links.record, links=links, chain=chain, changes=changes, done=_done(request)
    )


@router.get("/search")
async def search(request: Request, ctx: Reader) -> Response:
    query = SearchQuery.parse(request.query_params)
    hits, context, elapsed = [], None, 0.0
    if query.query and query.user and not query.problems:
        started = time.perf_counter()
        hits = await ctx.store.search(
            query.query, query.scope, kinds=query.kinds or None, limit=query.limit, include_inactive=query.include_inactive,
            metadata=query.metadata,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        context = build_context(hits, max_tokens=query.budget)
    users = [u.user_id for u in await ctx.store.users()]
    return ui_state(request).renderer.page(
        request, "search.html", query=query, hits=hits, context=context, users=users, kinds=KINDS,
        elapsed_ms=elapsed * 1000, reembedding=ctx.store.reembedding,
    )  # fmt: skip
