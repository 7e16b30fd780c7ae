"""Screenshots of the memory inspector's main pages for docs/ (PNG), taken with Playwright and Debian's Chromium.

    .venv/bin/python scripts/ui_screenshots.py            # writes docs/ui/*.png
    .venv/bin/python scripts/ui_screenshots.py --out /tmp/shots

Starts the server app (as `omne serve` does) on a free 127.0.0.1 port with a fresh data directory, adds a small
demo memory over REST (raw messages, conclusions citing them, a superseded preference, a summary; a user exported
and one forgotten), logs in with a new key and photographs: login, users, record list, an L1 record, an L0 record, the search playground and a
delete confirmation. Needs Chromium (`apt-get install chromium`, or OMNE_CHROMIUM=path).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from omne_core.config import load_settings  # noqa: E402
from omne_server import create_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]  # fmt: skip
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def chromium() -> str:
    for path in (os.environ.get("OMNE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium")):
        if path and Path(path).exists():
            return path
    sys.exit("Chromium is not installed: apt-get install -y chromium (or set OMNE_CHROMIUM)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def add(client: httpx.Client, token: str, records: list[dict[str, Any]], supersedes: list[list[str]] | None = None) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"records": records, "actor": "demo-agent"}
    if supersedes is not None:
        body["supersedes"] = supersedes
    response = client.post("/v1/memories", headers={"Authorization": f"Bearer {token}"}, json=body)
    response.raise_for_status()
    return list(response.json()["records"])


def seed(client: httpx.Client, token: str) -> dict[str, Any]:
    """A week of Alice's memory: messages in two sessions, and what was concluded from them."""
    trip, home = {"user_id": "alice", "session_id": "trip-planning"}, {"user_id": "alice", "session_id": "new-flat"}

    def message(text: str, scope: dict[str, str], minutes: int, speaker: str = "alice") -> dict[str, Any]:
        return {"kind": "message", "text": text, "scope": scope, "event_time": (T0 + timedelta(minutes=minutes)).isoformat(),
                "metadata": {"speaker": speaker}}  # fmt: skip

    moved = add(client, token, [
        message("I finally moved to Lyon last week, the flat is near the Rhône.", home, 0),
        message("Great! Do you need help finding a bakery nearby?", home, 1, "assistant"),
        message("Yes please, ideally one that opens before 7, I start work early.", home, 2),
        message("I'd like to visit Kyoto in April, but I hate crowded places.", trip, 60 * 24),
        message("April is cherry blossom season: expect crowds near the famous spots.", trip, 60 * 24 + 1, "assistant"),
        message("Then I'd rather go in late May. Trains over planes, always.", trip, 60 * 24 + 3),
    ])  # fmt: skip
    ids = [r["id"] for r in moved]
    facts = add(client, token, [
        {"kind": "fact", "text": "Alice lives in Lyon, near the Rhône (moved in early March 2026).", "scope": home,
         "source_ids": [ids[0]], "confidence": 0.95},
        {"kind": "preference", "text": "Alice starts work early and wants places that open before 7 am.", "scope": home,
         "source_ids": [ids[2]]},
        {"kind": "preference", "text": "Alice wants to visit Kyoto in April.", "scope": trip, "source_ids": [ids[3]]},
    ])  # fmt: skip
    revised = add(client, token, [
        {"kind": "preference", "text": "Alice plans Kyoto for late May to avoid crowds; she prefers trains to planes.",
         "scope": trip, "source_ids": [ids[3], ids[4], ids[5]], "importance": 0.8},
    ], supersedes=[[facts[2]["id"]]])  # fmt: skip
    add(client, token, [
        {"kind": "summary", "text": "Trip planning: Kyoto moved from April to late May (crowds); travel by train.",
         "scope": trip, "source_ids": ids[3:]},
    ])  # fmt: skip
    # the tenant's activity on the users page: a user exported by a backup job, another forgotten on request
    auth = {"Authorization": f"Bearer {token}"}
    add(client, token, [message("Remind me to call the landlord on Monday.", {"user_id": "bob"}, 30)])
    add(client, token, [message("Please delete everything you know about me.", {"user_id": "carol"}, 40)])
    client.get("/v1/export", headers=auth, params={"user_id": "bob", "actor": "nightly-backup"}).raise_for_status()
    client.delete("/v1/users/carol", headers=auth, params={"actor": "erasure-request"}).raise_for_status()
    return {"fact": facts[0], "source": moved[0], "revised": revised[0]}


def serve(settings: Any, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    from omne_core.embeddings import build_embedder

    app = create_app(settings, embedder=build_embedder(settings.embedding))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            sys.exit("the server did not start")
        time.sleep(0.1)
    return server, thread


async def shoot(url: str, token: str, demo: dict[str, Any], out: Path) -> list[Path]:
    from playwright.async_api import async_playwright

    shots: list[Path] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium(), headless=True, args=LAUNCH_ARGS)
        tab = await (await browser.new_context(viewport={"width": 1280, "height": 860}, device_scale_factor=1)).new_page()

        async def snap(name: str, full: bool = True) -> None:
            path = out / f"{name}.png"
            await tab.screenshot(path=str(path), full_page=full)
            shots.append(path)

        await tab.goto(f"{url}/ui/login")
        await tab.fill("#key", "omne_k3y1d0f12345_not-a-real-secret")  # never a real key in a picture
        await snap("login", full=False)
        await tab.fill("#key", token)
        await tab.click("button[type=submit]")
        await tab.wait_for_url("**/ui/users")
        await snap("users")
        await tab.goto(f"{url}/ui/records?user=alice&status=any")
        await snap("records")
        await tab.goto(f"{url}/ui/record?id={demo['revised']['id']}")
        await snap("record-l1")
        await tab.goto(f"{url}/ui/record?id={demo['source']['id']}")
        await snap("record-l0")
        await tab.goto(f"{url}/ui/search?user=alice&q=when+is+Alice+going+to+Kyoto&budget=120")
        await snap("search")
        await tab.goto(f"{url}/ui/record?id={demo['fact']['id']}")
        await tab.click("#delete-hard")
        await snap("confirm-delete", full=False)
        await browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "ui")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="omne-ui-shots-") as data:
        settings = load_settings(data_dir=Path(data))
        port = free_port()
        server, thread = serve(settings, port)
        try:
            url = f"http://127.0.0.1:{port}"
            token = asyncio.run(_new_key(server))
            with httpx.Client(base_url=url, timeout=60) as client:
                demo = seed(client, token)
            for path in asyncio.run(shoot(url, token, demo, args.out)):
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        finally:
            server.should_exit = True
            thread.join(30)


async def _new_key(server: uvicorn.Server) -> str:
    app: Any = server.config.app
    _, token = await app.state.omne.keys.create("demo", label="screenshots")
    return str(token)


if __name__ == "__main__":
    main()
