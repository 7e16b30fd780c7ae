"""Tenant isolation under a randomized workload: ≥ 10,000 requests in-process (httpx's ASGI transport, the
real app and stores), none of which may see another tenant's records, ids or texts. The vectors come from a hash
of the text (tests/support/embedders.py), so 10,000 requests take seconds, not minutes of MiniLM on a shared CPU."""

from __future__ import annotations

import random
from collections import Counter

from tests.server.conftest import running_app
from tests.server.leak_driver import LeakDriver, Tenant, random_tenants, random_users
from tests.support.embedders import HashEmbedder


async def test_no_tenant_sees_another_over_10000_requests(settings):
    embedder = HashEmbedder()  # what the vectors mean is beside the point here; every store and request path is real
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    async with running_app(settings, embedder) as (app, client):
        tenants = []
        for name in random_tenants(rng, 4):
            _, token = await app.state.omne.keys.create(name)
            tenants.append(Tenant(name, token, random_users(rng, ["alice", "bob"])))
        report = await LeakDriver(client, tenants, rng).run(10_000, concurrency=8)
    assert report.requests >= 10_000, report.requests
    assert report.leaks == [], f"seed {seed}: {report.leaks[:5]}"
    assert report.failures == [], f"seed {seed}: {report.failures[:5]}"
    # The workload did what it claims: foreign ids were tried in every way, and tenants share user names.
    assert report.by_action["search"] > 500 and report.by_action["foreign_get"] > 300
    assert {"foreign_patch", "foreign_delete", "foreign_get_history", "foreign_post_supersede"} <= set(report.by_action)
    assert all(any(owner == "alice" for owner, _ in t.records.values()) for t in tenants)
    owners = Counter(rid for t in tenants for rid in t.records)
    shared = sum(1 for count in owners.values() if count > 1)
    assert shared > 20  # the same id in two tenants: each got its own record back, never the other's
    print(f"seed {seed}: {report.requests} requests {dict(report.by_action)}; ids in two tenants: {shared}")
