"""Housekeeping operators without a model: `consolidate` merges near-duplicates, `forget` applies a retention policy."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from pydantic import BaseModel, Field

from ..records import L1_KINDS, MemoryKind, MemoryRecord, MemoryScope, MemoryStatus
from .filters import as_utc
from .labels import same_labels
from .store import MemoryStore
from .vectormath import unit_rows


class MergeGroup(BaseModel):
    kept: str
    superseded: list[str]


class ConsolidationResult(BaseModel):
    groups: list[MergeGroup] = Field(default_factory=list)


def near_duplicates(vectors: Sequence[Sequence[float]], threshold: float, block: int = 1024) -> list[list[int]]:
    """For each vector, the indexes of the others with cosine similarity >= threshold (blockwise matrix products)."""
    matrix = unit_rows(vectors)
    out: list[list[int]] = []
    for start in range(0, len(matrix), block):
        sims = matrix[start : start + block] @ matrix.T
        for row, similar in enumerate(sims >= threshold):
            out.append([int(j) for j in np.flatnonzero(similar) if j != start + row])
    return out


async def consolidate(
    store: MemoryStore,
    scope: MemoryScope,
    *,
    threshold: float = 0.92,
    kinds: Sequence[MemoryKind] | None = None,
    max_records: int = 20_000,
    actor: str = "consolidate",
) -> ConsolidationResult:
    """Merge near-duplicate active records of the same kind (cosine >= threshold; L1 kinds by default).

    The most important, most confident, most recent record of a group is kept and inherits the others'
    sources; the others are superseded by it. Records with other labels (`labels.py`) are never merged, so a
    metadata filter keeps finding each. Looks at the newest `max_records` records of the scope.
    """
    kinds = list(kinds) if kinds is not None else sorted(L1_KINDS)
    records = await store.list(scope, kinds=kinds, limit=max_records)
    if len(records) < 2:
        return ConsolidationResult()
    vectors = await store.backend.embeddings(scope.user_id, [r.id for r in records])
    ranked = sorted(
        (r for r in records if r.id in vectors),
        key=lambda r: (r.importance, r.confidence, as_utc(r.updated_at)),
        reverse=True,
    )
    neighbours = await asyncio.to_thread(near_duplicates, [vectors[r.id] for r in ranked], threshold)
    assigned: set[str] = set()
    result = ConsolidationResult()
    for rank, keeper in enumerate(ranked):
        if keeper.id in assigned:
            continue
        assigned.add(keeper.id)
        group = [
            other
            for other in (ranked[j] for j in neighbours[rank])  # ascending: best-ranked first
            if other.id not in assigned and other.kind is keeper.kind and other.scope == keeper.scope
            and same_labels(other.metadata, keeper.metadata)
        ]
        if not group:
            continue
        assigned.update(o.id for o in group)
        sources = list(dict.fromkeys([*keeper.source_ids, *(s for o in group for s in o.source_ids)]))
        if sources != keeper.source_ids:
            await store.update(keeper.id, source_ids=sources, actor=actor)
        for other in group:
            await store.supersede(other.id, keeper.id, actor=actor)
        result.groups.append(MergeGroup(kept=keeper.id, superseded=[o.id for o in group]))
    return result


class ForgetPolicy(BaseModel):
    """What to forget in a scope: records past a TTL, and never-used records whose importance decayed away."""

    scope: MemoryScope
    kinds: list[MemoryKind] | None = None  # None: every kind
    ttl: timedelta | None = None  # forget records learnt longer ago than this
    decay_half_life: timedelta | None = None  # importance halves every half-life without an access
    min_retention: float = Field(default=0.1, ge=0.0, le=1.0)  # forget never-used records decayed below this
    hard: bool = False  # hard delete (purge) instead of soft delete


class ForgetResult(BaseModel):
    forgotten: list[str] = Field(default_factory=list)
    reasons: dict[str, str] = Field(default_factory=dict)


def retention(record: MemoryRecord, half_life: timedelta, now: datetime) -> float:
    """Importance decayed by the time since the record was last used (or learnt)."""
    last = as_utc(record.last_accessed_at or record.created_at)
    age = max(0.0, (now - last).total_seconds())
    return float(record.importance * 0.5 ** (age / half_life.total_seconds()))


def forget_reason(record: MemoryRecord, policy: ForgetPolicy, now: datetime) -> str | None:
    if policy.ttl is not None and now - as_utc(record.created_at) > policy.ttl:
        return f"older than ttl {policy.ttl}"
    if policy.decay_half_life is not None and record.access_count == 0:
        kept = retention(record, policy.decay_half_life, now)
        if kept < policy.min_retention:
            return f"never used, retention {kept:.3f} < {policy.min_retention}"
    return None


async def forget(store: MemoryStore, policy: ForgetPolicy, *, now: datetime | None = None, actor: str = "forget") -> ForgetResult:
    """Apply a retention policy to the scope's active records (soft delete unless `policy.hard`)."""
    now = as_utc(now) if now else datetime.now(UTC)
    result = ForgetResult()
    for record in await store.list(policy.scope, kinds=policy.kinds, limit=None):
        if record.status is not MemoryStatus.ACTIVE:
            continue
        reason = forget_reason(record, policy, now)
        if reason:
            await store.delete(record.id, hard=policy.hard, actor=actor)
            result.forgotten.append(record.id)
            result.reasons[record.id] = reason
    return result
