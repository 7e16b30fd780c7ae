"""Omne memory as MCP tools (the official `mcp` SDK's FastMCP): remember, search, get, update, forget, list recent.

One tool set, two transports: streamable HTTP at `/mcp` on `omne serve` (the same API keys: a key's tenant
store), and stdio for desktop clients (`omne mcp`: the local store, or a server's). Each call resolves its
`McpCaller` — the store, whether it may write, and the user it is bound to, if any. A bound user (`omne mcp
--user`, or the `Omne-User` header) is the only user the tools reach; otherwise tools take `user_id`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from omne_core.memory import (
    MemoryKind,
    MemoryNotFoundError,
    MemoryRecord,
    MemoryScope,
    MemoryStoreAPI,
    MemoryStoreError,
    SearchHit,
)
from omne_core.memory.metadata_filter import MetadataConditions

USER_HEADER = "omne-user"
MAX_LABELS_CHARS = 4000  # what `remember` may store as metadata, as JSON
INSTRUCTIONS = """Long-term memory (Omne). Before answering a question that may depend on what you were told \
earlier, call search_memories. When the user tells you something worth keeping (a fact, a preference, a \
plan, an event), call remember with one self-contained sentence. Memories are scoped to a user."""


@dataclass(frozen=True)
class McpCaller:
    """Who a tool call acts for: the store it reaches, whether it may write, the user it is bound to."""

    store: MemoryStoreAPI
    read_only: bool = False
    user_id: str | None = None  # bound: tools reach this user only
    actor: str = "mcp"


CallerResolver = Callable[[Context], Awaitable[McpCaller]]


class MemoryItem(BaseModel):
    """A memory as the tools return it."""

    id: str
    kind: MemoryKind
    text: str
    user_id: str
    session_id: str | None = None
    when: datetime = Field(description="When it happened (event time), else when it was stored.")
    status: str
    score: float | None = Field(default=None, description="Search relevance (higher is better).")
    reasons: list[str] | None = Field(default=None, description="Why a search hit ranked where it did.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Labels stored with it (and Omne's own).")

    @classmethod
    def of(cls, record: MemoryRecord, hit: SearchHit | None = None) -> MemoryItem:
        return cls(
            id=record.id, kind=record.kind, text=record.text, user_id=record.scope.user_id,
            session_id=record.scope.session_id, when=record.event_time or record.created_at,
            status=record.status.value, score=round(hit.score, 4) if hit else None, reasons=hit.reasons if hit else None,
            metadata=record.metadata,
        )  # fmt: skip


class MemoryList(BaseModel):
    memories: list[MemoryItem]


class Remembered(BaseModel):
    memory: MemoryItem
    duplicate: bool = Field(description="True when the same memory was already stored (nothing new was added).")


class Forgotten(BaseModel):
    id: str
    hard: bool


UserArg = Annotated[str | None, Field(description="The user the memories belong to (omit when the server binds one).")]
IdArg = Annotated[str, Field(min_length=1, description="A memory id, as returned by the other tools.")]
KindsArg = Annotated[list[MemoryKind] | None, Field(description="Only these kinds (default: all).")]
LabelsArg = Annotated[MetadataConditions | None, Field(
    description='Only memories whose labels match, e.g. {"project": "apollo"}, {"priority": {"gte": 2}}, '
    '{"project": {"in": ["apollo", "zeus"]}}, {"tags": {"contains": "urgent"}}, {"status": {"ne": "archived"}}.')]  # fmt: skip


def _user(caller: McpCaller, user_id: str | None) -> str:
    if caller.user_id is not None:
        if user_id not in (None, "", caller.user_id):
            raise ToolError(f"this connection is bound to user {caller.user_id!r}; it cannot reach {user_id!r}")
        return caller.user_id
    if not user_id or not user_id.strip():
        raise ToolError("user_id is required (this connection is not bound to a user)")
    return user_id


def _writable(caller: McpCaller) -> None:
    if caller.read_only:
        raise ToolError("this API key is read-only: it cannot change memory")


async def _owned(caller: McpCaller, memory_id: str) -> MemoryRecord:
    """The record, if the caller may see it (another user's record, for a bound caller, is not found)."""
    scope = MemoryScope(user_id=caller.user_id) if caller.user_id else None
    try:
        return await caller.store.get(memory_id, scope)
    except MemoryNotFoundError:
        raise ToolError(f"no memory with id {memory_id!r}") from None


def build_mcp(resolve: CallerResolver, *, name: str = "omne-memory") -> FastMCP:
    """The MCP server: six memory tools acting through `resolve(ctx)`."""
    mcp = FastMCP(
        name, instructions=INSTRUCTIONS, stateless_http=True, json_response=True, streamable_http_path="/mcp",
        log_level="WARNING", warn_on_duplicate_tools=True,
        # Keys guard the HTTP endpoint; keyless local mode checks the Host header itself (omne_server.auth).
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )  # fmt: skip
    read = ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)
    write = ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False)

    async def call(ctx: Context, work: Callable[[McpCaller], Awaitable[Any]]) -> Any:
        caller = await resolve(ctx)
        try:
            return await work(caller)
        except MemoryNotFoundError as exc:
            raise ToolError(str(exc)) from None
        except MemoryStoreError as exc:  # rejected input, a refused key, ... : the model reads why
            raise ToolError(str(exc)) from None

    @mcp.tool(annotations=write)
    async def remember(
        ctx: Context,
        text: Annotated[str, Field(min_length=1, max_length=20_000, description="The memory: one self-contained statement.")],
        user_id: UserArg = None,
        kind: Annotated[MemoryKind, Field(description="observation/message/event (raw) or fact/preference/insight/profile/experience (conclusions).")] = MemoryKind.OBSERVATION,
        session_id: Annotated[str | None, Field(description="The conversation it comes from, if any.")] = None,
        importance: Annotated[float, Field(ge=0.0, le=1.0, description="0..1, how much it matters.")] = 0.5,
        event_time: Annotated[datetime | None, Field(description="When it happened (ISO 8601), if known.")] = None,
        metadata: Annotated[MetadataConditions | None, Field(
            description='Labels to find it by later, e.g. {"project": "apollo"} (strings, numbers, booleans, lists).')] = None,
    ) -> Remembered:
        """Store a memory about a user. An exact duplicate returns the memory already stored."""

        async def work(caller: McpCaller) -> Remembered:
            _writable(caller)
            if metadata and len(json.dumps(metadata)) > MAX_LABELS_CHARS:  # labels, not a second text to store
                raise ToolError(f"metadata holds more than {MAX_LABELS_CHARS} characters of JSON: keep labels short")
            record = MemoryRecord(
                kind=kind, text=text, importance=importance, event_time=event_time, metadata=metadata or {},
                scope=MemoryScope(user_id=_user(caller, user_id), session_id=session_id),
            )  # fmt: skip
            [stored] = await caller.store.add(record, actor=caller.actor)
            return Remembered(memory=MemoryItem.of(stored), duplicate=stored.id != record.id)

        return await call(ctx, work)

    @mcp.tool(annotations=read)
    async def search_memories(
        ctx: Context,
        query: Annotated[str, Field(min_length=1, max_length=2000, description="What to look for, in plain words.")],
        user_id: UserArg = None,
        limit: Annotated[int, Field(ge=1, le=50, description="At most this many memories.")] = 5,
        kinds: KindsArg = None,
        metadata: LabelsArg = None,
    ) -> MemoryList:
        """Find a user's memories relevant to a query (meaning and words), best first, with scores and reasons."""

        async def work(caller: McpCaller) -> MemoryList:
            scope = MemoryScope(user_id=_user(caller, user_id))
            hits = await caller.store.search(query, scope, kinds=kinds, limit=limit, metadata=metadata)
            return MemoryList(memories=[MemoryItem.of(h.record, h) for h in hits])

        return await call(ctx, work)

    @mcp.tool(annotations=read)
    async def get_memory(ctx: Context, memory_id: IdArg) -> MemoryItem:
        """One memory by its id."""

        async def work(caller: McpCaller) -> MemoryItem:
            return MemoryItem.of(await _owned(caller, memory_id))

        return await call(ctx, work)

    @mcp.tool(annotations=write)
    async def update_memory(
        ctx: Context,
        memory_id: IdArg,
        text: Annotated[str | None, Field(min_length=1, max_length=20_000, description="The corrected text.")] = None,
        importance: Annotated[float | None, Field(ge=0.0, le=1.0, description="A new importance, 0..1.")] = None,
    ) -> MemoryItem:
        """Correct a memory (a new version; the previous one stays in its history)."""

        async def work(caller: McpCaller) -> MemoryItem:
            _writable(caller)
            await _owned(caller, memory_id)
            if text is None and importance is None:
                raise ToolError("give text or importance to change")
            return MemoryItem.of(await caller.store.update(memory_id, text=text, importance=importance, actor=caller.actor))

        return await call(ctx, work)

    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=True, openWorldHint=False))
    async def forget_memory(
        ctx: Context,
        memory_id: IdArg,
        hard: Annotated[bool, Field(description="Purge it entirely (not undoable) instead of marking it deleted.")] = False,
    ) -> Forgotten:
        """Forget a memory: marked deleted (kept in its history), or purged with hard=true."""

        async def work(caller: McpCaller) -> Forgotten:
            _writable(caller)
            await _owned(caller, memory_id)
            await caller.store.delete(memory_id, hard=hard, actor=caller.actor)
            return Forgotten(id=memory_id, hard=hard)

        return await call(ctx, work)

    @mcp.tool(annotations=read)
    async def list_recent_memories(
        ctx: Context,
        user_id: UserArg = None,
        limit: Annotated[int, Field(ge=1, le=100, description="At most this many, newest first.")] = 10,
        kinds: KindsArg = None,
        session_id: Annotated[str | None, Field(description="Only this conversation's memories.")] = None,
        metadata: LabelsArg = None,
    ) -> MemoryList:
        """A user's most recent memories, newest first."""

        async def work(caller: McpCaller) -> MemoryList:
            scope = MemoryScope(user_id=_user(caller, user_id), session_id=session_id)
            records = await caller.store.list(scope, kinds=kinds, limit=limit, metadata=metadata)
            return MemoryList(memories=[MemoryItem.of(r) for r in records])

        return await call(ctx, work)

    return mcp
