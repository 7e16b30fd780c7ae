"""Derived memory (L1) at query time: conclusions as extra keys for the records they cite, and their provenance.

- **Key expansion.** An active L1 candidate (a fact, summary, ... the search found by its own words and meaning)
  adds a share (`MemorySettings.l1_key_weight`) of its relevance to that of each record it cites, so a raw
  record is also found through the conclusions drawn from it. Nothing is written to any index: a conclusion
  that is added, superseded or deleted changes the next search at once.
- **Topic feedback.** The best active L1 candidate lends a share (`l1_feedback_weight`) of its relevance to the
  candidates sharing two or more of its words beyond the query's: the turns about what it is about, in any session.
- **Provenance.** An L1 hit carries up to `l1_sources_per_hit` of the records it cites, best ranked first,
  and ranks with the best of them: the conclusion and its sources take one slot (their own hits are folded
  into it), and `build_context` shows the sources under the conclusion, within its token budget. An L1 hit
  whose sources a higher slot shows already restates evidence on display: it takes no slot.

Everything here works on the candidates a search already fetched and on the records the L1 candidates cite,
which the store loads once by id (`get_many`) *through the searched scope*: a conclusion never brings in a
record outside the scope searched (whatever it cites), and a conclusion outside it is never a candidate. One
level only: a cited record that is itself a conclusion lifts nothing further.

What no weight changes (which candidates the filter matches, which are keys, what they cite) is `Citations`,
prepared once per search; `lift` and `fold` then work on plain scores, so a ranking can be re-run cheaply for
other weights (`bench/locomo_weights.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..config.memory import MemorySettings
from ..records import L1_KINDS, MemoryLevel, MemoryRecord, MemoryStatus
from .filters import RecordFilter

# Records by id among those a filter matches (the storage seam's `get_many`).
Loader = Callable[[Sequence[str], RecordFilter], Mapping[str, MemoryRecord]]

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
    """Which cited records an L1 hit may carry: those in the searched scopes and status, of any kind, time or
    metadata."""
    return replace(where, kinds=None, since=None, until=None, metadata=None)


def quote(record: MemoryRecord) -> str:
    """A short, single-line quote of a record for a reason."""
    text = " ".join(record.text.split())
    return repr(text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 1] + "…")


def is_key(record: MemoryRecord) -> bool:
    """An active conclusion that cites something: its words and meaning can find what it cites."""
    return record.level is MemoryLevel.L1 and record.status is MemoryStatus.ACTIVE and bool(record.source_ids)


@dataclass
class Citations:
    """What a search's candidates cite, prepared once per search (no weight changes it).

    `matched`: the candidates the searched filter matches (the possible hits; the others are keys only).
    `keys`: active L1 candidates citing something. `citable`: records the keys cite that the filter matches but
    no retriever found (they can be lifted into the hits). `sources`: per possible L1 hit, the records it cites
    in the searched scope and status, of any kind or time (what it may carry).
    """

    matched: set[str]
    keys: list[str]
    citable: dict[str, MemoryRecord] = field(default_factory=dict)
    sources: dict[str, list[MemoryRecord]] = field(default_factory=dict)

    @classmethod
    def prepare(
        cls, records: Mapping[str, MemoryRecord], where: RecordFilter, load: Loader, fetched: RecordFilter | None = None
    ) -> Citations:
        """`records`: the candidates, loaded through `fetched` (when that is `where`, all match it unchecked)."""
        matched = set(records) if fetched == where else {rid for rid, r in records.items() if where.matches(r)}
        keys = [rid for rid, r in records.items() if is_key(r)]
        cited = list(dict.fromkeys(s for k in keys for s in records[k].source_ids if s not in records))
        citable = dict(load(cited, where)) if cited else {}
        carriers = [r for r in (*(records[rid] for rid in records if rid in matched), *citable.values())
                    if r.level is MemoryLevel.L1 and r.source_ids]  # fmt: skip
        wanted = list(dict.fromkeys(s for r in carriers for s in r.source_ids))
        found = load(wanted, provenance_filter(where)) if wanted else {}
        sources = {
            r.id: [found[s] for s in dict.fromkeys(r.source_ids) if s in found and s != r.id] for r in carriers
        }
        return cls(matched, keys, citable, {rid: s for rid, s in sources.items() if s})


@dataclass
class Lift:
    """A record lifted through a conclusion: which one, and by how much."""

    key: MemoryRecord
    lent: float


def lift(
    scores: dict[str, float],
    base: Mapping[str, float],
    records: Mapping[str, MemoryRecord],
    citations: Citations,
    weight: float,
    prior: Callable[[MemoryRecord], float],
    add_cited: bool = True,
) -> dict[str, Lift]:
    """Key expansion, in place on `scores` (candidate id -> score, every candidate): each record an active L1
    candidate cites gains `weight` x that conclusion's relevance (`base`: its score without its priors), from
    the best conclusion citing it only. A cited record no retriever found joins `scores` at its own priors plus
    what it gains (unless `add_cited` is False). Returns what lifted each record the filter matches."""
    lifted: dict[str, Lift] = {}
    if not weight or not citations.keys:
        return lifted
    for key_id in sorted(citations.keys, key=scores.__getitem__, reverse=True):  # the best conclusion wins
        key, lent = records[key_id], weight * base.get(key_id, 0.0)
        if lent <= 0:
            continue
        for sid in key.source_ids:
            if sid == key_id or sid in lifted:
                continue
            if sid not in citations.matched:
                cited = citations.citable.get(sid) if add_cited else None
                if cited is None:
                    continue
                scores.setdefault(sid, prior(cited))
            scores[sid] += lent
            lifted[sid] = Lift(key, lent)
    return lifted


FEEDBACK_SHARED_WORDS = 2  # content words (beyond the query's) a candidate shares with the conclusion lending to it


@dataclass
class Feedback(Lift):
    """A candidate raised by topic feedback: the conclusion it shares words with, by how much, and which words."""

    shared: list[str] = field(default_factory=list)


def feedback(
    scores: dict[str, float],
    base: Mapping[str, float],
    records: Mapping[str, MemoryRecord],
    citations: Citations,
    weight: float,
    topic_words: Callable[[str], frozenset[str]],
) -> dict[str, Feedback]:
    """Topic feedback, in place on `scores` (every candidate): the best active L1 candidate lends `weight` x its
    relevance (`base`) to every other candidate sharing at least `FEEDBACK_SHARED_WORDS` of its topic words
    (`topic_words(id)`: content words not in the query). A conclusion states one topic cleanly, so the turns
    about the same thing, in any session, rise with it (list questions: "what activities does Melanie do?").
    Returns what raised each candidate."""
    raised: dict[str, Feedback] = {}
    if not weight or not citations.keys:
        return raised
    key_id = max(citations.keys, key=scores.__getitem__)
    key, lent = records[key_id], weight * base.get(key_id, 0.0)
    topic = topic_words(key_id)
    if lent <= 0 or len(topic) < FEEDBACK_SHARED_WORDS:
        return raised
    for rid in scores:
        if rid != key_id and len(shared := topic & topic_words(rid)) >= FEEDBACK_SHARED_WORDS:
            scores[rid] += lent
            raised[rid] = Feedback(key, lent, sorted(shared))
    return raised


@dataclass
class Unit:
    """One result slot: a hit and the sources it carries (for an L1 hit), with what was folded into it."""

    record_id: str
    score: float
    sources: list[MemoryRecord] = field(default_factory=list)
    ranked_with: tuple[str, float] | None = None  # the source whose score the conclusion took
    carried: list[tuple[str, float]] = field(default_factory=list)  # hits folded into it, with their own scores
    # lower L1 hits whose in-scope sources this slot (or higher ones) already shows, with their own scores
    restating: list[tuple[str, float]] = field(default_factory=list)


def fold(
    ordered: Sequence[str], scores: Mapping[str, float], citations: Citations, per_hit: int, limit: int | None
) -> list[Unit]:
    """The best `limit` slots from hit ids (best first), each L1 hit carrying up to `per_hit` of its in-scope
    sources (ranked ones first).

    An L1 hit and the ranked sources it carries are one unit, ranked by its best member: the conclusion comes
    first, its sources under it, and their own hits are folded into it (no slot repeats a record). An L1 hit all
    of whose in-scope sources a higher slot already shows delivers no new evidence: it takes no slot and is
    folded into the slot showing its first source (`Unit.restating`)."""
    if not per_hit:
        return [Unit(rid, scores[rid]) for rid in ordered[:limit]]
    position = {rid: i for i, rid in enumerate(ordered)}
    units: dict[str, Unit] = {}
    cited: dict[str, list[MemoryRecord]] = {}  # per L1 hit, all its in-scope sources, ranked ones first
    for rid in ordered:
        found = citations.sources.get(rid)
        if not found:
            continue
        cited[rid] = sorted(found, key=lambda r: position.get(r.id, len(ordered)))
        unit = units[rid] = Unit(rid, scores[rid], sources=cited[rid][:per_hit])
        best = max((s.id for s in unit.sources if s.id in scores), key=scores.__getitem__, default=None)
        if best is not None and scores[best] > unit.score:
            unit.ranked_with, unit.score = (best, scores[best]), scores[best]
    ranked = sorted(ordered, key=lambda rid: (units[rid].score if rid in units else scores[rid], rid in units),
                    reverse=True)  # fmt: skip
    shown: dict[str, Unit] = {}  # record id -> the unit that shows it (itself, or as a source)
    out: list[Unit] = []
    for rid in ranked:
        if limit is not None and len(out) >= limit:
            break
        carrier = shown.get(rid)
        if carrier is not None:
            carrier.carried.append((rid, scores[rid]))
            continue
        if rid in cited and all(s.id in shown for s in cited[rid]):  # restates what is shown already
            carrier = shown[rid] = shown[cited[rid][0].id]
            carrier.restating.append((rid, scores[rid]))
            continue
        unit = units.get(rid) or Unit(rid, scores[rid])
        shown[rid] = unit
        for source in unit.sources:
            shown.setdefault(source.id, unit)
        out.append(unit)
    return out


__all__ = [
    "FEEDBACK_SHARED_WORDS", "Citations", "Feedback", "Lift", "Loader", "Unit", "candidate_filter", "cited_ids", "feedback", "fold", "is_key", "lift", "loader",
    "provenance_filter", "quote",
]
