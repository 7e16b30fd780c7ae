"""`serve()`: run the server under uvicorn — the safety checks first, then a graceful SIGTERM.

- A non-loopback address with no API key configured is refused (anyone on the network could write).
- With the embedded backend one server process owns a data directory (embedded stores are single-process):
  a lock file names the holder, and a second server fails with a message saying how to run several
  (Postgres, where any number of server processes share the database and the key table).
- SIGTERM: uvicorn stops accepting, lets in-flight requests finish (up to `graceful_shutdown_s`), then
  the stores close.
"""

from __future__ import annotations

import asyncio
import fcntl
import ipaddress
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from omne_core.config import OmneSettings, StoreBackend
from omne_core.errors import OmneError

from .app import create_app, open_key_store
from .tenants import server_dir

logger = logging.getLogger(__name__)


class ServeError(OmneError, RuntimeError):
    """The server cannot start as asked (unsafe address, data directory in use, ...)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


@contextmanager
def data_dir_lock(folder: Path) -> Iterator[None]:
    """Hold `folder/server.lock` exclusively while serving; a second holder gets a `ServeError`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "server.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text(encoding="utf-8", errors="replace").strip() or "another process"
            raise ServeError(
                f"another Omne server ({holder}) already serves {folder.parent}: one server process owns an "
                "embedded data directory. Talk to that server, give this one another OMNE_DATA_DIR, or use "
                "the Postgres backend to run several servers on one memory."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def check_listen_address(host: str, has_keys: bool) -> None:
    if not has_keys and not is_loopback(host):
        raise ServeError(
            f"refusing to listen on {host}: no API key is configured, so anyone who can reach it could read and "
            "write memory. Create a key first (`omne keys create --tenant NAME`) or listen on 127.0.0.1."
        )


def serve(settings: OmneSettings, *, host: str | None = None, port: int | None = None, log_level: str = "info") -> None:
    """Run `omne serve` in this process until SIGINT/SIGTERM."""
    import uvicorn

    from omne_core.embeddings import CoalescingEmbedder, build_embedder

    host = host or settings.server.host
    port = settings.server.port if port is None else port
    keys = open_key_store(settings)
    has_keys = asyncio.run(keys.has_active_keys())
    check_listen_address(host, has_keys)
    lock = data_dir_lock(server_dir(settings)) if settings.store.backend is StoreBackend.EMBEDDED else nullcontext()
    with lock:
        embedder = CoalescingEmbedder(build_embedder(settings.embedding))  # concurrent requests share an encode
        embedder.embed(["warm up"])  # load the model before the first request, not during it
        if not has_keys:
            logger.warning("no API key configured: keyless requests on %s act as tenant 'default'", host)
        app = create_app(settings, keys=keys, embedder=embedder, allow_open=is_loopback(host))
        config = uvicorn.Config(
            app, host=host, port=port, log_level=log_level, lifespan="on",
            timeout_graceful_shutdown=int(settings.server.graceful_shutdown_s) or None,
            server_header=False,
        )  # fmt: skip
        uvicorn.Server(config).run()
