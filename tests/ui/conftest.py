"""Inspector fixtures: the server app in-process with real stores and keys (the session's `embedder`, tests/conftest.py),
and logging in as a browser does."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pytest

from omne_core.config import load_settings
from omne_core.memory import MemoryStore
from tests.server.conftest import running_app

BASE = "http://127.0.0.1:8765"
ORIGIN = {"origin": BASE}


@dataclass
class Tenant:
    name: str
    token: str  # read-write
    read_only: str
    key_id: str
    store: MemoryStore


@dataclass
class UiServer:
    app: object
    client: httpx.AsyncClient
    acme: Tenant
    other: Tenant


async def _tenant(app, name: str) -> Tenant:
    keys = app.state.omne.keys
    key, token = await keys.create(name)
    _, read_only = await keys.create(name, read_only=True)
    return Tenant(name, token, read_only, key.key_id, await app.state.omne.tenants.get(name))


@pytest.fixture
def ui_settings(tmp_path):
    return load_settings(data_dir=tmp_path / "server-data")


@pytest.fixture
async def ui(ui_settings, embedder):
    async with running_app(ui_settings, embedder) as (app, client):
        yield UiServer(app, client, await _tenant(app, "acme"), await _tenant(app, "other"))


def form_value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field in the page"
    return match.group(1)


async def login(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Log in through the form as a browser would (the form's token, this origin); returns the redirect."""
    page = await client.get("/ui/login")
    return await client.post(
        "/ui/login", data={"key": token, "login_token": form_value(page.text, "login_token")}, headers=ORIGIN
    )


async def csrf_of(client: httpx.AsyncClient, path: str = "/ui/users") -> str:
    return form_value((await client.get(path)).text, "csrf")
