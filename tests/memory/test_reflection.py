"""reflect / summarize_session with a scripted model; consolidate and forget on a real store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from autogen_ext.models.replay import ReplayChatCompletionClient

from omne_core.memory import (
    ChangeOp,
    ForgetPolicy,
    MemoryKind,
    MemoryRecord,
    MemoryScope,
    MemoryStatus,
    MemoryValidationError,
    ReflectionError,
    consolidate,
    forget,
    reflect,
    summarize_session,
)
from omne_core.memory.maintenance import near_duplicates

SESSION = MemoryScope(user_id="alice", session_id="s1")
USER = MemoryScope(user_id="alice")


def msg(text: str, speaker: str = "alice", **kw) -> MemoryRecord:
    return MemoryRecord(kind=MemoryKind.MESSAGE, text=text, scope=SESSION, metadata={"speaker": speaker}, **kw)


async def snapshot(store) -> tuple:
    conn = store.backend.db.conn()
    return tuple(conn.execute(q).fetchone()[0] for q in ("SELECT count(*) FROM records", "SELECT count(*) FROM history",
                                                           "SELECT group_concat(status || body) FROM records"))


async def test_reflect_creates_cited_l1_and_supersedes_contradiction(store):
    m1, m2 = await store.add([msg("I live in Paris"), msg("I'm vegetarian")])
    first = ReplayChatCompletionClient([json.dumps({"memories": [
        {"kind": "fact", "text": "Alice lives in Paris", "source_ids": ["S1"], "importance": 0.7},
        {"kind": "preference", "text": "Alice is vegetarian", "source_ids": ["S2"]},
    ]})])
    result = await reflect(store, SESSION, first)
    assert sorted(r.text for r in result.created) == ["Alice is vegetarian", "Alice lives in Paris"]
    paris = next(r for r in result.created if "Paris" in r.text)
    assert paris.source_ids == [m1.id] and paris.kind is MemoryKind.FACT and paris.scope == USER
    assert set(result.source_ids) == {m1.id, m2.id}

    [m3] = await store.add(msg("We moved to Rome last week"))
    second = ReplayChatCompletionClient(["```json\n" + json.dumps({"memories": [
        {"kind": "fact", "text": "Alice lives in Rome", "source_ids": ["S1"], "supersedes": ["C2"]},
    ]}) + "\n```"])
    result2 = await reflect(store, SESSION, second)
    # only the new message was shown (the first two are already cited)
    assert result2.source_ids == [m3.id]
    [rome] = result2.created
    assert rome.source_ids == [m3.id]
    assert result2.superseded == [(paris.id, rome.id)]
    old = await store.get(paris.id)
    assert old.status is MemoryStatus.SUPERSEDED and old.superseded_by == rome.id  # never a silent delete
    assert [c.op for c in await store.history(paris.id)] == [ChangeOp.ADD, ChangeOp.SUPERSEDE]
    hits = await store.search("where does Alice live", USER, kinds=[MemoryKind.FACT])
    assert [h.record.id for h in hits] == [rome.id]


@pytest.mark.parametrize(
    "output",
    [
        "I think Alice lives in Paris.",
        '{"memories": [{"kind": "fact", "text": "x"}]}',  # no sources
        '{"memories": [{"kind": "fact", "text": "Alice lives in Paris", "source_ids": ["S9"]}]}',  # unknown alias
        '{"memories": [{"kind": "message", "text": "raw", "source_ids": ["S1"]}]}',  # not an L1 kind
        '{"memories": [{"kind": "fact", "text": "ok", "source_ids": ["S1"]}, {"kind": "fact", "text": "y", "source_ids": ["S1"], "supersedes": ["C7"]}]}',
        '{"memories": [{"kind": "fact", "text": "ok", "source_ids": ["S1"], "importance": 3}]}',
    ],
)
async def test_malformed_reflection_changes_nothing(store, output):
    await store.add([msg("I live in Paris")])
    before = await snapshot(store)
    with pytest.raises(ReflectionError) as info:
        await reflect(store, SESSION, ReplayChatCompletionClient([output]))
    assert info.value.raw_output == output
    assert await snapshot(store) == before


async def test_reflect_with_nothing_new_does_not_call_the_model(store):
    client = ReplayChatCompletionClient([])
    result = await reflect(store, SESSION, client)
    assert result.created == [] and result.source_ids == []


async def test_summarize_session_supersedes_previous_summary(store):
    messages = await store.add([msg(f"line {i}", event_time=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=i)) for i in range(4)])
    first = await summarize_session(store, SESSION, ReplayChatCompletionClient(['{"summary": "Alice talked about four lines."}']))
    assert first.kind is MemoryKind.SUMMARY and first.source_ids == [m.id for m in messages]
    second = await summarize_session(store, SESSION, ReplayChatCompletionClient(['{"summary": "A better summary."}']))
    assert (await store.get(first.id)).superseded_by == second.id
    with pytest.raises(MemoryValidationError):
        await summarize_session(store, USER, ReplayChatCompletionClient(["x"]))
    with pytest.raises(ReflectionError):
        await summarize_session(store, SESSION, ReplayChatCompletionClient(["   "]))


async def test_consolidate_merges_near_duplicates(store):
    src = await store.add([msg("a"), msg("b"), msg("c")])
    a, b, c = await store.add([
        MemoryRecord(kind=MemoryKind.FACT, text="Alice has a dog named Rex", scope=USER, source_ids=[src[0].id], importance=0.9),
        MemoryRecord(kind=MemoryKind.FACT, text="Alice has a dog called Rex", scope=USER, source_ids=[src[1].id], importance=0.4),
        MemoryRecord(kind=MemoryKind.FACT, text="Alice works night shifts at the hospital", scope=USER, source_ids=[src[2].id]),
    ])
    result = await consolidate(store, USER, threshold=0.9)
    assert [(g.kept, g.superseded) for g in result.groups] == [(a.id, [b.id])]
    kept = await store.get(a.id)
    assert kept.source_ids == [src[0].id, src[1].id] and kept.version == 2
    assert (await store.get(b.id)).superseded_by == a.id
    assert (await store.get(c.id)).status is MemoryStatus.ACTIVE


async def test_forget_policy_ttl_and_decay(store):
    now = datetime(2025, 1, 1, tzinfo=UTC)
    old, unused, used, important = await store.add([
        MemoryRecord(kind=MemoryKind.OBSERVATION, text="ancient", scope=USER, created_at=now - timedelta(days=400)),
        MemoryRecord(kind=MemoryKind.OBSERVATION, text="trivia", scope=USER, importance=0.2, created_at=now - timedelta(days=60)),
        MemoryRecord(kind=MemoryKind.OBSERVATION, text="trivia but used", scope=USER, importance=0.2, created_at=now - timedelta(days=60)),
        MemoryRecord(kind=MemoryKind.FACT, text="important", scope=USER, importance=1.0, created_at=now - timedelta(days=60)),
    ])
    await store.search("trivia but used", USER, kinds=[MemoryKind.OBSERVATION], limit=1)
    policy = ForgetPolicy(scope=USER, ttl=timedelta(days=365), decay_half_life=timedelta(days=30), min_retention=0.1)
    result = await forget(store, policy, now=now)
    assert set(result.forgotten) == {old.id, unused.id}
    assert "ttl" in result.reasons[old.id] and "retention" in result.reasons[unused.id]
    assert (await store.get(unused.id)).status is MemoryStatus.DELETED  # soft by default
    assert (await store.get(used.id)).status is MemoryStatus.ACTIVE
    assert (await store.get(important.id)).status is MemoryStatus.ACTIVE


def test_near_duplicates_matches_pairwise_cosine_across_blocks():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((6, 16))
    vectors = np.vstack([base, base[:3] + 0.01 * rng.standard_normal((3, 16)), np.zeros((1, 16))])
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    expected = [[j for j in range(len(unit)) if j != i and unit[i] @ unit[j] >= 0.95] for i in range(len(unit))]

    for block in (1, 4, 100):
        assert near_duplicates(vectors.tolist(), 0.95, block=block) == expected
    assert expected[0] == [6] and expected[9] == []  # a copy is found; a zero vector matches nothing
