"""Candidate retrieval for one search: the dense and the BM25 candidate lists, each limited to a filter.

Both lists take the cheap path first: the index is asked for more candidates than needed without a filter
(HNSW on the user's own collection; FTS5 without a join per match) and SQLite keeps those the filter matches
on its indexed columns. Only when too few are kept does the filtered query run: for vectors, among the ids
SQLite lists for the filter; for BM25, joined with the filter in SQL. BM25's cost grows
with the rows its terms match, so a work budget leaves the most common terms out on big stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ....config import MemorySettings
from ... import indexing
from ...filters import RecordFilter
from .chroma import ChromaIndex
from .database import Database

_OWNER_PREFILTER_SHARE = 0.5  # below this share of the records, BM25 runs on the searched users' rows only

Candidates = list[tuple[str, float]]  # (record id, score), best first


def enough_kept(found: Sequence[tuple[Any, float]], keep: dict[Any, str], n: int, fetch: int) -> Candidates | None:
    """The best `n` (id, score) of an unfiltered, over-fetched candidate list that the filter kept (`keep`: key ->
    record id); None when too few were kept while more candidates exist (the caller then queries with the filter)."""
    if len(keep) < n and len(found) >= fetch:
        return None
    return [(keep[key], score) for key, score in found if key in keep][:n]


class CandidateRetriever:
    """Dense and lexical candidates among the records a `RecordFilter` matches; keeps the counts its plan needs."""

    def __init__(self, db: Database, vectors: ChromaIndex, settings: MemorySettings) -> None:
        self.db, self.vectors, self.settings = db, vectors, settings
        self._user_counts: dict[str, int] | None = None  # records per user: picks the lexical search plan
        self._term_counts: dict[str, int] = {}  # rows per FTS term, for the BM25 work budget
        self._counted_at = 0  # the store's size when _term_counts was started

    # -- counts the plan uses ------------------------------------------------------------------
    def records_added(self, user_ids: Sequence[str]) -> None:
        """Keep the per-user counts current after an add (one entry per new record)."""
        if self._user_counts is not None:
            for user_id in user_ids:
                self._user_counts[user_id] = self._user_counts.get(user_id, 0) + 1

    def records_removed(self) -> None:
        """Records were purged: recount on the next search."""
        self._user_counts = None

    def share_of_records(self, users: Sequence[str]) -> float:
        """The fraction of all stored records that belong to these users (1.0 for an empty store)."""
        counts = self._user_counts
        if counts is None:
            counts = self._user_counts = self.db.user_counts()
        total = sum(counts.values())
        return sum(counts.get(u, 0) for u in users) / total if total else 1.0

    def _document_counts(self, terms: Sequence[str]) -> dict[str, int]:
        """Rows per term, cached until the store has grown or shrunk by a tenth since they were counted."""
        total = sum(self._user_counts.values()) if self._user_counts is not None else self.db.count()
        if abs(total - self._counted_at) > self._counted_at / 10:
            self._term_counts.clear()
            self._counted_at = total
        counts = {}
        for term in terms:
            count = self._term_counts.get(term)
            if count is None:
                count = self._term_counts[term] = self.db.term_document_count(term)
            counts[term] = count
        return counts

    # -- dense ---------------------------------------------------------------------------------
    def dense(self, embedding: Sequence[float], where: RecordFilter, n: int) -> Candidates:
        """The best `n` (id, cosine similarity) among the records `where` matches, one user partition at a time."""
        found: Candidates = []
        for user_id in where.users():
            found.extend(self._dense_in_user(user_id, where.for_user(user_id), embedding, n))
        found.sort(key=lambda hit: hit[1], reverse=True)
        return found[:n]

    def _dense_in_user(self, user_id: str, where: RecordFilter, embedding: Sequence[float], n: int) -> Candidates:
        # Fast path: an unfiltered HNSW query over the user's collection, over-fetched, checked against SQLite.
        fetch = n * self.settings.candidate_overfetch
        found = self.vectors.query(user_id, embedding, fetch)
        kept = enough_kept(found, self.db.matching("id", [rid for rid, _ in found], where), n, fetch)
        if kept is not None:
            return kept
        # A selective filter (session, kind, time, inactive records): SQLite lists the ids it allows, and the
        # vectors are searched among those only (a few are scored exactly; more by chroma's HNSW on the list).
        allowed = self.db.indexed_ids_matching(where)
        if len(allowed) <= self.settings.dense_exact_max:
            return self.vectors.nearest_exact(user_id, embedding, allowed, n)
        return self.vectors.query(user_id, embedding, n, among=allowed)

    # -- lexical -------------------------------------------------------------------------------
    def lexical(self, terms: Sequence[str], where: RecordFilter, n: int) -> Candidates:
        """The best `n` (id, BM25) among the records `where` matches; `terms` from `indexing.query_terms`."""
        # When the users searched hold a small share of the store, the FTS query itself is restricted to their
        # rows (their owner token). Otherwise BM25's cost grows with the rows the terms match: past the budget,
        # only the rarer terms are scored (the common ones carry the least weight; dense retrieval still sees them).
        share = self.share_of_records(where.users())
        owners = where.users() if share < _OWNER_PREFILTER_SHARE else None
        budget = self.settings.lexical_max_matches
        if budget is not None and len(terms) > 1:
            scale = share if owners is not None else 1.0  # the owners' rows: estimated as their share of each term
            counts = {term: round(count * scale) for term, count in self._document_counts(terms).items()}
            terms = indexing.rarest_terms(terms, counts, budget)
        match = indexing.any_of(terms)
        if match is None:
            return []
        # Fast path: BM25 without a join per match, over-fetched, then filtered.
        fetch = n * self.settings.candidate_overfetch
        found = self.db.lexical_top(match, fetch, owners)
        kept = enough_kept(found, self.db.matching("seq", [seq for seq, _ in found], where), n, fetch)
        if kept is not None:
            return kept
        return self.db.lexical_search(match, where, n)  # a selective filter: SQLite joins and filters every match
