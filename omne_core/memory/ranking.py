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
from typing import NamedTuple

from ..config.memory import FusionWeights, MemorySettings
from ..records import MemoryRecord
from . import expansion
from .diversity import diversify
from .expansion import Loader
from .filters import RecordFilter
from .indexing import content_words, is_named, name_words, speakers_of
from .results import SearchHit
from .timequery import TimeWindow, asks_when, time_word


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


def speaker_named(record: MemoryRecord, query_names: set[str]) -> str | None:
    """The record's speaker (or one of its sources' speakers) if the query names them (`indexing.is_named`)."""
    return next((speaker for speaker in speakers_of(record) if is_named(speaker, query_names)), None)


class Features(NamedTuple):
    """What the priors read of a record, computed once per search: whom the query names among its speakers, its
    content words, its time and the query's time window that holds it."""

    speaker: str | None
    content_words: int
    when: datetime
    window: TimeWindow | None
    importance: float
    time_word: str | None  # a word of the record naming a time, when the query asks when


class Candidates:
    """One search's candidates and everything about them that no weight changes: normalised retriever scores,
    ranks, each record's prior features, what the L1 candidates cite (`expansion.Citations`) and, when diversity is
    wanted, the stored embeddings of the candidates and of what they cite (`vectors`).

    Built once per search; `rank` then scores it for a set of weights (the store once, `locomo_weights.py` once
    per grid point). `where`: the searched filter; `fetched`: the one the records were loaded through.
    """

    def __init__(
        self,
        query: str,
        dense: Sequence[tuple[str, float]],
        lexical: Sequence[tuple[str, float]],
        records: Mapping[str, MemoryRecord],
        now: datetime,
        *,
        windows: Sequence[TimeWindow] = (),
        where: RecordFilter | None = None,
        fetched: RecordFilter | None = None,
        load: Loader | None = None,
        vectors: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        self.query, self.now, self.windows = query, now, windows
        self.vectors = vectors or {}  # stored embeddings of the candidates and what L1 hits carry (for diversity)
        self.asks_when = asks_when(query)
        self.query_words = set(content_words(query))
        self.query_names = name_words(query)
        self.dense_norm, self.lexical_norm = normalize(dense, records), normalize(lexical, records)
        self.ids = list(dict.fromkeys([*self.dense_norm, *self.lexical_norm]))
        self.records = {rid: records[rid] for rid in self.ids}
        self.sessions = {rid: session_of(record) for rid, record in self.records.items()}
        self.dense_raw, self.lexical_raw = dict(dense), dict(lexical)
        self.dense_rank = {rid: rank for rank, (rid, _) in enumerate(dense, 1)}
        self.lexical_rank = {rid: rank for rank, (rid, _) in enumerate(lexical, 1)}
        # without a filter (plain fusion) every candidate is a possible hit and nothing is expanded
        self.citations = (
            expansion.Citations.prepare(self.records, where, load or expansion.loader({}), fetched)
            if where is not None
            else expansion.Citations(matched=set(self.ids), keys=[])
        )
        self._features: dict[str, Features] = {}
        self._topic: dict[str, frozenset[str]] = {}

    def features(self, record: MemoryRecord) -> Features:
        found = self._features.get(record.id)
        if found is None:
            when = record_time(record)
            window = next((w for w in self.windows if w.holds(when)), None)
            found = self._features[record.id] = Features(
                speaker_named(record, self.query_names), len(content_words(record.text)), when, window,
                record.importance, time_word(record.text) if self.asks_when else None,
            )  # fmt: skip
        return found


    def topic_words(self, record_id: str) -> frozenset[str]:
        """A candidate's content words that are not the query's (what topic feedback compares)."""
        found = self._topic.get(record_id)
        if found is None:
            found = self._topic[record_id] = frozenset(content_words(self.records[record_id].text)) - self.query_words
        return found


def priors(
    features: Features, weights: FusionWeights, settings: MemorySettings, now: datetime, why: list[str] | None = None
) -> float:
    """The score a record gets for itself, whatever found it: its speaker named in the query, its substance, a
    time the query names, and the optional recency and importance boosts; each with its reason into `why`."""
    score = 0.0
    if weights.speaker and features.speaker:
        score += weights.speaker
        if why is not None:
            why.append(f"speaker {features.speaker!r} named in the query +{weights.speaker:.2f}")
    if weights.substance:
        boost = weights.substance * min(1.0, features.content_words / weights.substance_words)
        score += boost
        if why is not None:
            why.append(f"substance +{boost:.3f}")
    if settings.time_weight and features.window is not None:
        score += settings.time_weight
        if why is not None:
            why.append(f"time {features.when:%Y-%m-%d} in the query's {features.window.describe()} "
                       f"+{settings.time_weight:.2f}")  # fmt: skip
    if settings.when_weight and features.time_word:
        score += settings.when_weight
        if why is not None:
            why.append(f"names a time ({features.time_word!r}) and the query asks when +{settings.when_weight:.2f}")
    if settings.recency_weight:
        age_days = max(0.0, (now - features.when).total_seconds() / 86400)
        boost = settings.recency_weight * math.pow(0.5, age_days / settings.recency_half_life_days)
        score += boost
        if why is not None:
            why.append(f"recency +{boost:.4f} ({age_days:.1f} days old)")
    if settings.importance_weight:
        boost = settings.importance_weight * features.importance
        score += boost
        if why is not None:
            why.append(f"importance +{boost:.4f}")
    return score


def session_of(record: MemoryRecord) -> tuple[str, str] | None:
    """The conversation a record belongs to (user, session), if any."""
    scope = record.scope
    return None if scope.session_id is None else (scope.user_id, scope.session_id)


def session_context(
    relevance: Mapping[str, float], sessions: Mapping[str, tuple[str, str] | None], weight: float
) -> dict[str, float]:
    """`weight` x the relevance of the best *other* candidate of the same session, per candidate in a session
    (`sessions`: id -> its session, from `session_of`): a turn of a conversation where other turns match the
    query too is more likely part of the answer."""
    if not weight:
        return {}
    best: dict[tuple[str, str], tuple[float, str, float]] = {}  # session -> (best, its id, second best)
    for rid, score in relevance.items():
        if (session := sessions[rid]) is not None:
            top = best.get(session)
            if top is None:
                best[session] = (score, rid, 0.0)
            elif score > top[0]:
                best[session] = (score, rid, top[0])
            elif score > top[2]:
                best[session] = (top[0], top[1], score)
    out = {}
    for rid in relevance:
        if (session := sessions[rid]) is not None:
            first, first_id, second = best[session]
            other = second if first_id == rid else first
            if other > 0:
                out[rid] = weight * other
    return out


def rank(
    candidates: Candidates,
    settings: MemorySettings,
    *,
    weights: FusionWeights | None = None,
    limit: int | None = None,
    add_cited: bool = True,
    explain: bool = True,
) -> list[SearchHit]:
    """A search's hits, best first: fusion of the retrievers' normalised scores, session context, the priors,
    then the L1 expansion (`expansion.feedback`: the best conclusion raises candidates on its topic;
    `expansion.lift`: conclusions lift what they cite; `expansion.fold`: an L1 hit
    carries its sources in one slot), and last, when `diversity_weight` is set and the candidates carry vectors,
    `diversity.diversify` (a near-duplicate of a higher slot gives way). `weights`: `settings.fusion` unless given.
    `add_cited=False`: conclusions lift only records already among the candidates. `explain=False` leaves the reasons out (a grid search)."""
    c, weights = candidates, weights or settings.fusion
    records, citations, now = c.records, c.citations, c.now
    base = {
        rid: weights.lexical * c.lexical_norm.get(rid, 0.0) + weights.dense * c.dense_norm.get(rid, 0.0) for rid in c.ids
    }
    context = session_context(base, c.sessions, settings.session_weight)
    for rid, boost in context.items():
        base[rid] += boost
    scores = {rid: base[rid] + priors(c.features(records[rid]), weights, settings, now) for rid in c.ids}
    added: dict[str, MemoryRecord] = {}

    def prior(record: MemoryRecord) -> float:
        added[record.id] = record
        return priors(c.features(record), weights, settings, now)

    raised = expansion.feedback(scores, base, records, citations, settings.l1_feedback_weight, c.topic_words)
    lifted = expansion.lift(scores, base, records, citations, settings.l1_key_weight, prior, add_cited)
    hits = [rid for rid in scores if rid in citations.matched or rid in added]
    hits.sort(key=scores.__getitem__, reverse=True)
    diverse = bool(settings.diversity_weight and c.vectors)
    units = expansion.fold(hits, scores, citations, settings.l1_sources_per_hit, None if diverse else limit)
    picked = diversify(units, c.vectors, settings.diversity_weight if diverse else 0.0, settings.diversity_threshold,
                       limit)  # fmt: skip
    out = []
    for unit, resembles in picked:
        rid = unit.record_id
        record = records.get(rid) or added[rid]
        why: list[str] = []
        if explain:
            if rid in c.lexical_norm:
                why.append(f"lexical rank {c.lexical_rank[rid]} (bm25 {c.lexical_raw[rid]:.3f})")
            if rid in c.dense_norm:
                why.append(f"dense rank {c.dense_rank[rid]} (cosine {c.dense_raw[rid]:.3f})")
            if rid in context:
                why.append(f"its session's best other match +{context[rid]:.3f}")
            priors(c.features(record), weights, settings, now, why)
            if (fed := raised.get(rid)) is not None:
                why.append(f"shares {', '.join(map(repr, fed.shared[:4]))} with {fed.key.kind.value} {fed.key.id[:8]} "
                           f"{expansion.quote(fed.key)} (topic feedback) +{fed.lent:.3f}")  # fmt: skip
            if (lift := lifted.get(rid)) is not None:
                key = lift.key
                why.append(f"found through {key.kind.value} {key.id[:8]} {expansion.quote(key)} +{lift.lent:.3f}")
            if unit.ranked_with is not None:
                why.append(f"ranked with its source {unit.ranked_with[0][:8]} ({unit.ranked_with[1]:.3f})")
            why += [f"carries its source {sid[:8]} ({score:.3f} on its own)" for sid, score in unit.carried]
            for sid, score in unit.restating:
                same = records.get(sid) or added[sid]
                why.append(f"already shows what {same.kind.value} {sid[:8]} {expansion.quote(same)} cites "
                           f"({score:.3f} on its own, no slot of its own)")  # fmt: skip
            if resembles is not None:
                like = records.get(resembles.like) or added[resembles.like]
                why.append(f"much like {like.kind.value} {like.id[:8]} {expansion.quote(like)} above (cosine "
                           f"{resembles.cosine:.2f}): -{resembles.penalty:.3f} for diversity")  # fmt: skip
        out.append(SearchHit(record=record, score=unit.score, dense_score=c.dense_raw.get(rid),
                             lexical_score=c.lexical_raw.get(rid), reasons=why, sources=unit.sources))
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
) -> list[SearchHit]:
    """Plain fusion and priors, no L1 expansion: `rank` over candidates that all are possible hits. `dense` is
    (id, cosine) best first, `lexical` (id, bm25) best first; only ids in `records` become hits."""
    candidates = Candidates(query, dense, lexical, records, now)
    return rank(candidates, settings.model_copy(update={"l1_sources_per_hit": 0}), weights=weights, limit=limit)
