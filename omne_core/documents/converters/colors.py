"""Spreadsheet colours as a reader needs them: `#RRGGBB` plus the nearest plain colour name.

The name is the nearest entry, by CIEDE2000 colour difference in CIELAB (`coloraide`), of a table of the
names people and Excel give to colours: Excel's standard colours, its 56-colour legacy palette (what
`.xls` files index), its conditional-formatting fills, the Office 2007 and 2013 theme accents with the
tint rows Excel offers for them ("Blue, Accent 1, Lighter 80%" is "pale blue"), and the basic colour
terms of the xkcd colour survey (names most people gave to screen colours; CC0) with pale tints.
"""

from __future__ import annotations

import colorsys
import re
from functools import cache, lru_cache
from typing import Any

_EXCEL_STANDARD = {  # Excel's "Standard Colors" row, with its names
    "dark red": "#C00000", "red": "#FF0000", "orange": "#FFC000", "yellow": "#FFFF00", "light green": "#92D050",
    "green": "#00B050", "light blue": "#00B0F0", "blue": "#0070C0", "dark blue": "#002060", "purple": "#7030A0",
}  # fmt: skip
_EXCEL_CONDITIONAL = {  # conditional formatting presets: Light Red Fill, Green Fill, Yellow Fill
    "light red": "#FFC7CE", "light green": "#C6EFCE", "light yellow": "#FFEB9C",
}  # fmt: skip
_EXCEL_LEGACY = [  # Excel 97-2003's 56-colour palette (the indexed colours), with its names
    ("black", "#000000"), ("brown", "#993300"), ("olive green", "#333300"), ("dark green", "#003300"),
    ("dark teal", "#003366"), ("dark blue", "#000080"), ("indigo", "#333399"), ("dark grey", "#333333"),
    ("dark red", "#800000"), ("orange", "#FF6600"), ("dark yellow", "#808000"), ("green", "#008000"),
    ("teal", "#008080"), ("blue", "#0000FF"), ("blue-grey", "#666699"), ("grey", "#808080"), ("red", "#FF0000"),
    ("light orange", "#FF9900"), ("lime", "#99CC00"), ("sea green", "#339966"), ("aqua", "#33CCCC"),
    ("light blue", "#3366FF"), ("violet", "#800080"), ("grey", "#969696"), ("pink", "#FF00FF"), ("gold", "#FFCC00"),
    ("yellow", "#FFFF00"), ("bright green", "#00FF00"), ("turquoise", "#00FFFF"), ("sky blue", "#00CCFF"),
    ("plum", "#993366"), ("light grey", "#C0C0C0"), ("rose", "#FF99CC"), ("tan", "#FFCC99"),
    ("light yellow", "#FFFF99"), ("light green", "#CCFFCC"), ("light turquoise", "#CCFFFF"), ("pale blue", "#99CCFF"),
    ("lavender", "#CC99FF"), ("white", "#FFFFFF"),
]  # fmt: skip
_OFFICE_ACCENTS = [  # the Office 2007 and 2013 themes' accent colours, named as Office's colour picker names them
    ("blue", "#4F81BD"), ("red", "#C0504D"), ("olive green", "#9BBB59"), ("purple", "#8064A2"), ("aqua", "#4BACC6"),
    ("orange", "#F79646"), ("blue", "#5B9BD5"), ("orange", "#ED7D31"), ("grey", "#A5A5A5"), ("gold", "#FFC000"),
    ("blue", "#4472C4"), ("green", "#70AD47"),
]  # fmt: skip
_OFFICE_TEXT_BACKGROUND = [("dark blue", "#1F497D"), ("tan", "#EEECE1"), ("blue-grey", "#44546A"), ("light grey", "#E7E6E6")]
_TINT_ROWS = ((0.8, "pale "), (0.6, "light "), (0.4, "light "), (-0.25, "dark "), (-0.5, "dark "))  # Excel's picker rows
_XKCD = {  # basic colour terms of the xkcd colour survey (https://xkcd.com/color/rgb/)
    "red": "#E50000", "light red": "#FF474C", "dark red": "#840000", "orange": "#F97306", "light orange": "#FDAA48",
    "dark orange": "#C65102", "yellow": "#FFFF14", "light yellow": "#FFFE7A", "dark yellow": "#D5B60A",
    "green": "#15B01A", "light green": "#96F97B", "dark green": "#033500", "blue": "#0343DF", "light blue": "#95D0FC",
    "dark blue": "#00035B", "purple": "#7E1E9C", "light purple": "#BF77F6", "dark purple": "#35063E", "pink": "#FF81C0",
    "light pink": "#FFD1DF", "dark pink": "#CB416B", "brown": "#653700", "light brown": "#AD8150",
    "dark brown": "#341C02", "grey": "#929591", "light grey": "#D8DCD6", "dark grey": "#363737", "black": "#000000",
    "white": "#FFFFFF", "teal": "#029386", "cyan": "#00FFFF", "magenta": "#C20078", "lime green": "#89FE05",
    "olive": "#6E750E", "beige": "#E6DAA6", "navy": "#01153E", "maroon": "#650021", "lavender": "#C79FEF",
    "tan": "#D1B26F", "gold": "#DBB40C", "salmon": "#FF796C", "peach": "#FFB07C", "sky blue": "#75BBFD",
    "turquoise": "#06C2AC", "violet": "#9A0EEA",
}  # fmt: skip
_PALE_BASICS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "teal")
_HEX6 = re.compile(r"^[0-9A-Fa-f]{6}$")


def named_colours() -> list[tuple[str, str]]:
    """The (name, `#RRGGBB`) table colour names are chosen from (names repeat: several reds are "red")."""
    table = [*_EXCEL_STANDARD.items(), *_EXCEL_CONDITIONAL.items(), *_EXCEL_LEGACY, *_OFFICE_TEXT_BACKGROUND]
    for name, rgb in _OFFICE_ACCENTS:
        table.append((name, rgb))
        table += [(prefix + name, apply_tint(rgb, tint)) for tint, prefix in _TINT_ROWS]
    table += _XKCD.items()
    table += [(f"pale {name}", apply_tint(_XKCD[name], 0.8)) for name in _PALE_BASICS]
    return table


@cache
def _lab_table() -> list[tuple[str, Any]]:
    from coloraide import Color

    return [(name, Color(rgb).convert("lab-d65")) for name, rgb in named_colours()]


@lru_cache(maxsize=4096)
def color_name(hex_rgb: str) -> str:
    """The name of the nearest named colour to `#RRGGBB` (CIEDE2000 in CIELAB)."""
    from coloraide import Color

    colour = Color(hex_rgb)
    return min(_lab_table(), key=lambda entry: colour.delta_e(entry[1], method="2000"))[0]


def describe(hex_rgb: str) -> str:
    """`#RRGGBB name`: the exact code beside the name, so nothing is lost to the naming."""
    return f"{hex_rgb} {color_name(hex_rgb)}"


def normalize_rgb(value: str | None) -> str | None:
    """`FFRRGGBB`/`RRGGBB` → `#RRGGBB`; None for anything else."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip().lstrip("#")
    if len(value) == 8:
        value = value[2:]
    return f"#{value.upper()}" if _HEX6.match(value) else None


def apply_tint(hex_rgb: str, tint: float) -> str:
    """Excel's tint: lighten (tint > 0) or darken (tint < 0) in HLS space."""
    if not tint:
        return hex_rgb
    r, g, b = (int(hex_rgb[i : i + 2], 16) / 255 for i in (1, 3, 5))
    h, l, s = colorsys.rgb_to_hls(r, g, b)  # noqa: E741
    l = l * (1 + tint) if tint < 0 else l * (1 - tint) + tint  # noqa: E741
    r, g, b = colorsys.hls_to_rgb(h, max(0.0, min(1.0, l)), s)
    return "#" + "".join(f"{round(c * 255):02X}" for c in (r, g, b))


def theme_palette(theme_xml: bytes | str | None) -> list[str]:
    """The workbook theme's colours in Excel's theme-index order (lt1, dk1, lt2, dk2, accent1-6, links)."""
    if not theme_xml:
        return []
    from defusedxml import ElementTree

    try:
        root = ElementTree.fromstring(theme_xml)
    except Exception:
        return []
    ns = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
    scheme = root.find(f".//{ns}clrScheme")
    if scheme is None:
        return []
    colours: dict[str, str] = {}
    for child in scheme:
        tag = child.tag.replace(ns, "")
        for inner in child:
            value = inner.get("val") if inner.tag.endswith("srgbClr") else inner.get("lastClr")
            rgb = normalize_rgb(value)
            if rgb:
                colours[tag] = rgb
    order = ["lt1", "dk1", "lt2", "dk2", "accent1", "accent2", "accent3", "accent4", "accent5", "accent6",
             "hlink", "folHlink"]  # fmt: skip
    return [colours.get(name, "#000000") for name in order]


def openpyxl_color(color: Any, palette: list[str]) -> str | None:
    """An openpyxl `Color` (rgb, indexed or theme + tint) as `#RRGGBB`, or None when unset."""
    if color is None:
        return None
    kind = getattr(color, "type", None)
    if kind == "rgb":
        rgb = normalize_rgb(color.rgb)
        if rgb == "#000000" and str(color.rgb).upper().startswith("00"):
            return None  # openpyxl's "no colour" default
    elif kind == "indexed":
        from openpyxl.styles.colors import COLOR_INDEX

        index = color.indexed
        if index is None or index >= 64 or index >= len(COLOR_INDEX):
            return None  # 64/65: system foreground/background
        rgb = normalize_rgb(COLOR_INDEX[index])
    elif kind == "theme":
        if color.theme is None or color.theme >= len(palette):
            return None
        rgb = palette[color.theme]
    else:
        return None
    if rgb is None:
        return None
    return apply_tint(rgb, float(getattr(color, "tint", 0.0) or 0.0))
