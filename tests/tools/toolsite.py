"""A real HTTP server on 127.0.0.1 (aiohttp in a background thread) serving everything the tool tests need:
linked pages, a long page, PDF and XLSX downloads, redirects (a chain, to private addresses, to
`localhost`, to file://), oversized and slow pages, DuckDuckGo-style search pages and a SearXNG JSON API.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

PDF_SENTENCE = "The quarterly revenue of Omne Widgets was 4217 dollars"
XLSX_ROWS = [("city", "population"), ("Springfield", 30720), ("Shelbyville", 12345)]
LONG_NEEDLE = "zanzibar"


def make_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Annual report")
    pdf.ln(12)
    pdf.cell(0, 10, PDF_SENTENCE)
    return bytes(pdf.output())


def make_xlsx() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Cities"
    for row in XLSX_ROWS:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def long_page() -> str:
    """About 60 KB of text with the needle in paragraph 150 and paragraph 400, nowhere else."""
    paragraphs = []
    for i in range(500):
        words = f"Paragraph {i} talks about ordinary things such as tables chairs and lamps."
        if i in (150, 400):
            words += f" The secret island is {LONG_NEEDLE} number {i}."
        paragraphs.append(f"<p>{words}</p>")
    return (
        f"<html><head><title>Long page</title></head><body><h1>Long</h1>{''.join(paragraphs)}</body></html>"
    )


DDG_RESULT = """
  <div class="result results_links results_links_deep web-result ">
    <div class="links_main links_deep result__body">
      <h2 class="result__title">
        <a rel="nofollow" class="result__a" href="{href}">{title}</a>
      </h2>
      <div class="result__extras">
        <div class="result__extras__url">
          <a class="result__url" href="{href}">{display}</a>
        </div>
      </div>
      <a class="result__snippet" href="{href}">{snippet}</a>
      <div class="clear"></div>
    </div>
  </div>"""

DDG_AD = """
  <div class="result results_links results_links_deep result--ad ">
    <div class="links_main links_deep result__body">
      <h2 class="result__title"><a rel="nofollow" class="result__a" href="https://duckduckgo.com/y.js?ad_domain=shop.example&amp;u3=x">Buy things</a></h2>
      <a class="result__snippet" href="https://duckduckgo.com/y.js?ad_domain=shop.example&amp;u3=x">An advertisement</a>
    </div>
  </div>"""


def ddg_page(query: str) -> str:
    """A page shaped like html.duckduckgo.com/html/ results: one ad, three organic results."""
    results = [
        DDG_RESULT.format(
            href="//duckduckgo.com/l/?uddg=https%3A%2F%2Fwww.python.org%2F&amp;rut=abc123",
            title=f"Welcome to <b>{query}</b>.org",
            display="www.python.org",
            snippet=f"The official home of the <b>{query}</b> Programming Language",
        ),
        DDG_RESULT.format(
            href="https://en.wikipedia.org/wiki/Python_(programming_language)",
            title="Python (programming language) - Wikipedia",
            display="en.wikipedia.org/wiki/Python_(programming_language)",
            snippet="Python is a high-level, general-purpose programming language.",
        ),
        DDG_RESULT.format(
            href="https://docs.python.org/3/tutorial/",
            title="The Python Tutorial",
            display="docs.python.org/3/tutorial/",
            snippet="Python is an easy to learn, powerful programming language.",
        ),
    ]
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">
<html><head><meta http-equiv="content-type" content="text/html; charset=UTF-8"><title>{query} at DuckDuckGo</title></head>
<body class="body--html">
<div class="header__form"><form action="/html/" method="post"><input type="text" name="q" value="{query}"></form></div>
<div id="links" class="results">{DDG_AD}{"".join(results)}
  <div class="nav-link"><form action="/html/" method="post"><input type="submit" class="btn btn--alt" value="Next"></form></div>
</div></body></html>"""


@dataclass
class LocalSite:
    """The running server: its base URL and a log of requests per path (to assert retries)."""

    base_url: str
    port: int
    hits: Counter[str] = field(default_factory=Counter)
    queries: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path


def build_app(site: LocalSite, pdf: bytes, xlsx: bytes) -> web.Application:
    routes = web.RouteTableDef()

    @web.middleware
    async def count(request: web.Request, handler):  # type: ignore[no-untyped-def]
        site.hits[request.path] += 1
        return await handler(request)

    def html(body: str, status: int = 200) -> web.Response:
        return web.Response(text=body, content_type="text/html", status=status)

    @routes.get("/")
    async def index(_: web.Request) -> web.Response:
        return html(
            "<html><head><title>Home page</title></head><body><h1>Welcome home</h1>"
            '<p>Go to the <a href="/page2">second page</a> or the <a href="/long">long page</a>.</p>'
            '<p>Files: <a href="/files/report.pdf">the report</a>, <a href="/files/data.xlsx">the data</a>.</p>'
            '<p><a href="mailto:me@example.org">mail me</a> <a href="#top">top</a></p></body></html>'
        )

    @routes.get("/page2")
    async def page2(_: web.Request) -> web.Response:
        return html(
            "<html><head><title>Second page</title></head><body><p>This is the second page with a "
            '<a href="/">link home</a>.</p></body></html>'
        )

    @routes.get("/long")
    async def long(_: web.Request) -> web.Response:
        return html(long_page())

    @routes.get("/files/report.pdf")
    async def report(_: web.Request) -> web.Response:
        return web.Response(body=pdf, content_type="application/pdf")

    @routes.get("/files/data.xlsx")
    async def data(_: web.Request) -> web.Response:
        return web.Response(
            body=xlsx,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": 'attachment; filename="cities.xlsx"'},
        )

    @routes.get("/files/blob.bin")
    async def blob(_: web.Request) -> web.Response:
        return web.Response(body=bytes(range(256)) * 40, content_type="application/octet-stream")

    @routes.get("/text")
    async def text(_: web.Request) -> web.Response:
        return web.Response(text="plain words here\nsecond line", content_type="text/plain")

    @routes.get("/missing")
    async def missing(_: web.Request) -> web.Response:
        return html(
            "<html><head><title>Not here</title></head><body>Nothing at this address.</body></html>", 404
        )

    @routes.get("/redirect/{n}")
    async def chain(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound("/page2" if n <= 0 else f"/redirect/{n - 1}")

    @routes.get("/redirect-to")
    async def redirect_to(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["target"])

    @routes.get("/big")
    async def big(_: web.Request) -> web.Response:
        return html("<html><body>" + "<p>filler text</p>" * 100_000 + "</body></html>")

    @routes.get("/big-chunked")
    async def big_chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(200):
            await response.write(b"<p>" + b"x" * 10_000 + b"</p>")
        await response.write_eof()
        return response

    @routes.get("/slow")
    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return html("<html><body>finally</body></html>")

    # -- DuckDuckGo HTML endpoint look-alikes ------------------------------------------------
    @routes.post("/ddg/html/")
    async def ddg(request: web.Request) -> web.Response:
        form = await request.post()
        site.queries.append(str(form.get("q", "")))
        return html(ddg_page(str(form.get("q", ""))))

    @routes.post("/ddg-empty/html/")
    async def ddg_empty(_: web.Request) -> web.Response:
        return html(
            '<html><body><div id="links" class="results"><div class="no-results">No results.</div></div></body></html>'
        )

    @routes.post("/ddg-ratelimit/html/")
    async def ddg_ratelimit(_: web.Request) -> web.Response:
        return web.Response(text="Ratelimit", status=202)

    @routes.post("/ddg-flaky/html/")
    async def ddg_flaky(request: web.Request) -> web.Response:
        form = await request.post()
        if site.hits["/ddg-flaky/html/"] <= 2:
            return web.Response(text="Ratelimit", status=202)
        return html(ddg_page(str(form.get("q", ""))))

    @routes.post("/ddg-slow/html/")
    async def ddg_slow(_: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return html(ddg_page("late"))

    # -- SearXNG JSON API look-alikes -------------------------------------------------------
    @routes.get("/searx/search")
    async def searx(request: web.Request) -> web.Response:
        if request.query.get("format") != "json":
            return web.Response(status=403, text="Forbidden")
        query = request.query.get("q", "")
        return web.json_response(
            {
                "query": query,
                "number_of_results": 2,
                "results": [
                    {
                        "url": "https://example.org/a",
                        "title": f"About {query}",
                        "content": "First hit.",
                        "engine": "x",
                    },
                    {
                        "url": "https://example.org/b",
                        "title": "Second",
                        "content": "Second hit.",
                        "engine": "y",
                    },
                ],
            }
        )

    @routes.get("/searx-429/search")
    async def searx_429(_: web.Request) -> web.Response:
        return web.Response(status=429, text="Too Many Requests")

    @routes.get("/searx-nojson/search")
    async def searx_nojson(_: web.Request) -> web.Response:
        return web.Response(status=403, text="Forbidden")

    app = web.Application(middlewares=[count])
    app.add_routes(routes)
    return app


class ServerThread:
    """Runs the aiohttp app on its own event loop in a daemon thread, on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.site: LocalSite | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self._ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        site = LocalSite(base_url="", port=0)
        self._runner = web.AppRunner(build_app(site, make_pdf(), make_xlsx()), shutdown_timeout=0.5)
        await self._runner.setup()
        tcp = web.TCPSite(self._runner, "127.0.0.1", 0)
        await tcp.start()
        port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        site.port = port
        site.base_url = f"http://127.0.0.1:{port}"
        self.site = site

    def start(self) -> LocalSite:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("local test site did not start")
        assert self.site is not None
        return self.site

    def stop(self) -> None:
        async def _stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(_stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
