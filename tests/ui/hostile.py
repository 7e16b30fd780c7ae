"""Hostile memory content: markup, event handlers, javascript: URLs, attribute-breaking quotes, template syntax and
unicode tricks, put into every field a page shows."""

from __future__ import annotations

from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope

PWN = "window.__pwned=1"
HOSTILE_TEXTS = [
    f"<script>{PWN}</script>",
    f'<img src=x onerror="{PWN}">',
    f'"><svg onload={PWN}>',
    f"' onmouseover='{PWN}' x='",
    f'<a href="javascript:{PWN}">click me</a>',
    f"javascript:{PWN}",
    f"</pre></td></tr></table></section><script>{PWN}</script>",
    "{{ 7*7 }} {% if true %}jinja{% endif %} ${7*7}",
    '<style>body{display:none}</style><link rel=stylesheet href="https://evil.example/x.css">',
    '<iframe src="https://evil.example"></iframe><base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    "invoice\u202egnp.exe",  # a right-to-left override that would reverse what follows
    "zero\u200bwidth\u2066isolate\u2069 and a \x1b[31m terminal escape",
]
BIDI = "\u202e"
HOSTILE_USER = f'mallory"><img src=x onerror={PWN}>\u202e'
HOSTILE_SESSION = f"s'><script>{PWN}</script>"
HOSTILE_QUERY = f'"><script>{PWN}</script> invoice'


def hostile_records() -> list[MemoryRecord]:
    scope = MemoryScope(user_id=HOSTILE_USER, session_id=HOSTILE_SESSION, agent_id=f"<b onclick={PWN}>agent</b>")
    records = [
        MemoryRecord(kind=MemoryKind.MESSAGE, text=text, scope=scope,
                     metadata={"note": text, f"<i onclick={PWN}>key</i>": ["javascript:alert(1)", {"x": text}]})
        for text in HOSTILE_TEXTS
    ]  # fmt: skip
    return records


def conclusion(sources: list[MemoryRecord]) -> MemoryRecord:
    return MemoryRecord(kind=MemoryKind.INSIGHT, text=f"insight <script>{PWN}</script> about the invoice",
                        scope=sources[0].scope, source_ids=[r.id for r in sources])  # fmt: skip


def shown(text: str) -> str:
    """How the inspector shows a text: invisible control and format characters as ⟨U+XXXX⟩."""
    from omne_server.ui.render import visible

    return visible(text)
