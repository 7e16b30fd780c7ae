"""The key table on PostgreSQL: shared by every server process of a deployment (real PostgreSQL 16)."""

from __future__ import annotations

import asyncio
import logging
import secrets

import pytest
from pydantic import SecretStr

from omne_core.config import StoreBackend, load_settings
from omne_core.errors import ConfigurationError
from omne_server.app import open_key_store
from omne_server.auth import Authenticator
from omne_server.keys import parse_token
from omne_server.problems import ApiProblem
from omne_server.tenants import TenantStores


def postgres_settings(tmp_path, url: str, schema: str):
    settings = load_settings(data_dir=tmp_path / "data")
    store = settings.store.model_copy(update={"backend": StoreBackend.POSTGRES, "postgres_url": SecretStr(url),
                                              "postgres_schema": schema})  # fmt: skip
    return settings.model_copy(update={"store": store})


async def test_two_server_processes_share_one_key_table(tmp_path, postgres_server, postgres_schema):
    settings = postgres_settings(tmp_path, postgres_server.url, postgres_schema)
    first, second = open_key_store(settings), open_key_store(settings)  # as two processes would
    try:
        assert not await second.has_active_keys()
        key, token = await first.create("acme", label="worker")
        _, reader = await first.create("acme", read_only=True)
        assert [k.key_id for k in await second.list("acme")][0] == key.key_id
        assert await second.has_active_keys()
        rows = postgres_server.admin(f'SELECT secret_hash FROM "{postgres_schema}".api_keys')
        secret = parse_token(token)[1]
        assert len(rows) == 2 and all(secret not in row[0] for row in rows)  # only digests are stored

        auth_a = Authenticator(first, cache_s=0)
        auth_b = Authenticator(second, cache_s=0)
        assert (await auth_b.authenticate(f"Bearer {token}")).tenant == "acme"
        assert (await auth_a.authenticate(f"Bearer {reader}")).read_only
        await second.revoke(key.key_id)  # revoked through the other process
        with pytest.raises(ApiProblem) as refused:
            await auth_a.authenticate(f"Bearer {token}")
        assert refused.value.status == 401
        assert {k.key_id for k in await first.list(include_revoked=True)} >= {key.key_id}
        assert key.key_id not in {k.key_id for k in await first.list()}
    finally:
        await first.close()
        await second.close()


def test_tenants_map_to_schemas_of_their_own(tmp_path):
    settings = postgres_settings(tmp_path, "postgresql://u:p@127.0.0.1/db", "omne")
    stores = TenantStores(settings)
    acme, globex = stores.settings_for("acme"), stores.settings_for("globex")
    assert (acme.store.postgres_schema, globex.store.postgres_schema) == ("omne_t_acme", "omne_t_globex")
    assert acme.data_dir != globex.data_dir  # blobs stay apart too
    long = postgres_settings(tmp_path, "postgresql://u:p@127.0.0.1/db", "a" * 30)
    with pytest.raises(ConfigurationError, match="63"):
        TenantStores(long).settings_for("t" * 40)
    no_url = load_settings(data_dir=tmp_path).model_copy(
        update={"store": load_settings().store.model_copy(update={"backend": StoreBackend.POSTGRES})})
    with pytest.raises(ConfigurationError, match="POSTGRES_URL"):
        open_key_store(no_url)


async def test_a_restarted_database_is_a_clear_error_then_the_keys_are_back(tmp_path, postgres_server, postgres_schema, caplog):
    """The key table's pool, like the store's: while the server is down a call fails with a clear error naming
    it (password masked, in the error and in every log line); after the restart the next call succeeds."""
    from omne_core.memory.backends.postgres import PostgresUnavailableError

    if not postgres_server.restartable:
        pytest.skip("the server named by OMNE_TEST_POSTGRES_URL is not restarted by tests")
    caplog.set_level(logging.DEBUG)
    password = f"pw-{secrets.token_hex(6)}"
    settings = postgres_settings(tmp_path, postgres_server.url_with_password(password), postgres_schema)
    settings = settings.model_copy(update={"store": settings.store.model_copy(update={"postgres_wait_s": 5.0})})
    keys = open_key_store(settings)
    try:
        key, _ = await keys.create("acme")
        await asyncio.to_thread(postgres_server.stop, "immediate")
        try:
            with pytest.raises(PostgresUnavailableError) as down:
                await keys.list("acme")
            assert password not in str(down.value) and "**********" in str(down.value)
        finally:
            await asyncio.to_thread(postgres_server.start)
        assert [k.key_id for k in await keys.list("acme")] == [key.key_id]
    finally:
        await keys.close()
    assert password not in caplog.text
