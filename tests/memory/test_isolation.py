"""Isolation: with randomized users, agents, sessions and namespaces, no search, get, list, export or
context ever returns a record outside the requested scope(s)."""

from __future__ import annotations

import json
import random

import pytest

from omne_core.memory import MemoryKind, MemoryNotFoundError, MemoryRecord, MemoryScope, build_context
from tests.support.backends import both_backends

pytestmark = both_backends
WORDS = "apple budget camera dentist holiday invoice password piano recipe salary vaccine wedding".split()


def random_scope(rng: random.Random) -> MemoryScope:
    return MemoryScope(
        user_id=rng.choice(["u1", "u2", "u3"]),
        agent_id=rng.choice([None, "a1", "a2"]),
        session_id=rng.choice([None, "s1", "s2"]),
        namespace=rng.choice([None, "team"]),
    )


def in_any(scopes: list[MemoryScope], record: MemoryRecord) -> bool:
    return any(s.contains(record.scope) for s in scopes)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_no_operation_crosses_scopes(store, tmp_path, seed):
    rng = random.Random(seed)
    records = [
        MemoryRecord(
            kind=rng.choice([MemoryKind.MESSAGE, MemoryKind.FACT]),
            text=f"{' '.join(rng.sample(WORDS, 3))} note {i}",
            scope=random_scope(rng),
        )
        for i in range(60)
    ]
    stored = await store.add(records)
    by_id = {r.id: r for r in stored}
    for q in range(25):
        scopes = [random_scope(rng) for _ in range(rng.choice([1, 1, 2]))]
        # drop fields at random so partial scopes (user only, user+session...) are exercised too
        scopes = [s.model_copy(update={f: None for f in ("agent_id", "session_id", "namespace") if rng.random() < 0.4}) for s in scopes]
        expected = {r.id for r in stored if in_any(scopes, r)}

        # diversity compares stored vectors, fetched per user of the hits: on at random, it must not widen anything
        store.settings.memory.diversity_weight = rng.choice([0.0, 0.5])
        hits = await store.search(" ".join(rng.sample(WORDS, 2)), scopes, limit=50)
        assert all(in_any(scopes, h.record) for h in hits)
        resembled = {r.split()[3] for h in hits for r in h.reasons if r.endswith("for diversity")}
        assert resembled <= {h.record.id[:8] for h in hits}
        assert {h.record.id for h in hits} <= expected
        if expected:
            assert hits, "a scope with records must find something"

        listed = await store.list(scopes, limit=None)
        assert {r.id for r in listed} == expected

        context = build_context(hits, max_tokens=2000)
        assert all(in_any(scopes, by_id[rid]) for rid in context.record_ids)

        for record in rng.sample(stored, 5):
            if in_any(scopes, record):
                assert (await store.get(record.id, scopes)).id == record.id
            else:
                with pytest.raises(MemoryNotFoundError):
                    await store.get(record.id, scopes)

        path = tmp_path / f"export-{seed}-{q}.jsonl"
        await store.export_jsonl(path, scopes)
        exported = {json.loads(line)["record"]["id"] for line in path.read_text().splitlines()}
        assert exported == expected
