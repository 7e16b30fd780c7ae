"""The dense side without the speakers' names (`indexing.without_names`): what a search encodes for its query, and
a store whose vectors were made under another dense-text format, re-embedded from texts derived again on open."""

from __future__ import annotations

import logging
import random

import pytest

from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore, indexing
from omne_core.memory import backends as backends_module
from omne_core.memory import store as store_module
from tests.support.backends import both_backends, dense_texts, vector_ids
from tests.support.embedders import RecordingEmbedder

SESSION = MemoryScope(user_id="u", session_id="s")


def turn(text: str, speaker: str, scope: MemoryScope = SESSION) -> MemoryRecord:
    return MemoryRecord(kind=MemoryKind.MESSAGE, text=text, scope=scope, metadata={"speaker": speaker})


def cosine(a: str, b: str) -> float:
    """The similarity of two texts' `RecordingEmbedder` vectors (what a hit's dense score is)."""
    return sum(x * y for x, y in zip(*RecordingEmbedder().embed([a, b]), strict=True))


async def test_a_search_encodes_its_query_without_the_speakers_it_names(settings):
    recording = RecordingEmbedder()
    async with await MemoryStore.open(settings, embedder=recording) as store:
        await store.add([turn("I painted a sunset with the kids", "Melanie"), turn("Lovely! I was in Sweden", "Caroline")])
        recording.calls.clear()
        hits = await store.search("What did Melanie paint?", MemoryScope(user_id="u"))
        # one batch: the query as asked and without its capitalised inner words, which the candidates confirm
        assert recording.calls == [["What did Melanie paint?", "What did paint?"]]
        painted = next(h for h in hits if h.record.text.startswith("I painted"))
        assert painted.dense_score == pytest.approx(cosine("What did paint?", ": I painted a sunset with the kids"))
        recording.calls.clear()
        await store.search("Did Caroline like Sweden?", MemoryScope(user_id="u"))
        # Sweden is no speaker: the guess was wrong, so the query without Caroline alone is encoded next
        assert recording.calls == [["Did Caroline like Sweden?", "Did like ?"], ["Did like Sweden?"]]
        recording.calls.clear()
        await store.search("What did Bob paint?", MemoryScope(user_id="u"))  # no speaker of the store is named
        assert recording.calls == [["What did Bob paint?", "What did paint?"]]


async def test_only_the_searched_users_speakers_are_names_to_leave_out(settings):
    async with await MemoryStore.open(settings, embedder=RecordingEmbedder()) as store:
        await store.add([turn("I painted a sunset", "Melanie")])
        await store.add([turn("Did you paint?", "Vera", MemoryScope(user_id="v", session_id="s"))])
        [hit] = await store.search("What did Vera paint?", MemoryScope(user_id="u"))  # Vera speaks to user v only
        assert hit.dense_score == pytest.approx(cosine("What did Vera paint?", ": I painted a sunset"))
        [hit] = await store.search("What did Vera paint?", MemoryScope(user_id="v"))
        assert hit.dense_score == pytest.approx(cosine("What did paint?", ": Did you paint?"))


@both_backends
async def test_a_store_embedded_under_another_dense_format_is_re_embedded_from_texts_derived_again(
    settings, monkeypatch, caplog
):
    old = monkeypatch.context()
    with old as patch:  # a store of the earlier format: names in its dense texts, another vector space name
        patch.setattr(backends_module, "DENSE_FORMAT", "names-in")
        patch.setattr(indexing, "without_names", lambda text, names: text)
        async with await MemoryStore.open(settings, embedder=RecordingEmbedder()) as store:
            added = await store.add([turn("I painted a sunset", "Melanie"), turn("Lovely!", "Caroline")])
    recording = RecordingEmbedder()
    monkeypatch.setattr(store_module, "_REPAIR_BATCH", 2)  # a batch as full as a long re-embedding's first
    with caplog.at_level(logging.WARNING, logger=store_module.__name__):
        store = await MemoryStore.open(settings, embedder=recording)
    said = [r.getMessage() for r in caplog.records if r.name == store_module.__name__]
    assert said == ["embedding the vectors of 2 or more records, in batches of 2 (records added while the embedder "
                    "failed, or every record after a change of embedder or of the dense-text format, now 'capitalised-names-out')",
                    "embedded the vectors of 2 records"]  # fmt: skip
    async with store:
        encoded = [text for call in recording.calls for text in call]
        assert sorted(encoded) == [": I painted a sunset", ": Lovely!\n: I painted a sunset"]  # derived again
        assert await vector_ids(store) == {r.id for r in added}
        # the stored dense texts are what the new vectors were made from
        assert await dense_texts(store) == {added[0].id: ": I painted a sunset", added[1].id: ": Lovely!\n: I painted a sunset"}
        [hit, *_] = await store.search("sunset", MemoryScope(user_id="u"))
        assert hit.record.id == added[0].id and hit.dense_score == pytest.approx(
            sum(a * b for a, b in zip(*RecordingEmbedder().embed([": I painted a sunset", "sunset"]), strict=True))
        )  # its vector is the new text's
    recording.calls.clear()
    async with await MemoryStore.open(settings, embedder=recording) as store:  # caught up: nothing to re-embed
        assert recording.calls == []


NAMES = ["Ana", "Bo", "Caro", "Dev", "Eli", "Fen"]
TOPICS = "garden piano shelter puppy museum pottery camping marathon".split()


@both_backends
@pytest.mark.parametrize("seed", [5, 6])
async def test_only_the_searched_scopes_speakers_leave_the_query_randomized(settings, seed):
    """Randomized: users share some speakers' names and not others; a search leaves out of its dense query exactly
    the names of the speakers of the scopes it searched that it names, never a name only another user's speaker
    holds (what the hits' dense scores show)."""
    rng = random.Random(seed)
    users = ["u0", "u1", "u2"]
    cast = {u: rng.sample(NAMES, 3) for u in users}  # each user's speakers, overlapping at random
    async with await MemoryStore.open(settings, embedder=RecordingEmbedder()) as store:
        for i in range(36):
            user = rng.choice(users)  # each turn its own session: its dense text is its own line alone
            speaker = rng.choice(cast[user])
            await store.add([turn(f"{' '.join(rng.sample(TOPICS, 2))} {i}", speaker, MemoryScope(user_id=user, session_id=f"s{i}"))])
        spoken = {u: {r.metadata["speaker"] for r in await store.list(MemoryScope(user_id=u), limit=None)} for u in users}
        others_only = 0  # searches naming a speaker of an unsearched user alone: the case a leak would show in
        for _ in range(20):
            searched = rng.sample(users, rng.randint(1, 2))
            asked = rng.sample(NAMES, 2)
            query = f"What did {asked[0]} and {asked[1]} say about the {rng.choice(TOPICS)}?"
            left_out = [n for n in asked if any(n in spoken[u] for u in searched)]
            expected = indexing.query_text(query, left_out)
            assert all(n in expected for n in asked if n not in left_out)  # another user's speaker stays in
            others_only += any(n not in left_out and any(n in spoken[u] for u in users) for n in asked)
            hits = await store.search(query, [MemoryScope(user_id=u) for u in searched], limit=50)
            assert hits and all(h.record.scope.user_id in searched for h in hits)
            for hit in hits:
                if hit.dense_score is not None:
                    assert hit.dense_score == pytest.approx(cosine(expected, f": {hit.record.text}"), abs=1e-5), (seed, query)
        assert others_only, seed
