"""Spreadsheet colours as a reader needs them: `#RRGGBB` plus the nearest plain colour name."""

from __future__ import annotations

import colorsys
import re
from typing import Any

_NAMED = {
    "black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128), "light grey": (211, 211, 211),
    "dark grey": (64, 64, 64), "red": (255, 0, 0), "dark red": (139, 0, 0), "light red": (255, 153, 153),
    "orange": (255, 165, 0), "light orange": (252, 213, 180), "yellow": (255, 255, 0),
    "light yellow": (255, 255, 153), "gold": (255, 192, 0), "green": (0, 176, 80), "bright green": (0, 255, 0),
    "light green": (198, 239, 206), "dark green": (0, 100, 0), "olive": (128, 128, 0), "teal": (0, 128, 128),
    "cyan": (0, 255, 255), "light blue": (173, 216, 230), "blue": (0, 112, 192), "bright blue": (0, 0, 255),
    "dark blue": (0, 0, 139), "purple": (112, 48, 160), "violet": (238, 130, 238), "pink": (255, 192, 203),
    "magenta": (255, 0, 255), "brown": (150, 75, 0), "tan": (210, 180, 140),
}  # fmt: skip
_HEX6 = re.compile(r"^[0-9A-Fa-f]{6}$")


def color_name(hex_rgb: str) -> str:
    """The nearest plain name for `#RRGGBB` (weighted RGB distance)."""
    r, g, b = (int(hex_rgb[i : i + 2], 16) for i in (1, 3, 5))

    def distance(ref: tuple[int, int, int]) -> float:
        dr, dg, db = r - ref[0], g - ref[1], b - ref[2]
        return 2 * dr * dr + 4 * dg * dg + 3 * db * db

    return min(_NAMED, key=lambda name: distance(_NAMED[name]))


def describe(hex_rgb: str) -> str:
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
