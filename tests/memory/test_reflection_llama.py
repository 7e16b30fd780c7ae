"""Reflection and session summaries on the REAL bundled Gemma 3 270M (llama.cpp): the JSON schema reaches the
model as a grammar, so even this tiny base model yields schema-valid L1 records citing real L0 ids. What it
writes in them is not checked for sense: it is a smoke-test model."""

from __future__ import annotations

import pytest

from omne_core.memory import L0_KINDS, MemoryKind, MemoryRecord, MemoryScope, reflect, summarize_session
from omne_core.memory.errors import ReflectionError
from omne_core.memory.reflection import DERIVED_KINDS, MAX_CONCLUSION_CHARS
from omne_core.models import RetryPolicy
from omne_core.models.gguf import BUNDLED_FREE_TEXT_ARGS
from tests.support.local_model import requires_local

pytestmark = [requires_local, pytest.mark.llamacpp]

SESSION = MemoryScope(user_id="sam", session_id="session-1")
SEEDS = (7, 8, 9, 10, 11)
TURNS = [  # the demo's first session
    "user: Hi! I'm Sam. I just moved to Lyon for a job as a night nurse at the Croix-Rousse hospital.",
    "user: My daughter Lea turns 7 on March 14, and she is crazy about dinosaurs.",
    "user: Please remember that I am allergic to peanuts.",
]


@pytest.fixture(scope="module")
def gemma(bundled_gguf):
    from omne_core.models import LlamaCppChatClient

    client = LlamaCppChatClient(bundled_gguf, n_ctx=4096)
    requests: list[dict] = []
    # a fixed sampling seed (a test may pick another): the same run on the same build; the schema is what the
    # test relies on
    sampling = {"seed": SEEDS[0]}
    generate = client.llm.create_chat_completion

    def recording(**request):  # what llama.cpp is asked, exactly
        request = {**request, **sampling}
        requests.append(request)
        return generate(**request)

    client.llm.create_chat_completion = recording
    client.requests, client.sampling = requests, sampling
    yield client
    client.llm.create_chat_completion = generate
    client.llm.close()


async def test_reflection_on_the_bundled_model_writes_valid_l1_citing_real_l0(store, gemma):
    turns = await store.add([MemoryRecord(kind=MemoryKind.MESSAGE, text=t, scope=SESSION, metadata={"speaker": "user"})
                             for t in TURNS])  # fmt: skip
    l0_ids = {r.id for r in turns}
    rejected: list[str] = []
    # A fixed seed repeats one sample on every retry, and which sample a seed gives depends on the llama.cpp build
    # (its SIMD path): a few seeds, until one's sample is not rejected (e.g. as a copy of the prompt's example).
    for seed in SEEDS:
        gemma.requests.clear()
        gemma.sampling["seed"] = seed
        try:
            result = await reflect(store, SESSION, gemma, policy=RetryPolicy(max_attempts=1, base_delay_s=0.0))
        except ReflectionError as exc:
            rejected.append(f"seed {seed}: {exc}")
            continue
        if result.created:
            break
        rejected.append(f"seed {seed}: {result.rejected}")
    else:
        pytest.fail(f"no seed of {SEEDS} gave an L1 record: {rejected}")

    schema = gemma.requests[0]["response_format"]["schema"]  # the JSON schema went to llama.cpp as the grammar
    assert gemma.requests[0]["response_format"]["type"] == "json_object"
    assert schema["$defs"]["Conclusion"]["properties"]["source_ids"]["items"]["enum"] == ["S1", "S2", "S3"]
    for record in result.created:
        assert record.kind.value in DERIVED_KINDS and record.level == "L1"
        assert record.source_ids and set(record.source_ids) <= l0_ids  # real L0 ids, never invented
        assert 3 <= len(record.text) <= MAX_CONCLUSION_CHARS
        assert record.scope == MemoryScope(user_id="sam")
        assert (await store.get(record.id)).text == record.text  # stored, and readable back
    print("L1 written by the bundled model:", [(r.kind.value, r.text) for r in result.created])


async def test_session_summary_on_the_bundled_model_is_a_valid_record(store, gemma):
    turns = await store.add([MemoryRecord(kind=MemoryKind.MESSAGE, text=t, scope=SESSION, metadata={"speaker": "user"})
                             for t in TURNS])  # fmt: skip
    summary = await summarize_session(store, SESSION, gemma, policy=RetryPolicy(max_attempts=3, base_delay_s=0.0),
                                      create_args=BUNDLED_FREE_TEXT_ARGS)  # as `omne demo` asks: 6 seeds of 10 loop without
    assert summary.kind is MemoryKind.SUMMARY and summary.text.strip()  # worded, not looping (`SessionSummary`)
    assert gemma.requests[-1]["repeat_penalty"] == BUNDLED_FREE_TEXT_ARGS["repeat_penalty"]
    assert summary.source_ids == [r.id for r in turns]
    assert [(await store.get(i)).kind in L0_KINDS for i in summary.source_ids] == [True] * len(TURNS)
    print("summary written by the bundled model:", summary.text)
