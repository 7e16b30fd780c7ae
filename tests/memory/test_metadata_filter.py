"""Metadata filters (`search(..., metadata={key: value or {operator: ...}})`, `list(...)`): a record matches when
its metadata holds exactly that JSON scalar under that key, one of several (`in`), a number in a range (`gt`,
`gte`, `lt`, `lte`) or a list holding the value (`contains`), the same on both backends; keys are data (never SQL
or a JSON path); a bad condition is a clear error; a metadata filter never widens a scope. Randomized scopes, keys,
values and conditions."""

from __future__ import annotations

import random
import sqlite3

import pytest

from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore, MemoryValidationError
from tests.support.backends import both_backends, only_embedded

pytestmark = both_backends
WORDS = "apple budget camera dentist holiday invoice password piano recipe salary vaccine wedding".split()
# Keys a caller may well use, and hostile ones: SQL, JSON-path syntax, quotes, a dot, non-ASCII.
KEYS = ["project", "priority", "'); DROP TABLE records; --", '$.metadata."x"', "a.b", "clé ✓"]
# What records hold (by index), and for each condition value the indices it must match: the test's own table,
# not the code's rule. Numbers compare as numbers (1 == 1.0); a boolean is no number; "1" is no number; a list or
# an object holding the value is not the value; a missing key meets only a negation.
STORED = ["apollo", "1", 1, 1.0, True, False, 2, ["apollo"], {"p": "apollo"}, None, [["apollo"], 2.0, True], 2.5]
EVERY = set(range(-1, len(STORED)))  # -1: the record has no such key
WANTED: list[tuple[object, set[int]]] = [
    ("apollo", {0}), ("1", {1}), (1, {2, 3}), (True, {4}), (False, {5}), (2.0, {6}), (1.5, set()),
    ({"in": ["apollo", 2]}, {0, 6}), ({"in": ["1", True, 9]}, {1, 4}), ({"in": [1.0]}, {2, 3}),
    ({"gte": 1}, {2, 3, 6, 11}), ({"gt": 1}, {6, 11}), ({"lt": 2}, {2, 3}), ({"lte": 2.5}, {2, 3, 6, 11}),
    ({"gte": 1, "lt": 2.5}, {2, 3, 6}), ({"lt": -1}, set()),
    ({"contains": "apollo"}, {7}), ({"contains": 2}, {10}), ({"contains": True}, {10}), ({"contains": 1}, set()),
    # negations: every record that does not hold the value, those without the key (-1) too
    ({"ne": "apollo"}, EVERY - {0}), ({"ne": 1}, EVERY - {2, 3}), ({"ne": True}, EVERY - {4}),
    ({"nin": ["1", 2.0]}, EVERY - {1, 6}), ({"nin": [False, "apollo", 2.5]}, EVERY - {0, 5, 11}),
    ({"ne": "apollo", "gte": 2}, {6, 11}),
]


def random_scope(rng: random.Random) -> MemoryScope:
    return MemoryScope(user_id=rng.choice(["u1", "u2"]), session_id=rng.choice([None, "s1", "s2"]))


def random_metadata(rng: random.Random) -> dict[str, int]:
    """Key -> index into STORED, for 0 to 4 random keys."""
    return {key: rng.randrange(len(STORED)) for key in rng.sample(KEYS, rng.randint(0, 4))}


async def check_random_queries(store, rng: random.Random, held: dict[str, dict[str, int]], scopes, queries: int) -> int:
    """`queries` random filters, each listed and searched, compared with the oracle table; how many matched any."""
    found_any = 0
    for _ in range(queries):
        user = MemoryScope(user_id=rng.choice(["u1", "u2"]))
        scope = user if rng.random() < 0.5 else user.model_copy(update={"session_id": rng.choice(["s1", "s2"])})
        conditions = dict((key, rng.choice(WANTED)) for key in rng.sample(KEYS, rng.choice([1, 1, 2])))
        expected = {
            rid for rid, choice in held.items() if scope.contains(scopes[rid])
            and all(choice.get(key, -1) in matching for key, (_, matching) in conditions.items())
        }  # fmt: skip
        wanted = {key: value for key, (value, _) in conditions.items()}
        listed = await store.list(scope, limit=None, metadata=wanted)
        assert {r.id for r in listed} == expected, wanted
        hits = await store.search(" ".join(rng.sample(WORDS, 2)), scope, limit=100, metadata=wanted)
        assert {h.record.id for h in hits} == expected, wanted  # every allowed record is a candidate: all found
        found_any += bool(expected)
    return found_any


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_search_and_list_keep_exactly_the_records_holding_the_values(store, seed):
    rng = random.Random(seed)
    records, choices = [], []  # choices: per record, key -> index into STORED
    for i in range(100):
        choices.append(random_metadata(rng))
        records.append(MemoryRecord(
            kind=rng.choice([MemoryKind.MESSAGE, MemoryKind.FACT]), text=f"{' '.join(rng.sample(WORDS, 3))} note {i}",
            scope=random_scope(rng), metadata={key: STORED[index] for key, index in choices[-1].items()},
        ))  # fmt: skip
    stored = await store.add(records)
    held = {record.id: choice for record, choice in zip(stored, choices, strict=True)}
    scopes = {record.id: record.scope for record in stored}
    assert await check_random_queries(store, rng, held, scopes, 30) >= 8  # the draw exercised matches
    assert len(await store.list(MemoryScope(user_id="u1"), limit=None)) + len(
        await store.list(MemoryScope(user_id="u2"), limit=None)
    ) == 100  # the hostile keys changed nothing

    # New metadata on a fifth of the records, a tenth purged: the filters follow (nothing of the old values stays).
    for rid in rng.sample(sorted(held), 20):
        held[rid] = random_metadata(rng)
        await store.update(rid, metadata={key: STORED[index] for key, index in held[rid].items()})
    for rid in rng.sample(sorted(held), 10):
        await store.delete(rid, hard=True)
        del held[rid]
    assert await check_random_queries(store, rng, held, scopes, 15) >= 3


async def test_labels_of_a_store_written_before_the_label_index_are_indexed_on_open(settings, embedder):
    """The embedded store indexes metadata as it writes (`label_rows`); a store written before that indexes it in
    SQL on open, to exactly the same rows."""
    rng = random.Random(7)
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        only_embedded(store, "PostgreSQL reads metadata from the record's jsonb")
        odd = {"big": 2**70, "neg": -(2**63), "f": 0.1, "nested": {"k": ["x"]}, "none": None, "deep": [[1], {"a": 2}]}
        await store.add([MemoryRecord(
            kind=MemoryKind.FACT, text=f"note {i}", scope=random_scope(rng),
            metadata={**{key: STORED[index] for key, index in random_metadata(rng).items()}, **(odd if i % 7 == 0 else {})},
        ) for i in range(60)])  # fmt: skip
    path = settings.data_dir / settings.memory.sqlite_file
    query = "SELECT key, element, type, value, typeof(value), seq FROM record_labels ORDER BY 1, 2, 3, 4, 6"
    with sqlite3.connect(path) as conn:
        written = conn.execute(query).fetchall()
        conn.execute("DELETE FROM record_labels")  # as an older release left it
        conn.execute("DELETE FROM meta WHERE key = 'record_labels'")
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        assert len(written) > 100
        with sqlite3.connect(path) as conn:
            assert conn.execute(query).fetchall() == written
        big = await store.list(MemoryScope(user_id="u1"), limit=None, metadata={"big": {"gt": 2**62}})
        assert big and all(r.metadata["big"] == 2**70 for r in big)


async def test_a_metadata_filter_beside_kinds_and_a_time_window_and_a_supersession(store):
    scope = MemoryScope(user_id="ana")
    old, other = await store.add([
        MemoryRecord(kind=MemoryKind.FACT, text="Ana's project is called Apollo", scope=scope, metadata={"project": "apollo"}),
        MemoryRecord(kind=MemoryKind.MESSAGE, text="Apollo launch notes", scope=scope, metadata={"project": "apollo"}),
    ])  # fmt: skip
    [(new, _)] = await store.add_superseding([(MemoryRecord(
        kind=MemoryKind.FACT, text="Ana's project is now called Artemis", scope=scope, metadata={"project": "apollo"},
    ), [old.id])])  # fmt: skip
    hits = await store.search("what is Ana's project called", scope, kinds=["fact"], metadata={"project": "apollo"})
    assert [h.record.id for h in hits] == [new.id]  # the superseded one stays out; the message is not a fact
    everything = await store.list(scope, include_inactive=True, limit=None, metadata={"project": "apollo"})
    assert {r.id for r in everything} == {old.id, new.id, other.id}
    assert await store.search("Apollo", scope, metadata={"project": "zeus"}) == []
    assert await store.list(scope, metadata={"project\x00": "apollo"}) == []  # PostgreSQL cannot even hold a NUL
    assert await store.search("Apollo", scope, metadata={"project": "apollo\x00"}) == []


@pytest.mark.parametrize("bad", [
    {}, [("project", "x")], {"project": {"nested": 1}}, {"project": ["x"]}, {"project": None}, {"p": float("nan")},
    {"p": 2**70}, {"": "x"}, {"k" * 201: "x"}, {f"k{i}": i for i in range(17)}, {"p": {}}, {"p": {"in": []}},
    {"p": {"in": "apollo"}}, {"p": {"in": [["x"]]}}, {"p": {"gte": "2"}}, {"p": {"lt": True}}, {"p": {"contains": ["x"]}},
    {"p": {"like": "a%"}}, {"p": {"in": list(range(101))}}, {"p": {"ne": ["x"]}}, {"p": {"nin": "x"}}, {"p": {"nin": []}},
])  # fmt: skip
async def test_a_bad_condition_is_a_clear_error_before_any_work(store, bad):
    with pytest.raises(MemoryValidationError, match="metadata"):
        await store.search("anything", MemoryScope(user_id="u"), metadata=bad)
    with pytest.raises(MemoryValidationError, match="metadata"):
        await store.list(MemoryScope(user_id="u"), metadata=bad)
