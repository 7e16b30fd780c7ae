"""Diversity in the final ranking (maximal marginal relevance): near-duplicates give way, on hand-made vectors and
on a real store with real embeddings."""

from __future__ import annotations

import math

import pytest

from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope
from omne_core.memory.diversity import diversify
from omne_core.memory.expansion import Unit
from tests.support.backends import both_backends


def direction(degrees: float) -> list[float]:
    """A unit vector in the plane, `degrees` from the x axis (cosine between two: cos of the angle between)."""
    return [math.cos(math.radians(degrees)), math.sin(math.radians(degrees)), 0.0]


def units(*scores: float) -> list[Unit]:
    return [Unit(f"r{i}", score) for i, score in enumerate(scores)]


def test_a_near_duplicate_gives_way_to_what_shows_something_else():
    # r0 and r1 say nearly the same (cosine 0.996); r2 something else (cosine 0.5 to both)
    vectors = {"r0": direction(0), "r1": direction(5), "r2": direction(60), "r3": direction(62)}
    ranked = units(1.0, 0.95, 0.9, 0.5)
    off = diversify(units(1.0, 0.95, 0.9, 0.5), vectors, 0.0, 0.7, 3)
    assert [u.record_id for u, _ in off] == ["r0", "r1", "r2"] and all(why is None for _, why in off)

    on = diversify(ranked, vectors, 0.3, 0.7, 3)
    assert [u.record_id for u, _ in on] == ["r0", "r2", "r1"]
    (_, first), (_, second), (lowered, why) = on
    assert first is None and second is None  # r2 rose because r1 was lowered, not by a bonus of its own
    assert why is not None and why.like == "r0" and why.cosine == pytest.approx(math.cos(math.radians(5)), abs=1e-5)
    assert why.penalty == pytest.approx(0.3 * (why.cosine - 0.7) / 0.3) and lowered.score == pytest.approx(0.95 - why.penalty)
    assert [u.score for u, _ in on] == sorted((u.score for u, _ in on), reverse=True)  # scores still fall


def test_only_resemblance_above_the_threshold_counts():
    vectors = {"r0": direction(0), "r1": direction(40), "r2": direction(90)}  # cos 40 degrees = 0.77
    assert [u.record_id for u, _ in diversify(units(1.0, 0.9, 0.85), vectors, 1.0, 0.8, None)] == ["r0", "r1", "r2"]
    assert [u.record_id for u, _ in diversify(units(1.0, 0.9, 0.85), vectors, 1.0, 0.7, None)] == ["r0", "r2", "r1"]


def test_a_slot_resembles_through_the_sources_it_carries():
    """A conclusion carrying a turn resembles what that turn resembles; a slot without vectors is left alone."""
    source = MemoryRecord(kind=MemoryKind.MESSAGE, text="turn", scope=MemoryScope(user_id="u"))
    ranked = [Unit("top", 1.0), Unit("fact", 0.95, sources=[source]), Unit("bare", 0.94), Unit("other", 0.9)]
    vectors = {"top": direction(0), "fact": direction(90), source.id: direction(3), "other": direction(45)}
    picked = diversify(ranked, vectors, 0.5, 0.7, None)
    assert [u.record_id for u, _ in picked] == ["top", "bare", "other", "fact"]
    assert picked[-1][1] is not None and picked[-1][1].like == "top"


ALICE = MemoryScope(user_id="alice", session_id="s1")
QUERY = "Where did Melanie go camping with her kids?"
TEXTS = [
    "Melanie went camping in the mountains with her kids last weekend.",
    "Melanie and her kids went camping in the mountains last weekend, they loved it.",
    "Melanie takes her kids to a pottery class on Saturdays.",
    "The weather report says rain on Tuesday.",
    "Caroline is reading a book about the ocean.",
]


@both_backends
async def test_search_lets_a_near_duplicate_give_way_and_says_why(store):
    records = await store.add([MemoryRecord(kind=MemoryKind.MESSAGE, text=t, scope=ALICE,
                                            metadata={"speaker": "Melanie"}) for t in TEXTS])  # fmt: skip
    camping, again, pottery = (r.id for r in records[:3])
    plain = [h.record.id for h in await store.search(QUERY, ALICE, limit=3)]
    assert set(plain[:2]) == {camping, again} and plain[2] == pottery  # the near-duplicates take the top two slots

    store.settings.memory.diversity_weight = 1.0
    hits = await store.search(QUERY, ALICE, limit=3)
    assert [h.record.id for h in hits] == [plain[0], pottery, plain[1]]
    [why] = [r for r in hits[2].reasons if "for diversity" in r]
    assert why.startswith(f"much like message {plain[0][:8]} ") and "cosine 0." in why
    assert not any("for diversity" in r for r in hits[0].reasons)  # the best slot resembles nothing above it
    penalty = {h.record.id: float(r.split(": -")[1].split()[0]) for h in hits for r in h.reasons if "diversity" in r}
    assert penalty.get(pottery, 0.0) < penalty[plain[1]]  # the other topic resembles the first slot less
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    store.settings.memory.diversity_threshold = 0.99  # they are alike, but not that alike: nothing moves
    assert [h.record.id for h in await store.search(QUERY, ALICE, limit=3)] == plain
