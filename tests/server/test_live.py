"""`omne serve` as a real process on a real socket: keys made by `omne keys` while it runs, isolation over real
HTTP, one server per data directory, and a log without keys."""

from __future__ import annotations

import random

import httpx

from omne_server.keys import parse_token
from tests.server.conftest import bearer, create_key, omne
from tests.server.leak_driver import LeakDriver, Tenant, random_tenants, random_users


async def test_real_socket_isolation_subset(live):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    tenants = [Tenant(name, create_key(live.data_dir, name), random_users(rng, ["alice"]))
               for name in random_tenants(rng, 3)]  # fmt: skip
    async with httpx.AsyncClient(base_url=live.url, timeout=60) as client:
        report = await LeakDriver(client, tenants, rng).run(600, concurrency=6)
    assert report.requests >= 600
    assert report.leaks == [] and report.failures == [], f"seed {seed}: {(report.leaks + report.failures)[:5]}"


def test_keys_created_while_serving_work_at_once_and_keyless_is_refused(live):
    token = create_key(live.data_dir, "late")
    assert httpx.get(f"{live.url}/v1/stats", headers=bearer(token), params={"user_id": "a"}, timeout=30).status_code == 200
    refused = httpx.get(f"{live.url}/v1/stats", params={"user_id": "a"}, timeout=30)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"


def test_a_second_server_on_the_same_data_directory_is_refused(live):
    second = omne(live.data_dir, "serve", "--port", "1")
    assert second.returncode == 2
    assert f"pid {live.process.pid}" in second.stderr and "Postgres" in second.stderr


def test_the_server_log_never_shows_a_key(live):
    token = create_key(live.data_dir, "logcheck")
    _, secret = parse_token(token)
    httpx.post(f"{live.url}/v1/memories", headers=bearer(token), timeout=30,
               json={"kind": "message", "text": "hello", "scope": {"user_id": "a"}})  # fmt: skip
    httpx.get(f"{live.url}/v1/memories/nope", headers=bearer(token[:-2] + "zz"), timeout=30)
    httpx.get(f"{live.url}/v1/stats?user_id=a", headers={"Authorization": token}, timeout=30)
    log = live.output()
    assert "POST /v1/memories" in log  # the access log is on
    assert secret not in log and secret[:-2] not in log
