"""Tool latencies on a local server (127.0.0.1, no internet): browser visit, HTML->markdown, find, search.

Run: .venv/bin/python bench/bench_tools.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omne_core.config import WebSettings  # noqa: E402
from omne_tools.search import DuckDuckGoBackend, SearxngBackend  # noqa: E402
from omne_tools.web import TextBrowser, Viewport, render_html  # noqa: E402
from tests.tools.toolsite import ServerThread  # noqa: E402


async def timed(label: str, make, runs: int) -> None:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await make()
        samples.append((time.perf_counter() - started) * 1000)
    print(f"{label:<46} median {statistics.median(samples):8.2f} ms   p90 {sorted(samples)[int(runs * 0.9) - 1]:8.2f} ms   ({runs} runs)")


async def main(site) -> None:  # type: ignore[no-untyped-def]
    settings = WebSettings(allowed_hosts=["127.0.0.1"], max_page_bytes=5_000_000)
    browser = TextBrowser(settings, download_dir=Path(tempfile.mkdtemp()))
    await timed("visit small HTML page", lambda: browser.visit(site.url("/page2")), 50)
    await timed("visit long HTML page (60 KB)", lambda: browser.visit(site.url("/long")), 20)
    await timed("visit PDF (download + convert)", lambda: browser.visit(site.url("/files/report.pdf")), 10)
    await timed("visit XLSX (download + convert)", lambda: browser.visit(site.url("/files/data.xlsx")), 10)

    big = ("<p>Some <a href='/x%d'>link</a> text with words and more words.</p>" * 20_000).encode()

    async def render_big() -> None:
        render_html(big, "http://x/")

    await timed(f"render_html of {len(big) / 1e6:.1f} MB HTML", render_big, 3)
    long_text = " ".join(f"word{i}" for i in range(200_000)) + " needle"
    view = Viewport(long_text, 8000)

    async def find_last() -> None:
        view.current, view.find_query, view.find_hit = 0, None, None
        assert view.find("needle")

    await timed(f"find on {len(view.pages)} viewports (1.5 MB text)", find_last, 5)
    ddg = DuckDuckGoBackend(url=site.url("/ddg/html/"))
    await timed("DuckDuckGo search (ddgs engine, local page)", lambda: ddg.search("python", 8), 20)
    searx = SearxngBackend(site.url("/searx"))
    await timed("SearXNG search (local JSON)", lambda: searx.search("python", 8), 20)


if __name__ == "__main__":
    server = ServerThread()
    local = server.start()
    try:
        asyncio.run(main(local))
    finally:
        server.stop()
