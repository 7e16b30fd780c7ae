"""`omne memory ...` through typer's CliRunner, on a real store under the test's data directory."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator

import pytest
from autogen_ext.models.replay import ReplayChatCompletionClient
from typer.testing import CliRunner

from omne_cli.app import app
from tests.support.servers import json_server

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, ["memory", *args])
    assert result.exit_code == 0, result.output + str(result.exception)
    return result.output


@contextlib.contextmanager
def openai_compatible_model(monkeypatch: pytest.MonkeyPatch, replies: list[str]) -> Iterator[list[dict]]:
    """The `main` model behind a real local HTTP server speaking the OpenAI protocol: it answers `replies` in turn
    and yields the request bodies it received."""
    bodies: list[dict] = []

    def chat_completion(method: str, path: str, raw: bytes) -> tuple[int, dict]:
        bodies.append(body := json.loads(raw))
        return 200, {
            "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": replies[len(bodies) - 1]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }  # fmt: skip

    with json_server(chat_completion) as (url, _):
        monkeypatch.setenv("OMNE_MODELS__MAIN__PROVIDER", "openai_compatible")
        monkeypatch.setenv("OMNE_MODELS__MAIN__MODEL", "scripted")
        monkeypatch.setenv("OMNE_MODELS__MAIN__BASE_URL", f"{url}/v1")
        yield bodies


def test_cli_memory_lifecycle(tmp_path, embedder):
    first = run("add", "Grace keeps bees in her garden", "--user", "grace", "--kind", "fact").strip()
    second = run("add", "Grace's favourite tea is oolong", "--user", "grace", "--session", "s1", "--speaker", "grace").strip()
    assert run("add", "Grace keeps bees in her garden", "--user", "grace", "--kind", "fact").startswith(f"{first} (duplicate")
    run("add", "Heidi keeps bees too", "--user", "heidi", "--kind", "fact")

    hits = json.loads(run("search", "bees", "--user", "grace", "--json"))
    assert [h["record"]["id"] for h in hits][0] == first
    assert all(h["record"]["scope"]["user_id"] == "grace" for h in hits)
    assert "Grace keeps bees" in run("search", "bees", "--user", "grace")
    only_facts = json.loads(run("list", "--user", "grace", "--kind", "fact", "--json"))
    assert [r["id"] for r in only_facts] == [first]
    assert json.loads(run("show", second, "--user", "grace"))["metadata"]["speaker"] == "grace"

    stats = json.loads(run("stats", "--user", "grace", "--json"))
    assert stats["total"] == 2 and stats["by_kind"] == {"fact": 1, "observation": 1}

    for command in ("show", "history", "delete"):  # another user cannot see or touch grace's record
        refused = runner.invoke(app, ["memory", command, second, "--user", "heidi"])
        assert refused.exit_code == 1 and "no memory record" in refused.output
    assert "deleted" in run("delete", second, "--user", "grace")
    history = run("history", second, "--user", "grace")
    assert "add" in history and "delete" in history

    path = tmp_path / "grace.jsonl"
    assert "exported 2 records" in run("export", str(path), "--user", "grace")
    assert "imported 0 records, skipped 2" in run("import", str(path))


def test_cli_metadata_labels_are_typed_and_filter_search_and_list(tmp_path, embedder):
    apollo = run("add", "Launch checklist", "--user", "kai", "--meta", "project=apollo", "--meta", "priority=2",
                 "--meta", 'code="007"', "--meta", "done=false", "--meta", "odd=[1]").strip()  # fmt: skip
    zeus = run("add", "Launch checklist, second draft", "--user", "kai", "--meta", "project=zeus", "--meta", "code=7").strip()
    shown = json.loads(run("show", apollo, "--user", "kai"))["metadata"]
    assert shown == {"project": "apollo", "priority": 2, "code": "007", "done": False, "odd": "[1]"}
    hits = json.loads(run("search", "launch checklist", "--user", "kai", "--meta", "project=apollo", "--json"))
    assert [h["record"]["id"] for h in hits] == [apollo]
    for label, expected in (("code=7", [zeus]), ("code=7.0", [zeus]), ('code="007"', [apollo]), ("done=false", [apollo])):
        assert [r["id"] for r in json.loads(run("list", "--user", "kai", "--meta", label, "--json"))] == expected, label
    assert "no memories" in run("list", "--user", "kai", "--meta", "project=apollo", "--meta", "priority=3")
    either = json.loads(run("list", "--user", "kai", "--meta", "project=apollo", "--meta", "project=zeus", "--json"))
    assert sorted(r["id"] for r in either) == sorted([apollo, zeus])  # a key given twice: either value
    # a JSON object of conditions, beside key=value: operators as REST takes them
    ranged = run("list", "--user", "kai", "--meta", '{"priority": {"gte": 1.5}}', "--meta", "project=apollo", "--json")
    assert [r["id"] for r in json.loads(ranged)] == [apollo]
    assert [r["id"] for r in json.loads(run("list", "--user", "kai", "--meta", '{"done": {"ne": false}}', "--json"))] == [zeus]
    for wrong, said in (('{"priority": ', "not a JSON object"), ('["x"]', "not key=value"), ('{"p": {"like": 1}}', "is no operator")):
        refused = runner.invoke(app, ["memory", "list", "--user", "kai", "--meta", wrong])
        assert refused.exit_code == 2 and said in refused.output, (wrong, refused.output)  # before the store opens
    twice = runner.invoke(app, ["memory", "list", "--user", "kai", "--meta", "project=apollo", "--meta", '{"project": {"ne": "x"}}'])
    assert twice.exit_code == 2 and "given twice" in twice.output
    tagged = run("add", "Tagged", "--user", "kai", "--meta", "tag=a", "--meta", "tag=b").strip()
    assert json.loads(run("show", tagged, "--user", "kai"))["metadata"] == {"tag": ["a", "b"]}  # stored: both
    bad = runner.invoke(app, ["memory", "list", "--user", "kai", "--meta", "project"])
    assert bad.exit_code == 2 and "key=value" in bad.output


def test_cli_errors_exit_non_zero(tmp_path, embedder):
    result = runner.invoke(app, ["memory", "show", "does-not-exist", "--user", "u"])
    assert result.exit_code == 1 and "no memory record" in result.output
    result = runner.invoke(app, ["memory", "add", "x", "--user", "u", "--kind", "gossip"])
    assert result.exit_code == 2 and "'gossip' is not a record kind" in result.output
    corrupt = tmp_path / "bad.jsonl"
    corrupt.write_text("{not json\n")
    result = runner.invoke(app, ["memory", "import", str(corrupt)])
    assert result.exit_code == 1 and "bad.jsonl:1" in result.output


def test_cli_reflect_through_an_openai_compatible_server(monkeypatch, embedder):
    """`omne memory reflect` with the model behind a real local HTTP server speaking the OpenAI protocol."""
    answer = json.dumps({"memories": [{"kind": "preference", "text": "Ivan prefers window seats", "source_ids": ["S1"],
                                       "supersedes": [], "importance": 0.5, "confidence": 0.9}]})  # fmt: skip
    with openai_compatible_model(monkeypatch, [answer]) as requests:
        source = run("add", "I always book a window seat", "--user", "ivan", "--session", "trip", "--kind", "message").strip()
        output = run("reflect", "--user", "ivan", "--session", "trip")
    assert "+ preference: Ivan prefers window seats" in output and source[:8] in output
    assert "[S1]" in requests[0]["messages"][-1]["content"]
    assert requests[0]["response_format"]["type"] == "json_schema"  # the reflection schema went to the server
    [pref] = json.loads(run("list", "--user", "ivan", "--kind", "preference", "--json"))
    assert pref["source_ids"] == [source]


def test_cli_summarize_writes_one_cited_summary_per_session_and_refuses_a_loop(monkeypatch, embedder):
    """`omne memory summarize --session` stores the model's summary citing that session's records only, replaces
    the session's previous summary, and refuses a reply that loops (exit 1, nothing stored)."""
    replies = [json.dumps({"summary": "Ivan books window seats and flies to Oslo on Friday."}),
               json.dumps({"summary": "Ivan flies to Oslo on Friday."}),
               *[json.dumps({"summary": "I like Oslo in May. " * 4})] * 3]  # fmt: skip
    with openai_compatible_model(monkeypatch, replies) as bodies:
        trip = [run("add", text, "--user", "ivan", "--session", "trip", "--kind", "message").strip()
                for text in ("I always book a window seat", "We fly to Oslo on Friday")]  # fmt: skip
        run("add", "My dentist is on Rue Mercière", "--user", "ivan", "--session", "health", "--kind", "message")
        first = run("summarize", "--user", "ivan", "--session", "trip")
        second = run("summarize", "--user", "ivan", "--session", "trip")
        looping = runner.invoke(app, ["memory", "summarize", "--user", "ivan", "--session", "trip"])
    assert "window seats" in first and "of 2 records" in first and "Rue" not in bodies[0]["messages"][-1]["content"]
    assert bodies[0]["response_format"]["type"] == "json_schema" and "repeat_penalty" not in bodies[0]  # not bundled
    assert looping.exit_code == 1 and "repeats itself" in looping.output and len(bodies) == 5
    [summary] = json.loads(run("list", "--user", "ivan", "--kind", "summary", "--json"))  # the second replaced the first
    assert summary["text"] == "Ivan flies to Oslo on Friday." and summary["id"][:8] in second
    assert sorted(summary["source_ids"]) == sorted(trip) and summary["scope"]["session_id"] == "trip"
    nothing = runner.invoke(app, ["memory", "summarize", "--user", "ivan", "--session", "nope"])
    assert nothing.exit_code == 1 and "'nope' has no records" in nothing.output


def test_cli_reflect_and_summarize_find_nothing_to_do_before_they_load_a_model(tmp_path, embedder):
    """With nothing to read, no model is loaded: a model that cannot load is never the error."""
    broken = ["--model-component", str(tmp_path / "missing.json")]
    run("add", "Already summarised elsewhere", "--user", "lena", "--session", "s1", "--kind", "message")
    empty = runner.invoke(app, ["memory", "summarize", "--user", "lena", "--session", "s2", *broken])
    assert empty.exit_code == 1 and "'s2' has no records" in empty.output and "model" not in empty.output
    assert "0 conclusions from 0 records" in run("reflect", "--user", "lena", "--session", "s2", *broken)
    loads = runner.invoke(app, ["memory", "reflect", "--user", "lena", "--session", "s1", *broken])
    assert loads.exit_code == 1 and "cannot load the model" in loads.output  # something to read: the model loads


async def test_cli_repair_finds_what_the_cheap_open_check_cannot(embedder):
    """Open compares counts (and applies the journal); `omne memory repair` compares every id."""
    from omne_core.config import load_settings
    from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore

    settings = load_settings()  # the data directory the CLI opens
    scope = MemoryScope(user_id="rita")
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        kept, lost = await store.add([MemoryRecord(kind=MemoryKind.FACT, text=t, scope=scope)
                                      for t in ("Rita sails on Sundays", "Rita's boat is called Gull")])  # fmt: skip
        ghost = MemoryRecord(id="ghost", kind=MemoryKind.FACT, text="nobody", scope=scope)
        store.backend.vectors.delete("rita", [lost.id])  # behind the store's back: one vector lost ...
        store.backend.vectors.upsert([ghost], embedder.embed(["nobody"]))  # ... and one orphan: counts agree
    async with await MemoryStore.open(settings, embedder=embedder) as store:  # the cheap check is fooled
        assert store.backend.vectors.all_ids() == {kept.id, "ghost"}
    report = json.loads(await asyncio.to_thread(run, "repair", "--json"))
    assert report == {"full": True, "orphans_removed": 1, "marked_pending": 1, "embedded": 1}
    async with await MemoryStore.open(settings, embedder=embedder) as store:
        assert store.backend.vectors.all_ids() == {kept.id, lost.id}
        assert [h.record.id for h in await store.search("what is the boat called", scope)][0] == lost.id


@pytest.mark.parametrize("how", ["option", "environment"])
def test_cli_reflect_takes_the_model_component_like_chat(tmp_path, monkeypatch, embedder, how):
    """`omne memory reflect` is played by `--model-component FILE` or `$OMNE_MODEL_COMPONENT` (issue 14.20), as
    `omne chat` is: no configured model is called (the default points at a server nobody runs)."""
    reply = json.dumps({"memories": [{"kind": "preference", "text": "Olga prefers night trains", "source_ids": ["S1"],
                                      "supersedes": [], "importance": 0.5, "confidence": 0.9}]})  # fmt: skip
    component = tmp_path / "model.json"
    component.write_text(ReplayChatCompletionClient([reply]).dump_component().model_dump_json())
    monkeypatch.setenv("OMNE_MODELS__MAIN__PROVIDER", "openai_compatible")  # would fail if it were called
    monkeypatch.setenv("OMNE_MODELS__MAIN__MODEL", "nobody")
    monkeypatch.setenv("OMNE_MODELS__MAIN__BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OMNE_MODELS__MAIN__MAX_RETRIES", "0")
    source = run("add", "I always take the night train", "--user", "olga", "--session", "s", "--kind", "message").strip()
    extra = ["--model-component", str(component)] if how == "option" else []
    if how == "environment":
        monkeypatch.setenv("OMNE_MODEL_COMPONENT", str(component))
    output = run("reflect", "--user", "olga", "--session", "s", *extra)
    assert "+ preference: Olga prefers night trains" in output
    [pref] = json.loads(run("list", "--user", "olga", "--kind", "preference", "--json"))
    assert pref["source_ids"] == [source]


def test_cli_reflect_says_what_it_dropped_and_what_it_re_cited(tmp_path, monkeypatch, embedder):
    """`omne memory reflect` prints, beside what it stored, the conclusions it dropped and those it stored citing
    other sources than the model did, with why."""
    reply = json.dumps({"memories": [
        {"kind": "fact", "text": "Olga plays the cello", "source_ids": ["S1"], "supersedes": [], "importance": 0.5,
         "confidence": 0.9},  # S1 is the train: S2 shares its words
        {"kind": "fact", "text": "The user works as a baker in Porto.", "source_ids": ["S2"], "supersedes": [],
         "importance": 0.5, "confidence": 0.9},  # the prompt's example
    ]})  # fmt: skip
    component = tmp_path / "model.json"
    component.write_text(ReplayChatCompletionClient([reply]).dump_component().model_dump_json())
    train = run("add", "I always take the night train", "--user", "olga", "--session", "s", "--kind", "message").strip()
    cello = run("add", "I play the cello on Sundays", "--user", "olga", "--session", "s", "--kind", "message").strip()
    output = run("reflect", "--user", "olga", "--session", "s", "--model-component", str(component))
    assert f"+ fact: Olga plays the cello  (from {cello[:8]})" in output
    assert "dropped 1 conclusion(s) the model wrote:\n  'The user works as a baker in Porto.' copies" in output
    assert (f"re-cited 1 conclusion(s) the model wrote:\n  'Olga plays the cello' cited {train[:8]}, which shares no "
            f"word with it: cites {cello[:8]} instead") in output  # fmt: skip
    [fact] = json.loads(run("list", "--user", "olga", "--kind", "fact", "--json"))
    assert fact["source_ids"] == [cello]
