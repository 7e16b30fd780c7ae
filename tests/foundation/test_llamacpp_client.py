"""The embedded llama.cpp client on the bundled Gemma GGUF: message rendering, streaming, cancellation, concurrency."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest
from autogen_core import CancellationToken, FunctionCall, Image
from autogen_core.models import (
    AssistantMessage,
    CreateResult,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    SystemMessage,
    UserMessage,
)

from tests.support.local_model import requires_local
from tests.support.tree import tree_pythonpath

pytestmark = requires_local


@pytest.fixture(scope="module")
def llama(bundled_gguf):
    from omne_core.models import LlamaCppChatClient

    client = LlamaCppChatClient(bundled_gguf, n_ctx=1024, default_create_args={"max_tokens": 4, "temperature": 0.0})
    yield client
    client.llm.close()


def test_messages_render_as_alternating_text_turns(llama):
    messages = [
        SystemMessage(content="You are terse."),
        UserMessage(content="What is 6*7?", source="user"),
        AssistantMessage(content=[FunctionCall(id="c1", name="calc", arguments='{"x": "6*7"}')], source="a"),
        FunctionExecutionResultMessage(content=[FunctionExecutionResult(content="42", name="calc", call_id="c1")]),
        UserMessage(content="So?", source="user"),
        SystemMessage(content="Answer with a number."),
        AssistantMessage(content="42", thought="6*7=42", source="a"),
    ]
    turns = llama.to_llama_messages(messages)
    assert [turn["role"] for turn in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[0]["content"] == "You are terse.\n\nAnswer with a number.\n\nWhat is 6*7?"  # gemma: no system turns
    assert turns[1]["content"] == '[tool call c1] calc({"x": "6*7"})'
    assert turns[2]["content"] == "[tool result c1] calc: 42\n\nSo?"
    assert turns[3]["content"] == "6*7=42\n42"


def test_images_are_refused_by_a_text_model(llama):
    from PIL import Image as PILImage

    picture = Image(PILImage.new("RGB", (8, 8)))
    with pytest.raises(ValueError, match="cannot read images"):
        llama.to_llama_messages([UserMessage(content=["look", picture], source="user")])


async def test_create_reports_exact_usage(llama):
    messages = [UserMessage(content="The capital of France is", source="user")]
    result = await llama.create(messages)
    request = llama._request(messages, [], "auto", None, {})
    reference = llama.llm.create_chat_completion(**request)  # llama.cpp's own non-streamed accounting
    assert result.usage.prompt_tokens == reference["usage"]["prompt_tokens"]
    assert result.usage.completion_tokens == reference["usage"]["completion_tokens"] == 4
    assert result.finish_reason == "length"
    assert llama.total_usage().completion_tokens >= 4


async def test_stream_yields_text_then_the_result(llama):
    chunks = [c async for c in llama.create_stream([UserMessage(content="One, two, three,", source="user")])]
    final = chunks[-1]
    assert isinstance(final, CreateResult) and all(isinstance(c, str) for c in chunks[:-1])
    assert "".join(chunks[:-1]) == final.content
    assert final.usage.completion_tokens == 4


async def test_json_output_is_grammar_constrained(llama):
    result = await llama.create(
        [UserMessage(content="Give a JSON object.", source="user")], json_output=True, extra_create_args={"max_tokens": 3}
    )
    assert isinstance(result.content, str) and result.content.lstrip().startswith("{")


async def test_cancellation_stops_generation_and_frees_the_model(llama):
    token = CancellationToken()
    task = asyncio.create_task(
        llama.create([UserMessage(content="Tell a long story.", source="user")], extra_create_args={"max_tokens": 1000},
                     cancellation_token=token)
    )  # fmt: skip
    await asyncio.sleep(0.5)
    started = time.perf_counter()
    token.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - started < 5.0  # generation stopped, not 1000 tokens later
    result = await llama.create([UserMessage(content="Hi", source="user")])  # the lock was released
    assert result.usage.completion_tokens == 4


async def test_concurrent_calls_are_serialised(llama):
    results = await asyncio.gather(
        *(llama.create([UserMessage(content=f"Number {i}:", source="user")]) for i in range(3))
    )
    assert [r.usage.completion_tokens for r in results] == [4, 4, 4]


async def test_structured_output_schema_is_passed(llama):
    from pydantic import BaseModel

    class Answer(BaseModel):
        n: int

    request = llama._request([UserMessage(content="x", source="u")], [], "auto", Answer, {})
    assert request["response_format"]["schema"] == Answer.model_json_schema()
    assert json.loads(json.dumps(request["messages"])) == [{"role": "user", "content": "x"}]


async def test_round_trips_as_an_autogen_component(llama):
    from autogen_core.models import ChatCompletionClient

    from omne_core.models import LlamaCppChatClient

    config = llama.dump_component()
    assert config.provider == "omne_core.models.LlamaCppChatClient"
    loaded = ChatCompletionClient.load_component(config)
    try:
        assert isinstance(loaded, LlamaCppChatClient)
        assert loaded.model_path == llama.model_path and loaded.chat_format == "gemma"
        assert loaded.context_window == 1024
        result = await loaded.create([UserMessage(content="Hi", source="user")])
        assert result.usage.completion_tokens == 4  # the default max_tokens came along
    finally:
        loaded.llm.close()


def test_llama_cpp_warnings_reach_the_log_not_the_terminal(bundled_gguf):
    """llama-cpp-python numbers ggml's log levels wrongly (its ERROR is ggml's WARN), so its warnings printed through
    `verbose=False`; a fresh process loading the model prints nothing, and the warning is on the `llama_cpp` logger."""
    script = (
        "import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format='%(name)s %(message)s')\n"
        "from omne_core.models import LlamaCppChatClient\n"
        f"LlamaCppChatClient({str(bundled_gguf)!r}, n_ctx=512)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": tree_pythonpath()})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "llama_" not in done.stderr and "SWA" not in done.stderr, done.stderr
    assert any(line.startswith("llama_cpp ") and "SWA" in line for line in done.stdout.splitlines()), done.stdout
