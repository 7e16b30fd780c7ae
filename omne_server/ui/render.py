"""Server-side HTML: one Jinja2 environment with autoescaping on every template, and the filters pages use.

Everything a memory holds (text, metadata, user, session and record ids, queries) is data: autoescaping turns
markup into text, and `visible` shows the characters that would otherwise act unseen (bidi overrides, zero-width
characters, other controls) as `⟨U+202E⟩`, so a record cannot reorder or hide what the page around it says.
URLs are built with `url()`, which quotes every part.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

UI_PREFIX = "/ui"
STATIC_PREFIX = f"{UI_PREFIX}/static"
_HERE = Path(__file__).parent
TEMPLATES = _HERE / "templates"
STATIC = _HERE / "static"
_KEEP = {"\n", "\t"}
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co"})  # controls, format (bidi, zero-width), separators


def visible(value: Any) -> str:
    """`value` as text with every control or format character (Unicode Cc, Cf, Zl, Zp, surrogates, private use) shown as `⟨U+XXXX⟩`."""
    text = "" if value is None else str(value)
    out = []
    for char in text:
        if char not in _KEEP and unicodedata.category(char) in _HIDDEN:
            out.append(f"⟨U+{ord(char):04X}⟩")
        else:
            out.append(char)
    return "".join(out)


def short(value: Any, limit: int = 160) -> str:
    """The first `limit` characters of a (visible) text on one line, with an ellipsis when cut."""
    text = " ".join(visible(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pretty_json(value: Any) -> str:
    return visible(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str))


def when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def score(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def url(path: str, *segments: str, **params: Any) -> str:
    """`/ui` + path, each segment percent-quoted (slashes too), then the non-empty params as a query string."""
    built = UI_PREFIX + path + "".join("/" + quote(str(s), safe="") for s in segments)
    pairs = [(k, v) for k, v in params.items() if v not in (None, "", [], False)]
    flat = [(k, str(item)) for k, v in pairs for item in (v if isinstance(v, list | tuple) else [v])]
    return built + ("?" + urlencode(flat) if flat else "")


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name
        undefined=StrictUndefined,  # a misspelt variable is an error, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(visible=visible, short=short, pretty_json=pretty_json, when=when, score=score)
    env.globals.update(url=url, static=lambda name: f"{STATIC_PREFIX}/{quote(name)}")
    return env


class Renderer:
    """Renders a template into an `HTMLResponse`; every page gets the request and the session (or None)."""

    def __init__(self) -> None:
        self.env = environment()

    def page(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        session = getattr(request.state, "ui_session", None)
        html = self.env.get_template(template).render(request=request, session=session, **context)
        return HTMLResponse(html, status_code=status_code)
