"""What a record page shows besides the record: its supersession chain and what each change of its history did."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from omne_core.memory import (
    MemoryChange,
    MemoryNotFoundError,
    MemoryRecord,
    MemoryStore,
    MemoryValidationError,
    RecordLinks,
)

CHAIN_LIMIT = 25  # records shown on each side of a supersession chain
_QUIET_FIELDS = {"updated_at", "version", "access_count", "last_accessed_at"}


@dataclass
class Chain:
    """A record's supersession chain, oldest first: what it replaced (transitively), itself, what replaced it."""

    before: list[MemoryRecord]
    after: list[MemoryRecord]
    truncated: bool = False


async def supersession_chain(store: MemoryStore, links: RecordLinks) -> Chain:
    """Walk `supersedes` back (breadth first) and `superseded_by` forward, each at most CHAIN_LIMIT records."""
    seen = {links.record.id}
    before: list[MemoryRecord] = []
    queue = deque(links.supersedes)
    truncated = False
    while queue:
        record = queue.popleft()
        if record.id in seen:
            continue
        if len(before) >= CHAIN_LIMIT:
            truncated = True
            break
        seen.add(record.id)
        before.append(record)
        queue.extend((await store.links(record.id)).supersedes)
    after: list[MemoryRecord] = []
    successor = links.superseded_by
    while successor is not None and successor.id not in seen:
        if len(after) >= CHAIN_LIMIT:
            truncated = True
            break
        seen.add(successor.id)
        after.append(successor)
        successor = await _get(store, successor.superseded_by)
    before.sort(key=lambda r: (r.created_at, r.id))
    return Chain(before=before, after=after, truncated=truncated)


async def _get(store: MemoryStore, record_id: str | None) -> MemoryRecord | None:
    if record_id is None:
        return None
    try:
        return await store.get(record_id)
    except (MemoryNotFoundError, MemoryValidationError):  # a dangling pointer (hard-deleted) ends the walk
        return None


@dataclass
class FieldChange:
    name: str
    before: Any
    after: Any


def changed_fields(change: MemoryChange) -> list[FieldChange]:
    """The fields a history entry changed (bookkeeping fields such as updated_at left out)."""
    before, after = change.before or {}, change.after or {}
    if not before or not after:
        return []
    names = sorted((set(before) | set(after)) - _QUIET_FIELDS)
    return [FieldChange(n, before.get(n), after.get(n)) for n in names if before.get(n) != after.get(n)]
