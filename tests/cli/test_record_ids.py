"""Record ids in `omne memory show/history/delete` and chat's `/forget`: short prefixes work within the user, and
another user's record reads exactly like an unknown id (issue 14 item 19)."""

from __future__ import annotations

import asyncio
import json
import random
import uuid

from autogen_ext.models.replay import ReplayChatCompletionClient

from omne_core.config import load_settings
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore

from .support import invoke, ok


def _add(records: list[MemoryRecord]) -> None:
    async def main() -> None:
        async with await MemoryStore.open(load_settings()) as store:
            await store.add(records)

    asyncio.run(main())


def _record(user: str, text: str, record_id: str | None = None) -> MemoryRecord:
    extra = {"id": record_id} if record_id else {}
    return MemoryRecord(kind=MemoryKind.FACT, text=text, scope=MemoryScope(user_id=user), **extra)


def test_another_users_record_and_an_unknown_id_give_the_same_message(embedder):
    rng = random.Random(14)
    users = [f"user-{rng.randrange(10**6)}" for _ in range(3)]
    records = [_record(user, f"{user} note {i}", uuid.UUID(int=rng.getrandbits(128)).hex) for user in users for i in range(3)]
    _add(records)
    for asker in users:
        for record in rng.sample([r for r in records if r.scope.user_id != asker], 2):
            unknown = uuid.UUID(int=rng.getrandbits(128)).hex
            for command in ("show", "history", "delete"):
                theirs = invoke("memory", command, record.id, "--user", asker)
                missing = invoke("memory", command, unknown, "--user", asker)
                assert theirs.exit_code == missing.exit_code == 1
                assert theirs.output.replace(record.id, "ID") == missing.output.replace(unknown, "ID"), (theirs.output, missing.output)
                assert theirs.output == f"error: no memory record {record.id!r} for user {asker!r}\n"
            short = invoke("memory", "show", record.id[:8], "--user", asker)  # a prefix of theirs: not found either
            assert short.output == f"error: no memory record {record.id[:8]!r} for user {asker!r}\n"
    [kept] = [r for r in records if r.scope.user_id == users[0]][:1]
    assert json.loads(ok("memory", "show", kept.id, "--user", users[0]))["text"] == kept.text  # nothing was deleted


def test_short_ids_resolve_within_the_user_and_ambiguity_lists_candidates(embedder):
    mine = [_record("alice", "Alice owns a red kayak", "abcd1111" + "0" * 24),
            _record("alice", "Alice owns a blue canoe", "abcd2222" + "0" * 24)]  # fmt: skip
    theirs = _record("bob", "Bob owns a green raft", "abcd3333" + "0" * 24)
    _add([*mine, theirs])

    assert json.loads(ok("memory", "show", "abcd1111", "--user", "alice"))["text"] == "Alice owns a red kayak"
    assert "add" in ok("memory", "history", "abcd2", "--user", "alice")
    ambiguous = invoke("memory", "show", "abcd", "--user", "alice")
    assert ambiguous.exit_code == 1 and "ambiguous" in ambiguous.output
    assert mine[0].id in ambiguous.output and mine[1].id in ambiguous.output and theirs.id not in ambiguous.output
    assert invoke("memory", "show", "abcd3", "--user", "alice").output == "error: no memory record 'abcd3' for user 'alice'\n"
    assert ok("memory", "delete", "abcd1", "--user", "alice").strip() == f"deleted {mine[0].id}"
    assert json.loads(ok("memory", "show", "abcd3", "--user", "bob"))["status"] == "active"


def test_chat_forgets_by_the_short_id_it_prints(tmp_path, embedder):
    [record] = [_record("carol", "Carol's locker code is 4312.")]
    _add([record])
    model = tmp_path / "model.json"
    model.write_text(ReplayChatCompletionClient(["{}"]).dump_component().model_dump_json())
    out = ok("chat", "--user", "dave", "--model-component", str(model), input=f"/forget {record.id[:8]}\n/quit\n")
    assert f"no memory {record.id[:8]} for user dave" in out
    out = ok("chat", "--user", "carol", "--model-component", str(model), input=f"/forget {record.id[:8]}\n/quit\n")
    assert f"forgot {record.id}" in out
    assert json.loads(ok("memory", "show", record.id, "--user", "carol"))["status"] == "deleted"
