"""Integration: a real `python -m llama_cpp.server` on 127.0.0.1 serving the bundled Gemma GGUF, reached through
the same `create_chat_client` path an `openai_compatible` user (vLLM, Ollama, LM Studio) takes."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from autogen_core.models import CreateResult, SystemMessage, UserMessage

from omne_core.config import ModelProvider, ModelRoleSettings, OmneSettings
from omne_core.models import UsageLedger, create_chat_client

SERVER_EXTRA = ["llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings"]
MISSING = [name for name in SERVER_EXTRA if importlib.util.find_spec(name) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"the `local` extra is absent (llama-cpp-python[server]; missing {', '.join(MISSING)})"
)
ALIAS = "gemma-3-270m"
STARTUP_TIMEOUT_S = 45


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(bundled_gguf: Path, tmp_path_factory) -> Iterator[str]:
    """The server's OpenAI base URL, once `/v1/models` answers."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(bundled_gguf), "--model_alias", ALIAS, "--chat_format", "gemma",
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--verbose", "False",
    ]  # fmt: skip
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base_url}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not ready after {STARTUP_TIMEOUT_S}s:\n{log.read_text()[-2000:]}")
            time.sleep(0.25)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server_role(base_url: str) -> ModelRoleSettings:
    return ModelRoleSettings(
        provider=ModelProvider.OPENAI_COMPATIBLE, model=ALIAS, base_url=base_url, max_tokens=6, temperature=0.0,
        timeout_s=30.0,
    )  # fmt: skip


async def test_completion_through_the_openai_compatible_path(llama_server):
    ledger = UsageLedger()
    client = create_chat_client(server_role(llama_server), settings=OmneSettings(), usage=ledger)
    try:
        messages = [SystemMessage(content="Answer in one word."), UserMessage(content="Name a colour.", source="user")]
        result = await client.create(messages)
    finally:
        await client.close()
    assert isinstance(result.content, str) and result.content.strip()
    assert result.finish_reason in {"stop", "length"}
    assert result.usage.prompt_tokens > 5 and 1 <= result.usage.completion_tokens <= 6
    (record,) = ledger.records()
    assert record.model == ALIAS and record.provider == "openai_compatible" and not record.estimated
    assert (record.prompt_tokens, record.completion_tokens) == (result.usage.prompt_tokens, result.usage.completion_tokens)
    assert record.latency_s > 0 and record.error is None


async def test_streaming_through_the_server_is_recorded(llama_server):
    ledger = UsageLedger()
    client = create_chat_client(server_role(llama_server), settings=OmneSettings(), usage=ledger)
    try:
        chunks = [chunk async for chunk in client.create_stream([UserMessage(content="Count: one, two,", source="user")])]
    finally:
        await client.close()
    final = chunks[-1]
    assert isinstance(final, CreateResult)
    assert "".join(c for c in chunks[:-1] if isinstance(c, str)) == final.content and final.content
    (record,) = ledger.records()
    assert record.streamed and record.prompt_tokens > 0 and record.completion_tokens > 0
    # llama.cpp's server ignores stream_options.include_usage: the counts are then estimated, and marked so.
    assert record.estimated == (final.usage.prompt_tokens == 0)
