"""A real PostgreSQL (16, with pgvector) for tests: `pgserver`'s bundled server on a unix socket in a temp dir,
or the server `OMNE_TEST_POSTGRES_URL` names. Each test gets a schema of its own (`fresh_schema`).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

TEST_URL_ENV = "OMNE_TEST_POSTGRES_URL"
POSTGRES_MISSING = [name for name in ("psycopg", "psycopg_pool", "pgvector") if importlib.util.find_spec(name) is None]
PGSERVER_MISSING = importlib.util.find_spec("pgserver") is None

requires_postgres = pytest.mark.skipif(
    bool(POSTGRES_MISSING),
    reason=f"the `postgres` extra is absent (missing {', '.join(POSTGRES_MISSING)}): pip install 'omne[postgres]'",
)


class TestPostgres:
    """One running server: its URL, and (for the bundled server) a restart while tests hold connections."""

    def __init__(self, url: str, pgdata: Path | None = None, server: Any = None) -> None:
        self.url = url
        self.pgdata = pgdata
        self._server = server  # pgserver's PostgresServer, None for an external server

    @property
    def restartable(self) -> bool:
        return self._server is not None

    def _pg_ctl(self, *args: str, timeout: float = 60) -> None:
        from pgserver import pg_ctl

        pg_ctl(list(args), pgdata=self.pgdata, user=self._server.system_user, timeout=timeout)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`immediate`: as a crash would, no checkpoint; `fast`: a clean shutdown)."""
        if not self.restartable:
            raise RuntimeError(f"the server named by {TEST_URL_ENV} cannot be stopped by the tests")
        self._pg_ctl("-w", "-m", mode, "stop")

    def start(self) -> None:
        """Start it again with the options it last ran with (pg_ctl keeps them in postmaster.opts)."""
        opts = (self.pgdata / "postmaster.opts").read_text().split(" ", 1)[1].strip()
        options = [arg.strip('"') for arg in opts.split('" "')]
        # postmaster.opts is `<postgres binary> "-D" "<pgdata>" "-h" "" "-k" "<socket dir>"`: keep -h/-k.
        sockets = options[options.index("-k") + 1]
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {sockets}", "-l", str(self.pgdata / "log"), "start")

    def restart(self, mode: str = "immediate", down_s: float = 0.0) -> None:
        """Stop the server (by default as a crash would), wait `down_s`, and start it again."""
        self.stop(mode)
        time.sleep(down_s)
        self.start()

    def url_with_password(self, password: str) -> str:
        """The URL with `password` in its user info, to check it is never shown (the bundled server trusts local
        connections, so any password is accepted; an external server's URL is returned as it is)."""
        return self.url.replace("postgresql://postgres:@", f"postgresql://postgres:{password}@", 1)

    def admin(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run one statement on a fresh autocommit connection; rows if it returns any."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(sql, params or None)
            return cur.fetchall() if cur.description else []


@contextmanager
def running_postgres() -> Iterator[TestPostgres]:
    """The server named by OMNE_TEST_POSTGRES_URL, else pgserver's PostgreSQL in a new temp dir (stopped and
    removed at the end). Not under pytest's basetemp: as root, pgserver runs the server as another user, and a
    pytest session starting meanwhile resets that tree to mode 0700."""
    external = os.environ.get(TEST_URL_ENV)
    if external:
        yield TestPostgres(external)
        return
    if PGSERVER_MISSING:
        pytest.skip(f"no PostgreSQL for the tests: install the `pgserver` wheel (omne[dev]) or set {TEST_URL_ENV}")
    import pgserver

    root = Path(tempfile.mkdtemp(prefix="omne-test-pg-"))
    pgdata = root / "pgdata"
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    handle = TestPostgres(server.get_uri(), pgdata, server)
    handle.admin("CREATE EXTENSION IF NOT EXISTS vector")
    try:
        yield handle
    finally:
        try:
            handle.stop("fast")
        except subprocess.CalledProcessError:
            pass  # already stopped (a test that stopped it failed before starting it again)
        atexit.unregister(server._cleanup)  # stopped here: pgserver's own exit hook would only log a failure
        shutil.rmtree(root, ignore_errors=True)


def fresh_schema() -> str:
    """A new schema name no other test (or test run sharing the server) uses; the caller drops it."""
    return f"omne_test_{secrets.token_hex(6)}"


def drop_schema(server: TestPostgres, schema: str) -> None:
    server.admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
