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
from omne_core.models import ModelFaultError, RetryPolicy

SESSION = MemoryScope(user_id="alice", session_id="s1")
USER = MemoryScope(user_id="alice")
ONCE = RetryPolicy(max_attempts=1)
FAST = RetryPolicy(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0)


def conclusion(kind: str, text: str, *sources: str, **fields) -> dict:
    """One conclusion as reflection's schema wants it (every field present)."""
    return {"kind": kind, "text": text, "source_ids": list(sources), "supersedes": [], "importance": 0.5,
            "confidence": 0.8, **fields}  # fmt: skip


def reflection(*conclusions: dict) -> str:
    return json.dumps({"memories": list(conclusions)})


def msg(text: str, speaker: str = "alice", **kw) -> MemoryRecord:
    return MemoryRecord(kind=MemoryKind.MESSAGE, text=text, scope=SESSION, metadata={"speaker": speaker}, **kw)


async def snapshot(store) -> tuple:
    conn = store.backend.db.conn()
    return tuple(conn.execute(q).fetchone()[0] for q in ("SELECT count(*) FROM records", "SELECT count(*) FROM history",
                                                           "SELECT group_concat(status || body) FROM records"))


async def test_reflect_creates_cited_l1_and_supersedes_contradiction(store):
    m1, m2 = await store.add([msg("I live in Paris"), msg("I'm vegetarian")])
    first = ReplayChatCompletionClient([reflection(
        conclusion("fact", "Alice lives in Paris", "S1", importance=0.7),
        conclusion("preference", "Alice is vegetarian", "S2"),
    )])
    result = await reflect(store, SESSION, first)
    assert sorted(r.text for r in result.created) == ["Alice is vegetarian", "Alice lives in Paris"]
    paris = next(r for r in result.created if "Paris" in r.text)
    assert paris.source_ids == [m1.id] and paris.kind is MemoryKind.FACT and paris.scope == USER
    assert set(result.source_ids) == {m1.id, m2.id}

    [m3] = await store.add(msg("We moved to Rome last week"))
    second = ReplayChatCompletionClient(["```json\n" + reflection(
        conclusion("fact", "Alice lives in Rome", "S1", supersedes=["C2"]),
    ) + "\n```"])
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
        reflection({"kind": "fact", "text": "no sources or scores"}),
        reflection(conclusion("fact", "Alice lives in Paris", "S9")),  # unknown alias
        reflection(conclusion("fact", "Alice lives in Paris")),  # cites nothing
        reflection(conclusion("message", "raw text", "S1")),  # not an L1 kind
        reflection(conclusion("summary", "a summary", "S1")),  # summaries are summarize_session's
        reflection(conclusion("fact", "ok it is", "S1"), conclusion("fact", "yes it is", "S1", supersedes=["C7"])),
        reflection(conclusion("fact", "ok it is", "S1", importance=3)),
        reflection(conclusion("fact", "x" * 401, "S1")),  # longer than the schema allows
        reflection(*(conclusion("fact", f"fact number {i}", "S1") for i in range(3))),  # more than 2 per source
    ],
)
async def test_malformed_reflection_changes_nothing(store, output):
    await store.add([msg("I live in Paris")])
    before = await snapshot(store)
    with pytest.raises(ReflectionError) as info:
        await reflect(store, SESSION, ReplayChatCompletionClient([output]), policy=ONCE)
    assert info.value.raw_output == output
    assert "malformed reflection output after 1 attempt(s)" in str(info.value)
    assert await snapshot(store) == before


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (reflection(conclusion("fact", "The user moved to Lyon.", "S4")), "S4"),  # an alias never shown
        (reflection(conclusion("fact", "The user works as a baker in Porto.", "S1")), "copy the example"),
    ],
    ids=["unknown-alias", "only-the-example"],
)
async def test_an_unusable_reflection_is_shown_to_the_model_and_retried(store, bad, why):
    [lyon] = await store.add([msg("I moved to Lyon")])
    client = ReplayChatCompletionClient([bad, reflection(conclusion("fact", "The user moved to Lyon.", "S1"))])
    result = await reflect(store, SESSION, client, policy=FAST)
    assert [(r.text, r.source_ids) for r in result.created] == [("The user moved to Lyon.", [lyon.id])]
    retry_prompt = client.create_calls[1]["messages"]
    assert retry_prompt[-2].content == bad  # the model sees its own reply ...
    assert "That reply was not valid" in retry_prompt[-1].content and why in retry_prompt[-1].content  # ... and why


async def test_reflection_that_stays_malformed_is_reported_with_the_last_reply(store):
    await store.add([msg("I live in Paris")])
    before = await snapshot(store)
    replies = ["no JSON here", '{"memories": "none"}', reflection(conclusion("opinion", "Paris is nice", "S1"))]
    with pytest.raises(ReflectionError) as info:
        await reflect(store, SESSION, ReplayChatCompletionClient(replies), policy=FAST)
    assert "after 3 attempt(s)" in str(info.value) and "kind" in str(info.value)
    assert info.value.raw_output == replies[-1]
    assert await snapshot(store) == before


async def test_a_conclusion_copied_from_the_prompt_example_is_dropped(store):
    [lyon] = await store.add([msg("I moved to Lyon")])
    client = ReplayChatCompletionClient([reflection(
        conclusion("fact", "The user works as a baker in Porto.", "S1"),  # the prompt's example, not an observation
        conclusion("fact", "The user moved to Lyon.", "S1"),
    )])  # fmt: skip
    result = await reflect(store, SESSION, client, policy=ONCE)
    assert [r.text for r in result.created] == ["The user moved to Lyon."] and result.created[0].source_ids == [lyon.id]
    assert result.rejected and "copies the prompt's example" in result.rejected[0]
    assert [r.text for r in await store.list(USER, kinds=[MemoryKind.FACT])] == ["The user moved to Lyon."]


async def test_a_conclusion_or_a_summary_without_a_word_is_not_stored(store):
    [lyon] = await store.add([msg("I moved to Lyon")])
    client = ReplayChatCompletionClient([reflection(conclusion("fact", "...", "S1"), conclusion("fact", "The user moved to Lyon.", "S1"))])
    result = await reflect(store, SESSION, client, policy=ONCE)
    assert [r.text for r in result.created] == ["The user moved to Lyon."] and result.rejected == ["'...' holds no word"]
    with pytest.raises(ReflectionError, match="holds no word"):  # a weak model's "..." (the bundled 270M wrote it)
        await summarize_session(store, SESSION, ReplayChatCompletionClient(['{"summary": " ... "}']), policy=ONCE)
    assert await store.list(USER, kinds=[MemoryKind.SUMMARY]) == []
    good = await summarize_session(store, SESSION, ReplayChatCompletionClient(['{"summary": "Moved to Lyon."}']))
    assert good.text == "Moved to Lyon." and good.source_ids == [lyon.id]
    assert [r.id for r in await store.list(USER, kinds=[MemoryKind.SUMMARY])] == [good.id]  # the listing sees summaries


async def test_transient_faults_are_retried_and_unreachable_models_raise_model_faults(store):
    [paris] = await store.add([msg("I live in Paris")])

    class Flaky(ReplayChatCompletionClient):
        failures = 1

        async def create(self, *args, **kwargs):
            if Flaky.failures:
                Flaky.failures -= 1
                raise TimeoutError("slow server")
            return await super().create(*args, **kwargs)

    result = await reflect(store, SESSION, Flaky([reflection(conclusion("fact", "Alice lives in Paris", "S1"))]), policy=FAST)
    assert result.created[0].source_ids == [paris.id]

    [rome] = await store.add([msg("I moved to Rome")])
    before = await snapshot(store)
    Flaky.failures = 5
    with pytest.raises(ModelFaultError) as info:
        await reflect(store, SESSION, Flaky([]), policy=FAST)
    assert info.value.kind == "timeout" and info.value.attempts == 3
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
    with pytest.raises(MemoryValidationError, match="session_id"):  # records given: still a session's summary
        await summarize_session(store, USER, ReplayChatCompletionClient(["x"]), records=messages)
    with pytest.raises(ReflectionError):
        await summarize_session(store, SESSION, ReplayChatCompletionClient(["   "]), policy=ONCE)
    with pytest.raises(ReflectionError):  # a blank summary is no summary
        await summarize_session(store, SESSION, ReplayChatCompletionClient(['{"summary": "  "}']), policy=ONCE)


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


async def test_a_conclusion_citing_a_source_that_shares_no_word_with_it_cites_the_sources_that_do(store):
    """The bundled 270M model cited the wrong turn for a right conclusion (`omne demo`): the conclusion is stored
    citing the shown source that shares the most words with it, and the result says so. A citation stands when a
    cited source shares a word, or when no shown source does (an inference in other words)."""
    nurse, lea, peanuts = await store.add([
        msg("Hi! I'm Sam. I just moved to Lyon for a job as a night nurse at the Croix-Rousse hospital.", "sam"),
        msg("My daughter Lea turns 7 on March 14, and she is crazy about dinosaurs.", "sam"),
        msg("Please remember that I am allergic to peanuts.", "sam"),
    ])  # fmt: skip
    client = ReplayChatCompletionClient([reflection(
        conclusion("fact", "The user works nights as a nurse.", "S2"),  # the wrong turn
        conclusion("fact", "The user's daughter loves dinosaurs.", "S2"),  # the right one
        conclusion("profile", "The user is a parent.", "S2"),  # no shown turn shares a word: left as cited
        conclusion("fact", "The user has a peanut allergy and works in a hospital.", "S3"),  # one word is enough
    )])  # fmt: skip
    result = await reflect(store, SESSION, client, policy=ONCE)
    assert [r.source_ids for r in result.created] == [[nurse.id], [lea.id], [lea.id], [peanuts.id]]
    assert result.recited == [f"'The user works nights as a nurse.' cited {lea.id[:8]}, which shares no word with "
                              f"it: cites {nurse.id[:8]} instead"]  # fmt: skip
    stored = {r.text: r.source_ids for r in await store.list(USER, kinds=[MemoryKind.FACT])}
    assert stored["The user works nights as a nurse."] == [nurse.id]
    assert (await store.links(result.created[0].id)).sources[0].id == nurse.id


async def test_a_summary_caught_in_a_loop_is_sent_back_and_a_varied_one_is_stored(store):
    """What the bundled 270M model wrote ("I'm allergic to peanuts." 38 times; a phrase over and over) is a
    malformed reply: the model sees why and answers again; when it keeps looping nothing is stored."""
    await store.add([msg("Please remember that I am allergic to peanuts.")])
    looping = json.dumps({"summary": "Alice is a girl. I'm allergic to peanuts. I'm  allergic to peanuts! i'm allergic to peanuts."})
    with pytest.raises(ReflectionError, match="repeats itself: \"i'm allergic to peanuts\" 3 times"):
        await summarize_session(store, SESSION, ReplayChatCompletionClient([looping]), policy=ONCE)
    assert await store.list(USER, kinds=[MemoryKind.SUMMARY]) == []
    phrase = json.dumps({"summary": "The story: the day before yesterday, the day before yesterday, the day before yesterday"})
    with pytest.raises(ReflectionError, match="repeats itself: 'the day before yesterday' 3 times"):
        await summarize_session(store, SESSION, ReplayChatCompletionClient([phrase]), policy=ONCE)
    varied = "Alice is allergic to peanuts. Yes. Yes. Yes. She said so. She said so, and she meant it."
    client = ReplayChatCompletionClient([looping, json.dumps({"summary": varied})])
    good = await summarize_session(store, SESSION, client, policy=FAST)  # short or twice-said clauses may repeat
    assert good.text == varied
    assert "repeats itself" in client.create_calls[1]["messages"][-1].content


async def test_neither_the_speakers_name_nor_a_stop_word_makes_a_citation_stand(store):
    """Turns recorded as "sam: ..." all share "sam" with a conclusion about Sam, and "was" with many a sentence:
    neither tells where a conclusion comes from, so neither keeps a wrong citation."""
    nurse, lea = await store.add([msg("sam: I was hired as a night nurse at the hospital", "sam"),
                                  msg("sam: Lea was born in March", "sam")])  # fmt: skip
    client = ReplayChatCompletionClient([reflection(
        conclusion("fact", "Sam is a nurse at a hospital.", "S2"),  # shares only "sam" with S2
        conclusion("fact", "Lea was born in March.", "S1"),  # shares only "was" with S1
    )])  # fmt: skip
    result = await reflect(store, SESSION, client, policy=ONCE)
    assert [r.source_ids for r in result.created] == [[nurse.id], [lea.id]] and len(result.recited) == 2
