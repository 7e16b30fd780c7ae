"""Server test fixtures: the app in-process (httpx's ASGI transport) and `omne serve` as a real process.

Stores, keys and HTTP are real; the embedding model is the real MiniLM, loaded once per session.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from omne_core.config import OmneSettings, load_settings
from omne_server import create_app
from tests.support.servers import free_port

# `omne` from the tree under test (not whatever console script the environment installed).
OMNE = [sys.executable, "-m", "omne_cli.app"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(tmp_path) -> OmneSettings:
    return load_settings(data_dir=tmp_path / "server-data")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def running_app(settings: OmneSettings, embedder, **options) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    """The app with its lifespan running, and an httpx client talking to it in-process."""
    app = create_app(settings, embedder=embedder, **options)
    async with lifespan_in_own_task(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765", timeout=60) as client:
            yield app, client


@asynccontextmanager
async def lifespan_in_own_task(app) -> AsyncIterator[None]:
    """Run the app's lifespan in one task, as a server does: a fixture's setup and teardown may run in two tasks,
    and the MCP session manager's task group must be entered and left in the same one."""
    started, stopping = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        async with app.router.lifespan_context(app):
            started.set()
            await stopping.wait()

    task = asyncio.create_task(run())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # start-up failed: raise it here
    try:
        yield
    finally:
        stopping.set()
        await task


@pytest.fixture
async def served(settings, embedder):
    """(app, client, read-write token of tenant `acme`)."""
    async with running_app(settings, embedder) as (app, client):
        _, token = await app.state.omne.keys.create("acme")
        yield app, client, token


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    log: Path
    data_dir: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


# installed package name -> folder (pyproject's package-dir): a subprocess imports the tree under test
PACKAGES = {"omne_core": "omne_core", "omne_server": "omne_server", "omne_cli": "omne_cli",
            "omne_assistant": "omne_assistant", "omne_tools": "tools", "omne_eval": "eval"}  # fmt: skip


@functools.cache
def source_path() -> str:
    """A folder of symlinks naming this tree's packages as installed, for a subprocess's PYTHONPATH."""
    shim = Path(tempfile.mkdtemp(prefix="omne-src-"))
    atexit.register(shutil.rmtree, shim, ignore_errors=True)  # removed when the test session ends
    for name, folder in PACKAGES.items():
        (shim / name).symlink_to(ROOT / folder)
    return str(shim)


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNE_")}
    config = data_dir.parent / f"{data_dir.name}.toml"  # empty: OMNE_CONFIG must name an existing file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.touch()
    env.update(OMNE_DATA_DIR=str(data_dir), OMNE_CONFIG=str(config), PYTHONPATH=source_path(),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", **extra)  # fmt: skip
    return env


def omne(data_dir: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    """Run the installed `omne` command against `data_dir`."""
    return subprocess.run([*OMNE, *args], capture_output=True, text=True, timeout=120, env=server_env(data_dir, **extra))


def wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"omne serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"omne serve did not answer within {timeout} s:\n{log.read_text()}")


@contextmanager
def live_server(data_dir: Path, *args: str, **extra: str) -> Iterator[LiveServer]:
    """`omne serve` as a real process on a free 127.0.0.1 port; stopped (SIGTERM, then SIGKILL) afterwards."""
    port = free_port()
    log = data_dir.parent / f"serve-{port}.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*OMNE, "serve", "--port", str(port), *args], stdout=out, stderr=subprocess.STDOUT,
            env=server_env(data_dir, **extra),
        )  # fmt: skip
    server = LiveServer(f"http://127.0.0.1:{port}", process, log, data_dir)
    try:
        wait_healthy(server.url, process, log)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode


def create_key(data_dir: Path, tenant: str, *flags: str, **env: str) -> str:
    result = omne(data_dir, "keys", "create", "--tenant", tenant, *flags, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()



@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Iterator[LiveServer]:
    """One `omne serve` process for the session's real-socket tests (each test makes its own tenants)."""
    data = tmp_path_factory.mktemp("live") / "data"
    data.mkdir()
    create_key(data, "bootstrap")  # a key exists: keyless requests are refused
    with live_server(data) as server:
        yield server
