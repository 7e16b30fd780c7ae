"""Simple Responder on a real memory store (model scripted): retrieval into the prompt, L0 recording, streaming,
cancellation, model faults, and team memory (shared namespace + private scopes)."""

from __future__ import annotations

import asyncio

import pytest
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.messages import MemoryQueryEvent, ModelClientStreamingChunkEvent, TextMessage
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core import CancellationToken

from omne_assistant import RetryPolicy, SimpleResponder, TeamMemory
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope
from tests.support.scripted import prompts_text, scripted

FAST = RetryPolicy(max_attempts=2, base_delay_s=0.0, max_delay_s=0.0)


async def _seed(store, user: str, *texts: str) -> list[str]:
    scope = MemoryScope(user_id=user, session_id="earlier")
    stored = await store.add([MemoryRecord(kind=MemoryKind.MESSAGE, text=t, scope=scope) for t in texts])
    return [r.id for r in stored]


async def test_retrieved_memory_reaches_the_model_and_the_turn_is_stored_as_l0(store):
    (clara_id, _) = await _seed(store, "alice", "user: My sister's name is Clara.", "user: I bought a red bicycle.")
    client = scripted("Your sister is Clara.")
    agent = SimpleResponder("omne", client, store, MemoryScope(user_id="alice"), reflect_every=None, retry=FAST)
    result = await agent.run(task="What is my sister's name?")

    seen = prompts_text(client, 0)
    assert "My sister's name is Clara." in seen and clara_id[:8] in seen
    events = [m for m in result.messages if isinstance(m, MemoryQueryEvent)]
    assert events and clara_id in [c.metadata["id"] for c in events[0].content]
    reply = result.messages[-1]
    assert isinstance(reply, TextMessage) and reply.content == "Your sister is Clara."
    assert clara_id in reply.metadata["memory_ids"].split(",")

    turn = await store.list(MemoryScope(user_id="alice", session_id=agent.session_id), kinds=[MemoryKind.MESSAGE])
    assert sorted(r.text for r in turn) == ["omne: Your sister is Clara.", "user: What is my sister's name?"]
    assert all(r.kind.level == "L0" for r in turn)


async def test_the_memory_event_names_the_sources_an_l1_hit_brings_into_the_prompt(store):
    (peanuts_id,) = await _seed(store, "sam", "user: Please remember that I am allergic to peanuts.")
    [fact] = await store.add([MemoryRecord(kind=MemoryKind.FACT, text="Sam has a food allergy to peanuts.",
                                           scope=MemoryScope(user_id="sam"), source_ids=[peanuts_id])])  # fmt: skip
    client = scripted("Fruit skewers.")
    agent = SimpleResponder("omne", client, store, MemoryScope(user_id="sam"), reflect_every=None, retry=FAST)
    result = await agent.run(task="Which food allergy do I have?")
    [event] = [m for m in result.messages if isinstance(m, MemoryQueryEvent)]
    [item] = [c for c in event.content if c.metadata["id"] == fact.id]
    assert item.metadata["sources"] == [{"id": peanuts_id, "text": "user: Please remember that I am allergic to peanuts."}]
    assert peanuts_id not in [c.metadata["id"] for c in event.content]  # carried by the fact, not a hit of its own
    assert "allergic to peanuts" in prompts_text(client, 0)  # what the event names is what the prompt shows


async def test_another_user_sees_none_of_it(store):
    await _seed(store, "alice", "user: My sister's name is Clara.")
    client = scripted("I don't know.")
    agent = SimpleResponder("omne", client, store, MemoryScope(user_id="bob"), reflect_every=None, retry=FAST)
    result = await agent.run(task="What is my sister's name?")
    assert "Clara" not in prompts_text(client, 0)
    events = [m for m in result.messages if isinstance(m, MemoryQueryEvent)]
    assert events and events[0].content == []


async def test_second_turn_sees_first_turn_in_history(store):
    client = scripted("Nice to meet you, Dana.", "You are Dana.")
    agent = SimpleResponder("omne", client, store, MemoryScope(user_id="dana"), reflect_every=None, retry=FAST)
    await agent.run(task="Hi, I am Dana.")
    await agent.run(task="Who am I?")
    assert "Nice to meet you, Dana." in prompts_text(client, 1)


async def test_streams_chunks_with_run_stream(store):
    client = scripted("streamed answer here")
    agent = SimpleResponder("omne", client, store, MemoryScope(user_id="s"), reflect_every=None, model_client_stream=True)
    items = [item async for item in agent.run_stream(task="hello")]
    chunks = [i.content for i in items if isinstance(i, ModelClientStreamingChunkEvent)]
    assert "".join(chunks) == "streamed answer here"
    assert items[-1].messages[-1].content == "streamed answer here"


async def test_cancellation_stops_the_turn_and_stores_nothing(store):
    class Slow:
        model_info = scripted().model_info

        async def create(self, messages, **kwargs):
            await asyncio.sleep(30)

    token = CancellationToken()
    agent = SimpleResponder("omne", Slow(), store, MemoryScope(user_id="c"), reflect_every=None)  # type: ignore[arg-type]
    task = asyncio.ensure_future(agent.run(task="this will be cancelled", cancellation_token=token))
    await asyncio.sleep(0.3)
    token.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.list(MemoryScope(user_id="c")) == []


async def test_model_fault_gives_a_clear_reply_and_keeps_the_message(store):
    class Down:
        model_info = scripted().model_info

        async def create(self, messages, **kwargs):
            raise ConnectionError("connection refused")

    agent = SimpleResponder("omne", Down(), store, MemoryScope(user_id="f"), reflect_every=None, retry=FAST)  # type: ignore[arg-type]
    result = await agent.run(task="remember that my locker is number 42")
    reply = result.messages[-1]
    assert reply.metadata["status"] == "model_error" and "connection" in reply.content
    stored = await store.list(MemoryScope(user_id="f"))
    assert [r.text for r in stored] == ["user: remember that my locker is number 42"]


async def test_team_agents_share_team_memory_and_keep_private_memory(store):
    team = TeamMemory(user_id="u1", team="research")
    scout = SimpleResponder(
        "scout", scripted("The launch is on May 3."), store, team.access("scout", write="team"), reflect_every=None
    )
    critic = SimpleResponder(
        "critic", scripted("Noted privately: the budget is tight."), store, team.access("critic", write="private"),
        reflect_every=None,
    )  # fmt: skip
    chat = RoundRobinGroupChat([scout, critic], termination_condition=MaxMessageTermination(3))
    await chat.run(task="Plan the launch.")

    shared = {r.text for r in await store.list(team.shared)}
    assert "scout: The launch is on May 3." in shared
    assert not any(t.startswith("critic:") for t in shared)
    private = {r.text for r in await store.list(team.private("critic"))}
    assert "critic: Noted privately: the budget is tight." in private
    assert await store.list(team.private("scout")) == []

    # a later scout reads the team memory but never the critic's private memory
    reader = scripted("ok")
    later = SimpleResponder("scout", reader, store, team.access("scout"), reflect_every=None)
    await later.run(task="When is the launch and how is the budget?")
    seen = prompts_text(reader, 0)
    assert "May 3" in seen and "budget is tight" not in seen


def _reflection(*memories: dict) -> str:
    import json

    defaults = {"supersedes": [], "importance": 0.5, "confidence": 0.8}
    return json.dumps({"memories": [{**defaults, **m} for m in memories]})


async def test_reflection_every_n_turns_creates_l1_records_citing_l0_ids(store):
    client = scripted(
        "Nice, Clara is a lovely name.",
        "Lyon is beautiful.",
        _reflection({"kind": "fact", "text": "The user's sister is called Clara.", "source_ids": ["S1"]},
                    {"kind": "profile", "text": "The user lives in Lyon.", "source_ids": ["S3"]}),
    )  # fmt: skip
    agent = SimpleResponder("omne", client, store, MemoryScope(user_id="ann"), reflect_every=2, retry=FAST)
    await agent.run(task="My sister is called Clara.")
    result = await agent.run(task="I live in Lyon.")

    notes = [m.content for m in result.messages if m.type == "ThoughtEvent"]
    assert notes and "derived 2 L1 record" in notes[0]
    l0 = {r.text: r.id for r in await store.list(MemoryScope(user_id="ann"), kinds=[MemoryKind.MESSAGE])}
    l1 = await store.list(MemoryScope(user_id="ann"), kinds=[MemoryKind.FACT, MemoryKind.PROFILE])
    by_text = {r.text: r for r in l1}
    assert by_text["The user's sister is called Clara."].source_ids == [l0["user: My sister is called Clara."]]
    assert by_text["The user lives in Lyon."].source_ids == [l0["user: I live in Lyon."]]
    assert all(r.level == "L1" and r.scope.session_id is None for r in l1)  # conclusions outlive the session
    # the reflection prompt showed the L0 turns of the session
    assert "My sister is called Clara." in prompts_text(client, 2)


async def test_malformed_reflection_output_changes_no_memory(store):
    # the reflection's replies are not JSON: shown to the model, asked again (FAST allows two attempts), reported
    client = scripted("ok", "The user seems to like cats, probably.", "Cats. Definitely cats.")
    agent = SimpleResponder("omne", client, store, MemoryScope(user_id="cat"), reflect_every=None, retry=FAST)
    await agent.run(task="I have two cats.")
    before = [(r.id, r.version, r.status) for r in await store.list(MemoryScope(user_id="cat"), include_inactive=True)]
    report = await agent.end_session()
    assert report is not None and report.error and "malformed reflection output after 2 attempt(s)" in report.error
    assert report.raw_output == "Cats. Definitely cats."  # what the model wrote is shown as what it is
    assert "That reply was not valid" in prompts_text(client, 2)
    assert not report.changed
    after = [(r.id, r.version, r.status) for r in await store.list(MemoryScope(user_id="cat"), include_inactive=True)]
    assert after == before


async def test_reflection_citing_an_unknown_source_changes_no_memory(store):
    invented = _reflection({"kind": "fact", "text": "Invented.", "source_ids": ["S99"]})
    client = scripted("ok", invented, invented)
    agent = SimpleResponder("omne", client, store, MemoryScope(user_id="inv"), reflect_every=None, retry=FAST)
    await agent.run(task="Hello there.")
    report = await agent.end_session()
    assert report is not None and report.error and not report.changed
    assert await store.list(MemoryScope(user_id="inv"), kinds=[MemoryKind.FACT]) == []


async def test_streaming_fault_before_the_first_chunk_is_retried(store):
    inner = scripted("recovered answer")

    class FlakyStream:
        model_info = inner.model_info
        calls = 0

        async def create_stream(self, messages, **kwargs):
            FlakyStream.calls += 1
            if FlakyStream.calls == 1:
                raise TimeoutError("stream did not start")
            async for chunk in inner.create_stream(messages, **kwargs):
                yield chunk

    agent = SimpleResponder(
        "omne", FlakyStream(), store, MemoryScope(user_id="fs"), reflect_every=None, model_client_stream=True, retry=FAST
    )  # type: ignore[arg-type]
    result = await agent.run(task="hello")
    assert result.messages[-1].content == "recovered answer" and FlakyStream.calls == 2


async def test_memory_leaves_out_the_turns_the_prompt_history_already_shows_and_not_older_ones(store):
    """The demo retrieved the session's previous question for the next one, beside the same text in the history:
    a hit the prompt already shows is left out; once its turn leaves the history window, it may come back."""
    await _seed(store, "sam", "user: My daughter Lea loves dinosaurs.")
    client = scripted("A dinosaur party.", "Fruit.", "Noted.", "Lyon.")
    agent = SimpleResponder("omne", client, store, MemoryScope(user_id="sam"), reflect_every=None, retry=FAST,
                            history_turns=1)  # fmt: skip

    async def retrieved(task: str) -> list[str]:
        result = await agent.run(task=task)
        [event] = [m for m in result.messages if isinstance(m, MemoryQueryEvent)]
        return [str(c.content) for c in event.content]

    assert "user: My daughter Lea loves dinosaurs." in await retrieved("I'm planning my daughter's birthday party.")
    second = await retrieved("Which snack is safe at the birthday party?")
    assert "user: I'm planning my daughter's birthday party." not in second  # the history shows it
    assert "omne: A dinosaur party." not in second and "user: My daughter Lea loves dinosaurs." in second
    assert "I'm planning my daughter's birthday party." in prompts_text(client, 1)  # ... there it is
    third = await retrieved("Anything else for the birthday party?")  # one turn of history: the first has left it
    assert "user: I'm planning my daughter's birthday party." in third
    assert "user: Which snack is safe at the birthday party?" not in third
    state = await agent.save_state()
    assert len(state["history_ids"]) == 2 and all(state["history_ids"])  # the latest turn: question and reply
