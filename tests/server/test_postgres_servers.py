"""Two `omne serve` processes on one PostgreSQL database serve the same tenants at once (real processes, a real
PostgreSQL 16): keys made once work on both, what one writes the other reads, revocation reaches both."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.server.conftest import bearer, create_key, live_server, omne


def test_two_servers_share_tenants_on_postgres(tmp_path, postgres_server, postgres_schema):
    """The tenants' schemas (`<schema>_t_<tenant>`) are dropped with the test's schema by the fixture."""
    env = {"OMNE_STORE__BACKEND": "postgres", "OMNE_STORE__POSTGRES_URL": postgres_server.url,
           "OMNE_STORE__POSTGRES_SCHEMA": postgres_schema, "OMNE_SERVER__KEY_CACHE_S": "0"}  # fmt: skip
    data = tmp_path / "data"  # blobs; records, vectors and keys live in PostgreSQL
    token = create_key(data, "acme", **env)
    other = create_key(data, "globex", **env)
    with live_server(data, **env) as first, live_server(data, **env) as second:

        async def work() -> None:
            async with httpx.AsyncClient(timeout=120) as http:
                async def add(server_url: str, n: int) -> str:
                    rid = uuid.uuid4().hex
                    body = {"id": rid, "kind": "fact", "text": f"fact {n}: the {n}th harbour lantern", "scope": {"user_id": "ann"}}
                    response = await http.post(f"{server_url}/v1/memories", headers=bearer(token), json=body)
                    assert response.status_code == 200, response.text
                    return rid

                ids = await asyncio.gather(*(add(url, n) for n, url in enumerate([first.url, second.url] * 20)))
                for url in (first.url, second.url):  # each sees every record, whichever server wrote it
                    stats = (await http.get(f"{url}/v1/stats", headers=bearer(token), params={"user_id": "ann"})).json()
                    assert stats["total"] == 40
                    got = await http.get(f"{url}/v1/memories/{ids[1 if url == first.url else 0]}", headers=bearer(token))
                    assert got.status_code == 200
                    hits = (await http.post(f"{url}/v1/memories/search", headers=bearer(token),
                                            json={"query": "harbour lantern", "scope": {"user_id": "ann"}})).json()["hits"]  # fmt: skip
                    assert hits and {h["record"]["id"] for h in hits} <= set(ids)
                    foreign = await http.get(f"{url}/v1/memories/{ids[0]}", headers=bearer(other))
                    assert foreign.status_code == 404  # another tenant's schema

                key_id = token.split("_")[1]
                assert omne(data, "keys", "revoke", key_id, **env).returncode == 0
                for url in (first.url, second.url):
                    refused = await http.get(f"{url}/v1/stats", headers=bearer(token), params={"user_id": "ann"})
                    assert refused.status_code == 401

        asyncio.run(work())

