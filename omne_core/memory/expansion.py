"""Derived memory (L1) at query time: conclusions as extra keys for the records they cite, and their provenance.

- **Key expansion.** An active L1 candidate (a fact, summary, ... the search found by its own words and meaning)
  adds a share (`MemorySettings.l1_key_weight`) of its relevance to that of each record it cites, so a raw
  record is also found through the conclusions drawn from it. Nothing is written to any index: a conclusion
  that is added, superseded or deleted changes the next search at once.
- **Provenance.** An L1 hit carries up to `l1_sources_per_hit` of the records it cites, best ranked first,
  and ranks with the best of them: the conclusion and its sources take one slot (their own hits are folded
  into it), and `build_context` shows the sources under the conclusion, within its token budget.

Everything here works on the candidates a search already fetched and on the records the L1 candidates cite,
which the store loads once by id (`get_many`) *through the searched scope*: a conclusion never brings in a
record outside the scope searched (whatever it cites), and a conclusion outside it is never a candidate. One
level only: a cited record that is itself a conclusion lifts nothing further.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from ..config.memory import MemorySettings
from ..records import L1_KINDS, MemoryLevel, MemoryRecord, MemoryStatus
from .filters import RecordFilter
from .results import SearchHit

# Records by id among those a filter matches (the storage seam's `get_many`).
Loader = Callable[[Sequence[str], RecordFilter], Mapping[str, MemoryRecord]]
# A record's own priors: (score, reasons) whatever found it (`ranking.Priors`).
Prior = Callable[[MemoryRecord], tuple[float, list[str]]]

_QUOTE_CHARS = 60  # how much of a conclusion a reason quotes


def candidate_filter(where: RecordFilter, settings: MemorySettings) -> RecordFilter:
    """The filter the candidate lists are fetched with: `where`, plus the L1 kinds when key expansion is on and
    `where` names raw kinds only (`kinds=[message]`); those L1 candidates serve as keys only, never as hits. A
    search that names some L1 kind is left as it is: widening it would crowd out the kinds it asked for."""
    if not settings.l1_key_weight or where.kinds is None or set(where.kinds) & set(L1_KINDS):
        return where
    return replace(where, kinds=(*where.kinds, *sorted(L1_KINDS)))


def cited_ids(records: Iterable[MemoryRecord]) -> list[str]:
    """The ids the L1 records among `records` cite: all that key expansion and provenance may need."""
    return list(dict.fromkeys(sid for r in records if r.level is MemoryLevel.L1 for sid in r.source_ids))


def loader(loaded: Mapping[str, MemoryRecord]) -> Loader:
    """A `Loader` over records fetched beforehand (through a filter at least as wide as any it is asked with)."""
    return lambda ids, where: {i: r for i in ids if (r := loaded.get(i)) is not None and where.matches(r)}


def provenance_filter(where: RecordFilter) -> RecordFilter:
    """Which cited records an L1 hit may carry: those in the searched scopes and status, of any kind or time."""
    return replace(where, kinds=None, since=None, until=None)


def quote(record: MemoryRecord) -> str:
    """A short, single-line quote of a record for a reason."""
    text = " ".join(record.text.split())
    return repr(text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 1] + "…")


def is_key(hit: SearchHit) -> bool:
    """An active conclusion that cites something: its words and meaning can find what it cites."""
    record = hit.record
    return record.level is MemoryLevel.L1 and record.status is MemoryStatus.ACTIVE and bool(record.source_ids)


def expand_keys(
    hits: Sequence[SearchHit], where: RecordFilter, load: Loader, weight: float, priors: Prior, add_cited: bool = True
) -> dict[str, SearchHit]:
    """The hits `where` matches, by id, with the records that active L1 candidates cite added or lifted.

    A hit's score is its relevance (what the retrievers found) plus its own priors (`ranking.Priors`). A cited
    record's relevance gains `weight` x the relevance of the best conclusion citing it (a record nothing else
    found starts at 0); its priors stay its own. Each record lifted says which conclusion found it."""
    matched = {h.record.id: h for h in hits if where.matches(h.record)}
    keys = [h for h in hits if is_key(h)] if weight else []
    cited = dict.fromkeys(sid for key in keys for sid in key.record.source_ids if sid not in matched)
    loaded = load(list(cited), where) if cited and add_cited else {}
    lifted: set[str] = set()
    for key in sorted(keys, key=lambda h: h.score, reverse=True):  # the best conclusion citing a record wins
        lent = weight * max(0.0, key.score - priors(key.record)[0])
        for sid in dict.fromkeys(key.record.source_ids):
            hit = matched.get(sid)
            if hit is None and sid in loaded:
                boost, because = priors(loaded[sid])
                hit = matched[sid] = SearchHit(record=loaded[sid], score=boost, reasons=because)
            if hit is None or sid == key.record.id or sid in lifted or lent <= 0:
                continue
            lifted.add(sid)
            hit.score += lent
            hit.reasons.append(f"found through {key.record.kind.value} {key.record.id[:8]} {quote(key.record)} +{lent:.3f}")
    return matched


def attach_sources(
    ordered: Sequence[SearchHit], where: RecordFilter, load: Loader, per_hit: int, limit: int | None
) -> list[SearchHit]:
    """The best `limit` hits, each L1 hit carrying up to `per_hit` of its in-scope sources (ranked ones first).

    An L1 hit and the ranked sources it carries are one unit, ranked by its best member: the conclusion comes
    first, its sources under it, and their own hits are folded into it (no slot repeats a record)."""
    if not per_hit:
        return list(ordered[:limit])
    rank = {h.record.id: i for i, h in enumerate(ordered)}
    hit_of = {h.record.id: h for h in ordered}
    near = ordered[: 2 * limit] if limit else ordered  # the L1 hits that may make the cut: one load for all
    carriers = [h for h in near if h.record.level is MemoryLevel.L1 and h.record.source_ids]
    cited = list(dict.fromkeys(sid for h in carriers for sid in h.record.source_ids))
    found = load(cited, provenance_filter(where)) if cited else {}
    for hit in carriers:
        sources = [found[sid] for sid in dict.fromkeys(hit.record.source_ids) if sid in found and sid != hit.record.id]
        hit.sources = sorted(sources, key=lambda r: rank.get(r.id, len(ordered)))[:per_hit]
        best = max((hit_of[r.id] for r in hit.sources if r.id in hit_of), key=lambda h: h.score, default=None)
        if best is not None and best.score > hit.score:
            hit.reasons.append(f"ranked with its source {best.record.id[:8]} ({best.score:.3f})")
            hit.score = best.score
    units = sorted(ordered, key=lambda h: (h.score, h.record.level is MemoryLevel.L1), reverse=True)
    shown: dict[str, SearchHit] = {}  # record id -> the hit that shows it (itself, or as a source)
    out: list[SearchHit] = []
    for hit in units:
        if limit is not None and len(out) >= limit:
            break
        carrier = shown.get(hit.record.id)
        if carrier is not None:
            carrier.reasons.append(f"carries its source {hit.record.id[:8]} ({hit.score:.3f} on its own)")
            continue
        shown[hit.record.id] = hit
        for source in hit.sources:
            shown.setdefault(source.id, hit)
        out.append(hit)
    return out


def expand(
    hits: Sequence[SearchHit],
    where: RecordFilter,
    load: Loader,
    settings: MemorySettings,
    priors: Prior,
    limit: int | None = None,
    add_cited: bool = True,
) -> list[SearchHit]:
    """Fused candidates (best first, possibly with key-only L1 records) -> the final hits: key expansion, then
    the ranking, then provenance and folding, then the best `limit`."""
    matched = expand_keys(hits, where, load, settings.l1_key_weight, priors, add_cited)
    ordered = sorted(matched.values(), key=lambda h: h.score, reverse=True)
    return attach_sources(ordered, where, load, settings.l1_sources_per_hit, limit)


__all__ = [
    "Loader", "Prior", "attach_sources", "candidate_filter", "cited_ids", "expand", "expand_keys", "loader",
    "provenance_filter",
]
