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
from . import expansion
from .expansion import Loader
from .filters import RecordFilter
from .indexing import STOP_WORDS, content_words, words
from .results import SearchHit
from .timequery import TimeWindow


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


def speakers_of(record: MemoryRecord) -> list[str]:
    """Who said the record (`speaker`), or, for a conclusion, who said what it was derived from (`speakers`)."""
    speaker, speakers = record.metadata.get("speaker"), record.metadata.get("speakers")
    named = [speaker] if isinstance(speaker, str) else []
    if isinstance(speakers, list):
        named += [s for s in speakers if isinstance(s, str)]
    return named


def speaker_named(record: MemoryRecord, query_words: set[str]) -> str | None:
    """The record's speaker (or one of its sources' speakers) if the query names them (any word of the name)."""
    for speaker in speakers_of(record):
        if {w for w in words(speaker) if w not in STOP_WORDS} & query_words:
            return speaker
    return None


def substance(record: MemoryRecord, saturation: int) -> float:
    """0..1: how much content the record's own text carries (content words, saturating)."""
    return min(1.0, len(content_words(record.text)) / saturation)


class Priors:
    """The score a record gets for itself, whatever found it: its speaker named in the query, its substance, and
    the optional recency and importance boosts. Each comes with its reason."""

    def __init__(
        self,
        query: str,
        settings: MemorySettings,
        now: datetime,
        weights: FusionWeights | None = None,
        windows: Sequence[TimeWindow] = (),
    ) -> None:
        self.query_words = set(content_words(query))
        self.settings, self.now, self.windows = settings, now, windows
        self.weights = weights or settings.fusion

    def __call__(self, record: MemoryRecord) -> tuple[float, list[str]]:
        weights, settings = self.weights, self.settings
        score, why = 0.0, []
        if weights.speaker and (speaker := speaker_named(record, self.query_words)):
            score += weights.speaker
            why.append(f"speaker {speaker!r} named in the query +{weights.speaker:.2f}")
        if weights.substance:
            boost = weights.substance * substance(record, weights.substance_words)
            score += boost
            why.append(f"substance +{boost:.3f}")
        if settings.time_weight and self.windows:
            when = record_time(record)
            for window in self.windows:
                if window.holds(when):
                    score += settings.time_weight
                    why.append(f"time {when:%Y-%m-%d} in the query's {window.describe()} +{settings.time_weight:.2f}")
                    break
        if settings.recency_weight:
            age_days = max(0.0, (self.now - record_time(record)).total_seconds() / 86400)
            boost = settings.recency_weight * math.pow(0.5, age_days / settings.recency_half_life_days)
            score += boost
            why.append(f"recency +{boost:.4f} ({age_days:.1f} days old)")
        if settings.importance_weight:
            boost = settings.importance_weight * record.importance
            score += boost
            why.append(f"importance +{boost:.4f}")
        return score, why


def session_context(
    relevance: Mapping[str, float], records: Mapping[str, MemoryRecord], weight: float
) -> dict[str, float]:
    """`weight` x the relevance of the best *other* candidate of the same session, per candidate in a session:
    a turn of a conversation where other turns match the query too is more likely part of the answer."""
    if not weight:
        return {}
    best: dict[tuple[str, str], list[tuple[float, str]]] = {}  # session -> its two best (relevance, id)
    for rid, score in relevance.items():
        scope = records[rid].scope
        if scope.session_id is not None:
            top = best.setdefault((scope.user_id, scope.session_id), [])
            top.append((score, rid))
            top.sort(reverse=True)
            del top[2:]
    out = {}
    for rid in relevance:
        scope = records[rid].scope
        others = [score for score, other in best.get((scope.user_id, scope.session_id or ""), []) if other != rid]
        if scope.session_id is not None and others and others[0] > 0:
            out[rid] = weight * others[0]
    return out


def fuse(
    dense: Sequence[tuple[str, float]],
    lexical: Sequence[tuple[str, float]],
    records: Mapping[str, MemoryRecord],
    settings: MemorySettings,
    now: datetime,
    query: str = "",
    weights: FusionWeights | None = None,
    limit: int | None = None,
    priors: Priors | None = None,
) -> list[SearchHit]:
    """Rank candidate ids, best first (`weights`: `settings.fusion` unless given). `dense` is (id, cosine) best first; `lexical` is (id, bm25) best first.

    Only ids present in `records` (already filtered by scope, kind, time and status) become hits; only the
    best `limit` are returned (all when None). `priors` (default: from query, settings, now and weights) adds
    each record's own score.
    """
    weights = weights or settings.fusion
    dense_norm, lexical_norm = normalize(dense, records), normalize(lexical, records)
    dense_raw, lexical_raw = dict(dense), dict(lexical)
    dense_rank = {rid: rank for rank, (rid, _) in enumerate(dense, 1)}
    lexical_rank = {rid: rank for rank, (rid, _) in enumerate(lexical, 1)}
    priors = priors or Priors(query, settings, now, weights)

    relevance: dict[str, float] = {}
    reasons: dict[str, list[str]] = {}
    for rid in dict.fromkeys([*dense_norm, *lexical_norm]):
        score, why = 0.0, []
        if rid in lexical_norm:
            score += weights.lexical * lexical_norm[rid]
            why.append(f"lexical rank {lexical_rank[rid]} (bm25 {lexical_raw[rid]:.3f})")
        if rid in dense_norm:
            score += weights.dense * dense_norm[rid]
            why.append(f"dense rank {dense_rank[rid]} (cosine {dense_raw[rid]:.3f})")
        relevance[rid], reasons[rid] = score, why
    context = session_context(relevance, records, settings.session_weight)
    scores: dict[str, float] = {}
    for rid, score in relevance.items():
        if rid in context:
            reasons[rid].append(f"its session's best other match +{context[rid]:.3f}")
        boost, because = priors(records[rid])
        scores[rid] = score + context.get(rid, 0.0) + boost
        reasons[rid] += because

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


def rank(
    query: str,
    dense: Sequence[tuple[str, float]],
    lexical: Sequence[tuple[str, float]],
    records: Mapping[str, MemoryRecord],
    where: RecordFilter,
    load: Loader,
    settings: MemorySettings,
    now: datetime,
    *,
    windows: Sequence[TimeWindow] = (),
    weights: FusionWeights | None = None,
    limit: int | None = None,
    add_cited: bool = True,
) -> list[SearchHit]:
    """A search's final hits from its candidates: fusion with the priors (and the query's time windows), then
    the L1 expansion (`expansion.py`). `records` may hold L1 candidates `where` excludes (keys only);
    `add_cited=False`: conclusions lift only records already among the candidates."""
    priors = Priors(query, settings, now, weights, windows)
    fused = fuse(dense, lexical, records, settings, now, query, weights, priors=priors)
    return expansion.expand(fused, where, load, settings, priors, limit, add_cited)
