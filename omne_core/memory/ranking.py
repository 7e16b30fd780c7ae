"""Fusion of dense and lexical candidates into scored, explained search hits.

Each retriever's scores are min-max normalised over its own candidates and mixed with fixed weights (a
record missing from one list gets 0 there). Two small priors follow: a record whose speaker the query names,
and a record with some substance (not a bare "ok!"). Optional recency and importance boosts come last.
The weights (`MemorySettings.fusion`, `OMNE_MEMORY__FUSION__*`) were chosen on the LoCoMo dev conversations (`bench/locomo_recall.py`), where weighted
score fusion beat reciprocal-rank fusion by keeping how *much* better the best candidates are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from ..config.memory import FusionWeights, MemorySettings
from ..records import MemoryRecord
from .indexing import STOP_WORDS, content_words, words
from .results import SearchHit


def record_time(record: MemoryRecord) -> datetime:
    """When a record happened (event time), else when it was learnt."""
    return record.event_time or record.created_at


def normalize(candidates: Sequence[tuple[str, float]], keep: Mapping[str, object]) -> dict[str, float]:
    """Min-max scale the scores of the candidates in `keep` to 0..1 (all equal: 1 each)."""
    scores = {rid: score for rid, score in candidates if rid in keep}
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi <= lo:
        return dict.fromkeys(scores, 1.0)
    return {rid: (score - lo) / (hi - lo) for rid, score in scores.items()}


def speaker_named(record: MemoryRecord, query_words: set[str]) -> str | None:
    """The record's speaker if the query names them (any word of the name), else None."""
    speaker = record.metadata.get("speaker")
    if not isinstance(speaker, str):
        return None
    name = {w for w in words(speaker) if w not in STOP_WORDS}
    return speaker if name & query_words else None


def substance(record: MemoryRecord, saturation: int) -> float:
    """0..1: how much content the record's own text carries (content words, saturating)."""
    return min(1.0, len(content_words(record.text)) / saturation)


def fuse(
    dense: Sequence[tuple[str, float]],
    lexical: Sequence[tuple[str, float]],
    records: Mapping[str, MemoryRecord],
    settings: MemorySettings,
    now: datetime,
    query: str = "",
    weights: FusionWeights | None = None,
    limit: int | None = None,
) -> list[SearchHit]:
    """Rank candidate ids, best first (`weights`: `settings.fusion` unless given). `dense` is (id, cosine) best first; `lexical` is (id, bm25) best first.

    Only ids present in `records` (already filtered by scope, kind, time and status) become hits; only the
    best `limit` are returned (all when None).
    """
    weights = weights or settings.fusion
    dense_norm, lexical_norm = normalize(dense, records), normalize(lexical, records)
    dense_raw, lexical_raw = dict(dense), dict(lexical)
    dense_rank = {rid: rank for rank, (rid, _) in enumerate(dense, 1)}
    lexical_rank = {rid: rank for rank, (rid, _) in enumerate(lexical, 1)}
    query_words = set(content_words(query))

    scores: dict[str, float] = {}
    reasons: dict[str, list[str]] = {}
    for rid in dict.fromkeys([*dense_norm, *lexical_norm]):
        record = records[rid]
        score, why = 0.0, []
        if rid in lexical_norm:
            score += weights.lexical * lexical_norm[rid]
            why.append(f"lexical rank {lexical_rank[rid]} (bm25 {lexical_raw[rid]:.3f})")
        if rid in dense_norm:
            score += weights.dense * dense_norm[rid]
            why.append(f"dense rank {dense_rank[rid]} (cosine {dense_raw[rid]:.3f})")
        if weights.speaker and (speaker := speaker_named(record, query_words)):
            score += weights.speaker
            why.append(f"speaker {speaker!r} named in the query +{weights.speaker:.2f}")
        if weights.substance:
            boost = weights.substance * substance(record, weights.substance_words)
            score += boost
            why.append(f"substance +{boost:.3f}")
        if settings.recency_weight:
            age_days = max(0.0, (now - record_time(record)).total_seconds() / 86400)
            boost = settings.recency_weight * math.pow(0.5, age_days / settings.recency_half_life_days)
            score += boost
            why.append(f"recency +{boost:.4f} ({age_days:.1f} days old)")
        if settings.importance_weight:
            boost = settings.importance_weight * record.importance
            score += boost
            why.append(f"importance +{boost:.4f}")
        scores[rid], reasons[rid] = score, why

    ordered = sorted(scores, key=lambda rid: scores[rid], reverse=True)[:limit]
    return [
        SearchHit(
            record=records[rid],
            score=scores[rid],
            dense_score=dense_raw.get(rid),
            lexical_score=lexical_raw.get(rid),
            reasons=reasons[rid],
        )
        for rid in ordered
    ]
