"""A randomized multi-tenant workload that checks every response for data of another tenant.

Each tenant's texts carry its own marker (`zq<tenant>zq`); users share names across tenants; some records
of one tenant reuse the id of another tenant's record. Every response is checked: no marker or id of
another tenant appears in it, reads of another tenant's ids answer 404 (unless this tenant has a record
with that id, which it then gets), and lists, searches and stats see exactly this tenant's records.
"""

from __future__ import annotations

import asyncio
import random
import string
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import httpx

WORDS = "garden river coffee violin mountain ticket lantern orchard harbor pepper candle meadow".split()


@dataclass
class Tenant:
    name: str
    token: str
    users: list[str]
    records: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (user, text)

    @property
    def marker(self) -> str:
        return f"zq{self.name}zq"


@dataclass
class LeakReport:
    requests: int = 0
    by_action: Counter = field(default_factory=Counter)
    leaks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def random_tenants(rng: random.Random, count: int) -> list[str]:
    return [f"t{i}_{''.join(rng.choices(string.ascii_lowercase, k=5))}" for i in range(count)]


def random_users(rng: random.Random, shared: list[str]) -> list[str]:
    own = [f"user_{''.join(rng.choices(string.ascii_lowercase, k=4))}" for _ in range(rng.randint(1, 3))]
    return shared + own


class LeakDriver:
    def __init__(self, client: httpx.AsyncClient, tenants: list[Tenant], rng: random.Random) -> None:
        self.client, self.tenants, self.rng = client, tenants, rng
        self.report = LeakReport()
        self._locks = {t.name: asyncio.Lock() for t in tenants}

    # -- checks ----------------------------------------------------------------------------------
    def _check_foreign(self, tenant: Tenant, action: str, text: str) -> None:
        for other in self.tenants:
            if other is not tenant and other.marker in text:
                self.report.leaks.append(f"{action}: {tenant.name} saw {other.marker}")

    def _fail(self, action: str, response: httpx.Response, expected: str) -> None:
        self.report.failures.append(f"{action}: expected {expected}, got {response.status_code} {response.text[:200]}")

    async def _call(self, tenant: Tenant, action: str, method: str, url: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {tenant.token}"}
        response = await self.client.request(method, url, headers=headers, **kwargs)
        self.report.requests += 1
        self.report.by_action[action] += 1
        self._check_foreign(tenant, action, response.text)
        return response

    def _foreign_id(self, tenant: Tenant) -> str | None:
        ids = [rid for other in self.tenants if other is not tenant for rid in other.records if rid not in tenant.records]
        return self.rng.choice(ids) if ids else None

    # -- actions ---------------------------------------------------------------------------------
    async def add(self, tenant: Tenant) -> None:
        user = self.rng.choice(tenant.users)
        batch = []
        async with self._locks[tenant.name]:  # the foreign ids are chosen under the lock: no concurrent add took one
            for _ in range(self.rng.randint(1, 3)):
                reuse = self._foreign_id(tenant) if self.rng.random() < 0.15 else None
                rid = reuse if reuse and all(reuse != r["id"] for r in batch) else uuid.uuid4().hex
                text = f"{tenant.marker} {' '.join(self.rng.choices(WORDS, k=4))} {uuid.uuid4().hex[:6]}"
                batch.append({"id": rid, "kind": "message", "text": text, "scope": {"user_id": user}})
            response = await self._call(tenant, "add", "POST", "/v1/memories", json={"records": batch})
            if response.status_code != 200:
                self._fail("add", response, "200")
                return
            for item in response.json()["records"]:
                tenant.records[item["id"]] = (item["scope"]["user_id"], item["text"])

    async def get_own(self, tenant: Tenant) -> None:
        if not tenant.records:
            return
        rid = self.rng.choice(list(tenant.records))
        response = await self._call(tenant, "get_own", "GET", f"/v1/memories/{rid}")
        if response.status_code != 200 or response.json()["text"] != tenant.records[rid][1]:
            self._fail("get_own", response, "its own record")

    async def touch_foreign(self, tenant: Tenant) -> None:
        rid = self._foreign_id(tenant) or uuid.uuid4().hex
        method, suffix, body = self.rng.choice([
            ("GET", "", None), ("GET", "/history", None), ("PATCH", "", {"text": "overwritten"}),
            ("DELETE", "", None), ("POST", "/supersede", {"by": next(iter(tenant.records), rid)}),
        ])  # fmt: skip
        action = f"foreign_{method.lower()}{suffix.replace('/', '_')}"
        async with self._locks[tenant.name]:  # no add of this tenant may reuse the id meanwhile
            if rid in tenant.records:
                return
            response = await self._call(tenant, action, method, f"/v1/memories/{rid}{suffix}", json=body)
        if response.status_code != 404 or response.json().get("code") != "not_found":
            self._fail(action, response, "404 not_found")

    async def search(self, tenant: Tenant) -> None:
        user = self.rng.choice(tenant.users)
        query = " ".join(self.rng.choices(WORDS, k=2)) + " " + self.rng.choice(self.tenants).marker
        async with self._locks[tenant.name]:  # every record the server has is in `tenant.records`
            response = await self._call(tenant, "search", "POST", "/v1/memories/search",
                                        json={"query": query, "scope": {"user_id": user}, "limit": 20})  # fmt: skip
        if response.status_code != 200:
            self._fail("search", response, "200")
            return
        for hit in response.json()["hits"]:
            rid = hit["record"]["id"]
            if tenant.records.get(rid, (None,))[0] != user or hit["record"]["scope"]["user_id"] != user:
                self.report.leaks.append(f"search: {tenant.name}/{user} got {rid} not its own")

    async def list_user(self, tenant: Tenant) -> None:
        user = self.rng.choice(tenant.users)
        async with self._locks[tenant.name]:
            response = await self._call(tenant, "list", "GET", "/v1/memories", params={"user_id": user, "limit": 1000})
        if response.status_code != 200:
            self._fail("list", response, "200")
            return
        got = {r["id"] for r in response.json()["records"]}
        stray = {rid for rid in got if tenant.records.get(rid, (None,))[0] != user}
        if stray:
            self.report.leaks.append(f"list: {tenant.name}/{user} got {sorted(stray)[:3]}")

    async def stats(self, tenant: Tenant) -> None:
        user = self.rng.choice(tenant.users)
        async with self._locks[tenant.name]:
            expected = sum(1 for owner, _ in tenant.records.values() if owner == user)
            response = await self._call(tenant, "stats", "GET", "/v1/stats", params={"user_id": user})
        if response.status_code != 200 or response.json()["total"] != expected:
            self._fail("stats", response, f"total {expected}")

    async def run(self, requests: int, concurrency: int = 8) -> LeakReport:
        actions = [(self.add, 10), (self.get_own, 25), (self.touch_foreign, 30), (self.search, 12),
                   (self.list_user, 13), (self.stats, 10)]  # fmt: skip
        funcs, weights = zip(*actions, strict=True)
        # Every tenant starts with some records, so foreign ids exist from the first request on.
        for tenant in self.tenants:
            await self.add(tenant)

        async def worker() -> None:
            while self.report.requests < requests:
                action = self.rng.choices(funcs, weights)[0]
                await action(self.rng.choice(self.tenants))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return self.report


def per_tenant_ids(tenants: list[Tenant]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for tenant in tenants:
        out[tenant.name] |= set(tenant.records)
    return out
