"""Fusion of dense and lexical candidates: weights, hard filters, priors and explanations (no model needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omne_core.config.memory import MemorySettings
from omne_core.memory.ranking import FusionWeights, fuse, normalize
from omne_core.records import MemoryKind, MemoryRecord, MemoryScope

NOW = datetime(2025, 1, 1, tzinfo=UTC)
SCOPE = MemoryScope(user_id="u")
FILLER = "we talked about the garden, the weather, plans for spring and the new bakery downtown"


def rec(rid: str, text: str = FILLER, speaker: str | None = None, **kw) -> MemoryRecord:
    metadata = {"speaker": speaker} if speaker else {}
    return MemoryRecord(id=rid, kind=MemoryKind.MESSAGE, text=text, metadata=metadata, **{"scope": SCOPE, **kw})


def by_id(*records: MemoryRecord) -> dict[str, MemoryRecord]:
    return {r.id: r for r in records}


def order(hits) -> list[str]:
    return [h.record.id for h in hits]


def test_normalize_min_max_over_kept_candidates():
    assert normalize([("a", 9.0), ("b", 5.0), ("c", 1.0)], {"a": 1, "b": 1, "c": 1}) == {
        "a": 1.0,
        "b": 0.5,
        "c": 0.0,
    }
    # a filtered-out candidate does not stretch the scale
    assert normalize([("x", 100.0), ("a", 9.0), ("c", 1.0)], {"a": 1, "c": 1}) == {"a": 1.0, "c": 0.0}
    assert normalize([("a", 0.3), ("b", 0.3)], {"a": 1, "b": 1}) == {"a": 1.0, "b": 1.0}
    assert normalize([], {"a": 1}) == {}


def test_found_by_both_beats_found_by_one():
    records = by_id(rec("both"), rec("lex"), rec("dense"), rec("low"))
    hits = fuse(
        dense=[("dense", 0.80), ("both", 0.78), ("low", 0.10)],
        lexical=[("lex", 12.0), ("both", 11.5), ("low", 1.0)],
        records=records,
        settings=MemorySettings(),
        now=NOW,
    )
    assert order(hits)[0] == "both"
    assert order(hits)[-1] == "low"
    # `limit` keeps the best ones, in the same order
    top = fuse(dense=[("dense", 0.80), ("both", 0.78), ("low", 0.10)], lexical=[("lex", 12.0), ("both", 11.5), ("low", 1.0)],
               records=records, settings=MemorySettings(), now=NOW, limit=2)
    assert order(top) == order(hits)[:2]


def test_weights_decide_between_retrievers():
    records = by_id(rec("lex"), rec("dense"), rec("floor"))
    dense = [("dense", 0.9), ("floor", 0.1)]
    lexical = [("lex", 9.0), ("floor", 1.0)]
    lexical_heavy = fuse(
        dense, lexical, records, MemorySettings(), NOW, weights=FusionWeights(lexical=0.6, dense=0.4)
    )
    assert order(lexical_heavy)[:2] == ["lex", "dense"]
    dense_heavy = fuse(
        dense, lexical, records, MemorySettings(), NOW, weights=FusionWeights(lexical=0.2, dense=0.8)
    )
    assert order(dense_heavy)[:2] == ["dense", "lex"]


def test_only_filtered_records_become_hits():
    records = by_id(rec("kept"))
    hits = fuse([("gone", 0.99), ("kept", 0.5)], [("gone", 20.0)], records, MemorySettings(), NOW)
    assert order(hits) == ["kept"]
    assert hits[0].lexical_score is None and hits[0].dense_score == 0.5


def test_named_speaker_is_preferred():
    records = by_id(rec("ben", speaker="Ben"), rec("ana", speaker="Ana Lopez"))
    same = [("ben", 0.5), ("ana", 0.5)]
    hits = fuse(same, [], records, MemorySettings(), NOW, query="What does Ana like to cook?")
    assert order(hits) == ["ana", "ben"]
    assert any("speaker 'Ana Lopez'" in r for r in hits[0].reasons)
    # no name in the query: no speaker boost
    plain = fuse(same, [], records, MemorySettings(), NOW, query="what do they like to cook")
    assert plain[0].score == plain[1].score


def test_a_speaker_named_with_a_common_word_is_named_only_where_the_query_writes_it_with_a_capital():
    records = by_id(rec("hope", speaker="Hope"), rec("ben", speaker="Ben"))
    same = [("hope", 0.5), ("ben", 0.5)]
    for query in ("What do I hope to find?", "HOPING? What do I hope for?"):
        hits = fuse(same, [], records, MemorySettings(), NOW, query=query)
        assert hits[0].score == hits[1].score, query  # a word, not the speaker
    for query in ("What did Hope find?", "what did hope find"):  # a capital, or a query typed without any
        assert order(fuse(same, [], records, MemorySettings(), NOW, query=query)) == ["hope", "ben"], query


def test_substance_prior_breaks_ties_against_bare_acknowledgements():
    records = by_id(
        rec("ok", text="ok!"), rec("rich", text="I signed up for a pottery class at the community center")
    )
    hits = fuse([("ok", 0.6), ("rich", 0.6)], [], records, MemorySettings(), NOW)
    assert order(hits) == ["rich", "ok"]
    flat = fuse(
        [("ok", 0.6), ("rich", 0.6)], [], records, MemorySettings(), NOW, weights=FusionWeights(substance=0.0)
    )
    assert flat[0].score == flat[1].score


def test_recency_and_importance_boosts_apply_when_configured():
    old = rec("old", event_time=NOW - timedelta(days=400))
    new = rec("new", event_time=NOW - timedelta(days=1))
    same = [("old", 0.5), ("new", 0.5)]
    assert (
        fuse(same, [], by_id(old, new), MemorySettings(), NOW)[0].score
        == fuse(same, [], by_id(old, new), MemorySettings(), NOW)[1].score
    )
    recent = fuse(same, [], by_id(old, new), MemorySettings(recency_weight=0.2), NOW)
    assert order(recent) == ["new", "old"] and any("recency" in r for r in recent[0].reasons)
    big = rec("big", importance=0.9)
    small = rec("small", importance=0.1)
    hits = fuse(
        [("small", 0.5), ("big", 0.5)], [], by_id(big, small), MemorySettings(importance_weight=0.3), NOW
    )
    assert order(hits) == ["big", "small"]


def test_hits_explain_their_scores():
    records = by_id(rec("a", speaker="Ana"))
    [hit] = fuse([("a", 0.42)], [("a", 3.5)], records, MemorySettings(), NOW, query="Ana")
    assert hit.dense_score == 0.42 and hit.lexical_score == 3.5
    text = " | ".join(hit.reasons)
    assert (
        "dense rank 1 (cosine 0.420)" in text and "lexical rank 1 (bm25 3.500)" in text and "speaker" in text
    )
    assert hit.score > MemorySettings().fusion.lexical + MemorySettings().fusion.dense  # both at their top, + priors


def test_the_fusion_weights_are_a_memory_setting(monkeypatch):
    """`MemorySettings.fusion` (OMNE_MEMORY__FUSION__*) is what `fuse` mixes with unless weights are given."""
    from omne_core.config import load_settings

    records = {
        "lex": MemoryRecord(id="lex", kind=MemoryKind.FACT, text="alpha beta gamma delta", scope=SCOPE),
        "den": MemoryRecord(id="den", kind=MemoryKind.FACT, text="alpha beta gamma delta", scope=SCOPE),
    }
    dense, lexical = [("den", 0.9), ("lex", 0.1)], [("lex", 5.0), ("den", 1.0)]
    monkeypatch.setenv("OMNE_MEMORY__FUSION__LEXICAL", "0.9")
    settings = load_settings().memory
    assert settings.fusion.lexical == 0.9 and settings.fusion.dense == MemorySettings().fusion.dense
    assert [h.record.id for h in fuse(dense, lexical, records, settings, NOW)][0] == "lex"
    monkeypatch.setenv("OMNE_MEMORY__FUSION__LEXICAL", "0.1")
    settings = load_settings().memory
    assert settings.fusion.lexical == 0.1
    assert [h.record.id for h in fuse(dense, lexical, records, settings, NOW)][0] == "den"


def test_session_context_lifts_a_turn_whose_session_matches_elsewhere():
    """Of two equal candidates, the one whose session holds another good match ranks first; off, a tie."""
    in_session = MemoryScope(user_id="u", session_id="trip")
    records = by_id(
        rec("match", scope=in_session), rec("neighbour", scope=in_session),
        rec("alone", scope=MemoryScope(user_id="u", session_id="other")), rec("no-session"),
    )
    dense = [("match", 0.9), ("neighbour", 0.5), ("alone", 0.5), ("no-session", 0.5), ("floor", 0.1)]
    records["floor"] = rec("floor")
    hits = fuse(dense, [], records, MemorySettings(session_weight=0.3), NOW)
    assert order(hits)[:2] == ["match", "neighbour"]
    neighbour = next(h for h in hits if h.record.id == "neighbour")
    assert any(r.startswith("its session's best other match +") for r in neighbour.reasons)
    scores = {h.record.id: h.score for h in fuse(dense, [], records, MemorySettings(session_weight=0.0), NOW)}
    assert scores["neighbour"] == scores["alone"] == scores["no-session"]
