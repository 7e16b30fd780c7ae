"""Tenants and keys: `omne keys`, hashed storage, 401/403, revocation, keyless local mode, no key in any log."""

from __future__ import annotations

import logging

import pytest

from omne_server.keys import SqliteKeyStore, parse_token
from omne_server.run import ServeError, check_listen_address, is_loopback
from omne_server.tenants import server_dir
from tests.server.conftest import bearer, create_key, omne, running_app
from tests.server.test_rest import assert_problem, record


def test_keys_cli_creates_shows_once_lists_and_revokes(tmp_path):
    data = tmp_path / "data"
    token = create_key(data, "acme", "--read-only")
    key_id, secret = parse_token(token)
    listed = omne(data, "keys", "list")
    assert key_id in listed.stdout and "read-only" in listed.stdout and secret not in listed.stdout
    stored = (data / "server" / "keys.sqlite3").read_bytes() + b"".join(
        p.read_bytes() for p in (data / "server").glob("keys.sqlite3-*"))  # fmt: skip
    assert secret.encode() not in stored and token.encode() not in stored  # only a hash is kept
    revoked = omne(data, "keys", "revoke", key_id)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert key_id not in omne(data, "keys", "list").stdout
    assert "revoked" in omne(data, "keys", "list", "--all").stdout
    bad = omne(data, "keys", "create", "--tenant", "../etc")
    assert bad.returncode == 1 and "tenant must match" in bad.stderr
    assert omne(data, "keys", "revoke", "ffffffffffff").returncode == 1


async def test_no_key_bad_key_and_malformed_headers_answer_401(served):
    app, client, token = served
    key_id, secret = parse_token(token)
    wrong_secret = f"omne_{key_id}_{secret[::-1]}"
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"},
                    bearer("not-a-key"), bearer(wrong_secret), bearer(f"omne_000000000000_{secret}")):  # fmt: skip
        response = await client.post("/v1/memories/search", headers=headers, json={"query": "x", "scope": {"user_id": "a"}})
        problem = assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert secret not in response.text and secret[::-1] not in problem["detail"]
    assert (await client.get("/v1/memories", headers=bearer(token), params={"user_id": "a"})).status_code == 200


async def test_read_only_keys_read_but_cannot_write(served):
    app, client, token = served
    _, reader = await app.state.omne.keys.create("acme", read_only=True)
    [rec] = (await client.post("/v1/memories", headers=bearer(token), json=record("readable"))).json()["records"]
    r = bearer(reader)
    assert (await client.get(f"/v1/memories/{rec['id']}", headers=r)).status_code == 200
    assert (await client.post("/v1/memories/search", headers=r, json={"query": "readable", "scope": {"user_id": "alice"}})).status_code == 200
    assert (await client.get("/v1/export", headers=r, params={"user_id": "alice"})).status_code == 200
    writes = [
        client.post("/v1/memories", headers=r, json=record("nope")),
        client.patch(f"/v1/memories/{rec['id']}", headers=r, json={"text": "changed"}),
        client.delete(f"/v1/memories/{rec['id']}", headers=r),
        client.post("/v1/memories/delete", headers=r, json={"ids": [rec["id"]]}),
        client.post(f"/v1/memories/{rec['id']}/supersede", headers=r, json={"by": rec["id"]}),
        client.delete("/v1/users/alice", headers=r),
        client.post("/v1/import", headers=r, content=b""),
        client.post("/v1/blobs", headers=r, content=b"bytes"),
        client.post("/v1/ingest", headers=r, files=[("files", ("a.txt", b"text", "text/plain"))], data={"user_id": "alice"}),
        client.post("/v1/reflect", headers=r, json={"scope": {"user_id": "alice"}}),
    ]
    for response in [await w for w in writes]:
        assert_problem(response, 403, "read_only_key")
    after = (await client.get(f"/v1/memories/{rec['id']}", headers=bearer(token))).json()
    assert after["text"] == "readable" and after["status"] == "active" and after["version"] == 1


async def test_a_revoked_key_is_refused(settings, embedder):
    no_cache = settings.model_copy(update={"server": settings.server.model_copy(update={"key_cache_s": 0})})
    async with running_app(no_cache, embedder) as (app, client):
        key, token = await app.state.omne.keys.create("acme")
        assert (await client.get("/v1/stats", headers=bearer(token), params={"user_id": "a"})).status_code == 200
        await app.state.omne.keys.revoke(key.key_id)
        assert_problem(await client.get("/v1/stats", headers=bearer(token), params={"user_id": "a"}), 401, "unauthorized")


async def test_a_cached_key_is_refused_as_soon_as_another_process_revokes_it(settings, embedder):
    cached = settings.model_copy(update={"server": settings.server.model_copy(update={"key_cache_s": 3600})})
    async with running_app(cached, embedder) as (app, client):
        keys = app.state.omne.keys
        key, token = await keys.create("acme")
        lookups = []
        real_lookup = keys.lookup

        async def counted(key_id):
            lookups.append(key_id)
            return await real_lookup(key_id)

        keys.lookup = counted
        for _ in range(3):
            assert (await client.get("/v1/stats", headers=bearer(token), params={"user_id": "a"})).status_code == 200
        assert len(lookups) == 1  # verified once, then trusted while the key table is unchanged
        other = SqliteKeyStore(server_dir(settings) / "keys.sqlite3")  # another connection, as `omne keys revoke`
        await other.revoke(key.key_id)
        await other.close()
        assert_problem(await client.get("/v1/stats", headers=bearer(token), params={"user_id": "a"}), 401, "unauthorized")
        _, fresh = await keys.create("acme")  # a change made through the server's own connection is seen too
        assert (await client.get("/v1/stats", headers=bearer(fresh), params={"user_id": "a"})).status_code == 200


async def test_keyless_local_mode_ends_when_a_key_exists(settings, embedder):
    no_cache = settings.model_copy(update={"server": settings.server.model_copy(update={"key_cache_s": 0})})
    async with running_app(no_cache, embedder, allow_open=True) as (app, client):
        added = await client.post("/v1/memories", json=record("local note"))
        assert added.status_code == 200
        assert "[key local]" in (await client.get(f"/v1/memories/{added.json()['records'][0]['id']}/history")).text
        _, token = await app.state.omne.keys.create("default")
        assert_problem(await client.get("/v1/stats", params={"user_id": "alice"}), 401, "unauthorized")
        stats = await client.get("/v1/stats", headers=bearer(token), params={"user_id": "alice"})
        assert stats.json()["total"] == 1  # keyless mode wrote into tenant `default`
    async with running_app(no_cache.model_copy(update={"data_dir": no_cache.data_dir / "x"}), embedder) as (_, closed):
        assert_problem(await closed.get("/v1/stats", params={"user_id": "alice"}), 401, "unauthorized")


async def test_keys_never_reach_the_logs(served, caplog):
    app, client, token = served
    caplog.set_level(logging.DEBUG)
    _, secret = parse_token(token)
    await client.post("/v1/memories", headers=bearer(token), json=record("logged?"))
    await client.get("/v1/memories/missing", headers=bearer(token))
    await client.get("/v1/stats", headers=bearer(token[:-1] + "x"), params={"user_id": "a"})
    await client.get("/v1/stats", headers={"Authorization": f"Token {token}"}, params={"user_id": "a"})
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert secret not in logged and secret[:-1] not in logged


def test_refuses_a_non_loopback_address_without_keys(tmp_path):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.8.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.org")
    with pytest.raises(ServeError, match="no API key"):
        check_listen_address("0.0.0.0", has_keys=False)
    check_listen_address("0.0.0.0", has_keys=True)
    check_listen_address("127.0.0.1", has_keys=False)
    refused = omne(tmp_path / "data", "serve", "--host", "0.0.0.0", "--port", "1")
    assert refused.returncode == 2 and "refusing to listen on 0.0.0.0" in refused.stderr


async def test_key_store_keeps_hashes_and_tenants_apart(tmp_path):
    keys = SqliteKeyStore(tmp_path / "keys.sqlite3")
    try:
        a, token_a = await keys.create("alpha")
        b, _ = await keys.create("beta", read_only=True, label="dashboard")
        assert [k.key_id for k in await keys.list("alpha")] == [a.key_id]
        assert {k.tenant for k in await keys.list()} == {"alpha", "beta"}
        stored = await keys.lookup(a.key_id)
        assert stored is not None and stored.secret_hash != parse_token(token_a)[1] and len(stored.secret_hash) == 64
        assert (await keys.lookup(b.key_id)).key.read_only
        assert await keys.lookup("000000000000") is None
    finally:
        await keys.close()
