"""Bad input gets a clear, typed error and changes nothing."""

from __future__ import annotations

import json

import pytest

from omne_core.memory import (
    MemoryImportError,
    MemoryKind,
    MemoryNotFoundError,
    MemoryRecord,
    MemoryScope,
    MemoryStore,
    MemoryValidationError,
)
from tests.support.backends import both_backends, row_counts

pytestmark = both_backends
SCOPE = MemoryScope(user_id="alice")


async def snapshot(store: MemoryStore) -> tuple:
    return await row_counts(store)


def good(text: str = "fine") -> MemoryRecord:
    return MemoryRecord(kind=MemoryKind.FACT, text=text, scope=SCOPE)


async def test_rejected_adds_write_nothing(store):
    await store.add(good("already here"))
    before = await snapshot(store)
    huge = good("x" * (store.settings.memory.max_text_chars + 1))
    blank = good("   ")
    unknown_blob = MemoryRecord(kind=MemoryKind.OBSERVATION, text="img", scope=SCOPE, blob_ref="0" * 64)
    bad_payload = MemoryRecord(kind=MemoryKind.FACT, text="p", scope=SCOPE, payload={"x": object()})
    mutated = good("ok")
    mutated.text = 42  # type: ignore[assignment]
    for bad, message in [
        ([good("a"), blank], "empty"),
        ([good("b"), huge], "max_text_chars"),
        ([unknown_blob], "blob"),
        ([bad_payload], "JSON"),
        ([mutated], "string"),
        (["not a record"], "expected MemoryRecord"),
        ({"text": "dict"}, "expected a MemoryRecord"),
        (None, "expected a MemoryRecord"),
    ]:
        with pytest.raises(MemoryValidationError, match=message):
            await store.add(bad)
    assert await snapshot(store) == before


async def test_empty_batch_is_a_no_op(store):
    assert await store.add([]) == []


async def test_unknown_ids_and_wrong_types(store):
    [r] = await store.add(good())
    before = await snapshot(store)
    for call in (store.get("nope"), store.history("nope"), store.delete("nope"), store.delete("nope", hard=True),
                 store.update("nope", text="x"), store.supersede("nope", r.id), store.supersede(r.id, "nope")):
        with pytest.raises(MemoryNotFoundError, match="nope"):
            await call
    for call in (store.get(123), store.get(""), store.search("", SCOPE), store.search(None, SCOPE),
                 store.search("x", "alice"), store.search("x", []), store.search("x", SCOPE, limit=0),
                 store.search("x", SCOPE, kinds=["bogus"]), store.search("x", SCOPE, since="yesterday"),
                 store.list(SCOPE, limit=-1), store.update(r.id), store.update(r.id, importance=7.0),
                 store.update(r.id, text=""), store.supersede(r.id, r.id), store.forget_user("")):
        with pytest.raises(MemoryValidationError):
            await call
    assert await snapshot(store) == before
    assert (await store.get(r.id)).version == 1


async def test_corrupt_import_rejected_whole_with_line_number(store, tmp_path):
    [a, b] = await store.add([good("first"), good("second")])
    path = tmp_path / "export.jsonl"
    await store.export_jsonl(path, SCOPE)
    lines = path.read_text().splitlines()
    other = MemoryRecord(kind=MemoryKind.FACT, text="third", scope=MemoryScope(user_id="carol"))
    third = json.dumps({"format": "omne-memory/1", "record": other.model_dump(mode="json"), "blob_base64": None})
    bad_record = json.loads(lines[1])
    bad_record["record"]["kind"] = "gossip"
    variants = {
        "truncated": [third, lines[0], lines[1][:40]],
        "bad kind": [third, lines[0], json.dumps(bad_record)],
        "not ours": [third, lines[0], json.dumps({"hello": 1})],
    }
    await store.delete(a.id, hard=True)  # so a successful import would write something
    before = await snapshot(store)
    for name, content in variants.items():
        corrupt = tmp_path / f"{name}.jsonl"
        corrupt.write_text("\n".join(content) + "\n")
        with pytest.raises(MemoryImportError) as info:
            await store.import_jsonl(corrupt)
        assert info.value.line == 3, name
        assert await snapshot(store) == before, name
    with pytest.raises(MemoryNotFoundError):
        await store.get(other.id)
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(MemoryImportError):
        await store.import_jsonl(binary)
    with pytest.raises(MemoryValidationError, match="not found"):
        await store.import_jsonl(tmp_path / "missing.jsonl")
    assert await snapshot(store) == before
