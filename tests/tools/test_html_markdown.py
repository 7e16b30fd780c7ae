"""HTML to markdown with numbered links, charset handling, and the viewport's paging and find."""

from __future__ import annotations

from omne_tools.web import Viewport, render_html
from omne_tools.web.viewport import split_pages

PAGE = """<html><head><title>Shop &amp; Co</title><base href="https://shop.example/catalog/">
<style>.x{color:red}</style><script>alert('x')</script></head>
<body><nav><a href="/">Home</a></nav><h1>Items</h1>
<p>See <a href="item1.html#top">item one</a>, <a href="javascript:void(0)">a script</a> and <a href="/">home again</a>.</p>
<img src="data:image/png;base64,AAAA" alt="inline pixel"><img src="pic.png" alt="a picture">
<table><tr><th>name</th><th>price</th></tr><tr><td>lamp</td><td>12</td></tr></table>
<noscript>enable js</noscript></body></html>"""


def test_markdown_links_and_noise_removed():
    page = render_html(PAGE.encode(), "https://shop.example/index.html")
    assert page.title == "Shop & Co"
    assert page.links == ["https://shop.example/", "https://shop.example/catalog/item1.html"]
    assert (
        "[Home][1]" in page.markdown
        and "[item one][2]" in page.markdown
        and "[home again][1]" in page.markdown
    )
    assert "a script" in page.markdown and "javascript" not in page.markdown
    assert (
        "alert" not in page.markdown and "color:red" not in page.markdown and "enable js" not in page.markdown
    )
    assert (
        "![a picture](https://shop.example/catalog/pic.png)" in page.markdown
        and "base64" not in page.markdown
    )
    assert "| lamp | 12 |" in page.markdown
    assert page.link(2) == "https://shop.example/catalog/item1.html" and page.link(3) is None


def test_charsets():
    latin1 = "<html><title>café</title><body>crème brûlée</body></html>".encode("latin-1")
    assert render_html(latin1, "http://x/").markdown == "crème brûlée"  # not UTF-8: cp1252 fallback
    assert render_html(latin1, "http://x/", charset="no-such-charset").title == "café"
    sjis = (
        '<html><head><meta charset="shift_jis"><title>日本</title></head><body>日本語</body></html>'.encode(
            "shift_jis"
        )
    )
    assert render_html(sjis, "http://x/").markdown == "日本語"  # the document's own declaration
    assert render_html("<h1>Only a heading</h1>", "http://x/").title == "Only a heading"


def test_viewport_pages_end_on_whitespace_and_cover_the_text():
    text = " ".join(f"word{i}" for i in range(3000))
    pages = split_pages(text, 500)
    assert "".join(text[a:b] for a, b in pages) == text
    assert all(text[b - 1] == " " for a, b in pages[:-1])
    assert split_pages("", 10) == [(0, 0)]


def test_viewport_find_wraps_and_ignores_link_numbers():
    text = "alpha beta. " * 300 + "the [golden gate][7] bridge " + "gamma. " * 300 + "golden gate again"
    view = Viewport(text, 400)
    assert view.find("Golden Gate")  # case-insensitive, the link reference [7] is ignored
    first = view.current
    assert "golden gate" in view.content
    assert view.find_next() and view.current == len(view.pages) - 1
    assert view.find_next() and view.current == first  # wrapped around
    assert not view.find("delta") and view.current == first
    assert view.find("golden * again") and view.current == len(view.pages) - 1


def test_viewport_find_phrase_across_a_viewport_boundary():
    text = "alpha beta. " * 300 + "the [golden gate][7] bridge " + "gamma. " * 300
    view = Viewport(text, 400)
    start, end = view.pages[8]
    assert text[start:end].endswith("[golden gate][7] ")  # the phrase is cut by the boundary
    assert view.find("golden gate bridge") and view.current == 8
