"""Terminal output where text from users, files and models is data: never rich markup, emoji codes or
terminal control sequences.

`terminal()` is the one console the commands print through: markup, emoji codes and highlighting are off,
and every string it renders (printed, in a table cell, a rule title) passes through `shown()` first, which
turns control characters (an ANSI escape, a bell, a carriage return, bidi overrides) into visible `\\xNN`
escapes. Styling is given with `style=` or a `Text` of our own, never inside the text.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from omne_core.memory.results import ReflectionNotes

# C0 controls but tab and newline, DEL, C1 controls, and the bidi embedding/override/isolate marks that make a
# terminal show text in another order than it is stored.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")  # json.dumps escapes C0 itself


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: object) -> str:
    """`text` as it may reach a terminal: control characters as visible escapes, everything else kept."""
    return _CONTROL.sub(_visible, str(text))


def one_line(text: object, limit: int) -> str:
    """`text` on one line (whitespace runs collapsed) of at most `limit` characters, safe to show."""
    flat = " ".join(shown(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def terminal(*, stderr: bool = False, width: int | None = None, soft_wrap: bool = False) -> Console:
    """A rich console that shows every string literally (no markup, no emoji codes, control chars escaped)."""
    from rich.console import Console
    from rich.text import Text as RichText

    class _LiteralConsole(Console):
        def render_str(self, text: str, **kwargs: Any) -> RichText:
            kwargs["markup"] = kwargs["emoji"] = False
            return super().render_str(shown(text), **kwargs)

    return _LiteralConsole(
        stderr=stderr, width=width, soft_wrap=soft_wrap, markup=False, emoji=False, highlight=False
    )


def echo(text: object, *, err: bool = False) -> None:
    """Print one plain line (typer.echo) with control characters escaped."""
    typer.echo(shown(text), err=err)


def echo_json(data: Any) -> None:
    """Print JSON; characters a terminal would act on are written as `\\u` escapes (still valid JSON)."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    typer.echo(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def styled(*parts: str | tuple[str, str]) -> Text:
    """One line of literal pieces, some styled: `styled(("omne> ", "bold green"), reply)` (no markup parsed)."""
    from rich.text import Text

    return Text.assemble(*((shown(p[0]), p[1]) if isinstance(p, tuple) else shown(p) for p in parts))


def reflection_notes(report: ReflectionNotes) -> list[str]:
    """What a reflection (`ReflectionResult` or `ReflectionReport`) did to the model's conclusions besides storing
    them, as lines to show: the ones it dropped and the ones it stored citing other sources, each with why."""
    lines = []
    for said, whys in report.notes():
        lines += [f"{said} {len(whys)} conclusion(s) the model wrote:", *(f"  {one_line(why, 200)}" for why in whys)]
    return lines
