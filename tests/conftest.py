"""Test-wide settings: everything offline, every data directory under tmp_path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from tests.support.local_model import LOCAL_EXTRA_MISSING, SERVER_MISSING, llama_server  # noqa: E402
from tests.support.postgres import POSTGRES_MISSING, TestPostgres, drop_schema, fresh_schema, running_postgres  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_omne_env(tmp_path, monkeypatch):
    """No test reads the developer's omne.toml, data directory or API keys. Each test has its own (empty)
    omne.toml: $OMNE_CONFIG must name an existing file."""
    for name in list(os.environ):
        if name.startswith("OMNE_") or name in {"OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "LLAMA_CLOUD_API_KEY", "HF_TOKEN"}:
            monkeypatch.delenv(name, raising=False)
    config = tmp_path / "omne.toml"
    config.touch()
    monkeypatch.setenv("OMNE_CONFIG", str(config))
    monkeypatch.setenv("OMNE_DATA_DIR", str(tmp_path / "omne-data"))
    yield


@pytest.fixture(scope="session")
def shared_data_dir(tmp_path_factory) -> Path:
    """A data directory that lives for the whole session."""
    return tmp_path_factory.mktemp("omne-shared-data")


@pytest.fixture(scope="session")
def bundled_gguf() -> Path:
    """The bundled GGUF in the machine's model cache (`$XDG_CACHE_HOME/omne/models`), as Omne itself uses it:
    assembled once per machine, not per test run."""
    if LOCAL_EXTRA_MISSING:
        pytest.skip(f"the `local` extra is absent (missing {', '.join(LOCAL_EXTRA_MISSING)})")
    from omne_core.models import bundled_gguf_path

    return bundled_gguf_path()


@pytest.fixture(scope="module")
def llama_server_url(bundled_gguf, tmp_path_factory) -> Iterator[str]:
    """OpenAI base URL of a llama.cpp server on the bundled GGUF, started for the module's tests."""
    if SERVER_MISSING:
        pytest.skip(f"the `local` extra is absent (llama-cpp-python[server]; missing {', '.join(SERVER_MISSING)})")
    with llama_server(bundled_gguf, tmp_path_factory.mktemp("llama-server") / "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TestPostgres]:
    """PostgreSQL 16 + pgvector for the session: pgserver's bundled server (stopped at the end), or the server
    named by OMNE_TEST_POSTGRES_URL."""
    if POSTGRES_MISSING:
        pytest.skip(f"the `postgres` extra is absent (missing {', '.join(POSTGRES_MISSING)})")
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_schema(postgres_server) -> Iterator[str]:
    """A schema of the test's own on the session's server (dropped after the test): tests never share data."""
    schema = fresh_schema()
    yield schema
    for (name,) in postgres_server.admin("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", f"{schema}%"):
        drop_schema(postgres_server, name)  # the test's schema and any it made beside it


@pytest.fixture(scope="session")
def embedder():
    """The local MiniLM embedding model, loaded once for the session (stores in tests share it)."""
    from omne_core.embeddings import LocalEmbedder

    model = LocalEmbedder()
    model.embed(["warm up"])
    return model
