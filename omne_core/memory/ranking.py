"""Fusion of dense and lexical candidates into scored, explained search hits.

Reciprocal-rank fusion (score = sum 1/(k + rank)), plus optional recency and importance boosts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from ..config.memory import MemorySettings
from .record import MemoryRecord
from .results import SearchHit


def record_time(record: MemoryRecord) -> datetime:
    """When a record happened (event time), else when it was learnt."""
    return record.event_time or record.created_at


def fuse(
    dense: Sequence[tuple[str, float]],
    lexical: Sequence[tuple[str, float]],
    records: Mapping[str, MemoryRecord],
    settings: MemorySettings,
    now: datetime,
    query: str = "",
) -> list[SearchHit]:
    """Rank candidate ids by RRF. `dense` is (id, cosine) best first; `lexical` is (id, bm25) best first.

    Only ids present in `records` (already filtered by scope, kind, time and status) become hits.
    """
    k = settings.rrf_k
    scores: dict[str, float] = {}
    dense_scores: dict[str, float] = {}
    lexical_scores: dict[str, float] = {}
    reasons: dict[str, list[str]] = {}
    for rank, (rid, sim) in enumerate(dense, 1):
        if rid not in records:
            continue
        scores[rid] = scores.get(rid, 0.0) + 1.0 / (k + rank)
        dense_scores[rid] = sim
        reasons.setdefault(rid, []).append(f"dense rank {rank} (cosine {sim:.3f})")
    for rank, (rid, bm25) in enumerate(lexical, 1):
        if rid not in records:
            continue
        scores[rid] = scores.get(rid, 0.0) + 1.0 / (k + rank)
        lexical_scores[rid] = bm25
        reasons.setdefault(rid, []).append(f"lexical rank {rank} (bm25 {bm25:.3f})")

    for rid in scores:
        record = records[rid]
        if settings.recency_weight:
            age_days = max(0.0, (now - record_time(record)).total_seconds() / 86400)
            boost = settings.recency_weight * math.pow(0.5, age_days / settings.recency_half_life_days)
            scores[rid] += boost
            reasons[rid].append(f"recency +{boost:.4f} ({age_days:.1f} days old)")
        if settings.importance_weight:
            boost = settings.importance_weight * record.importance
            scores[rid] += boost
            reasons[rid].append(f"importance +{boost:.4f}")

    ordered = sorted(scores, key=lambda rid: scores[rid], reverse=True)
    return [
        SearchHit(
            record=records[rid],
            score=scores[rid],
            dense_score=dense_scores.get(rid),
            lexical_score=lexical_scores.get(rid),
            reasons=reasons[rid],
        )
        for rid in ordered
    ]
