"""Fill colour names for the colours spreadsheets use: Excel's, Office themes' (and their tints), Google Sheets'."""

from __future__ import annotations

import pytest

from omne_core.documents import convert_file
from omne_core.documents.converters.colors import apply_tint, color_name, describe, named_colours

# (colour, words any of which the name must contain): a colour's family as a reader would say it
COMMON_COLOURS = {
    # Excel's standard colours
    "#C00000": "red", "#FF0000": "red", "#FFC000": "orange", "#FFFF00": "yellow", "#92D050": "green",
    "#00B050": "green", "#00B0F0": "blue", "#0070C0": "blue", "#002060": "blue", "#7030A0": "purple",
    # Office 2013+ theme colours
    "#4472C4": "blue", "#ED7D31": "orange", "#A5A5A5": "grey", "#5B9BD5": "blue", "#70AD47": "green",
    "#44546A": "grey|blue", "#E7E6E6": "grey",
    # Office 2007 theme colours
    "#4F81BD": "blue", "#C0504D": "red", "#9BBB59": "green", "#8064A2": "purple", "#4BACC6": "aqua|blue|cyan",
    "#F79646": "orange", "#1F497D": "blue", "#EEECE1": "tan|beige|grey",
    # tint rows Excel offers for the theme colours (Lighter 80/60/40 %, Darker 25 %)
    "#DDEBF7": "blue", "#D9E1F2": "blue", "#BDD7EE": "blue", "#FCE4D6": "orange", "#F8CBAD": "orange",
    "#F4B084": "orange", "#E2EFDA": "green", "#C6E0B4": "green", "#A9D08E": "green", "#FFF2CC": "gold|yellow",
    "#FFE699": "gold|yellow", "#FFD966": "gold|yellow", "#EDEDED": "grey", "#D9D9D9": "grey", "#2F5597": "blue",
    "#C55A11": "orange", "#548235": "green",
    # conditional formatting presets (fill and text)
    "#FFC7CE": "red", "#C6EFCE": "green", "#FFEB9C": "yellow", "#9C0006": "red", "#006100": "green",
    "#9C5700": "brown|orange",
    # Google Sheets' palette
    "#EA4335": "red", "#FBBC04": "yellow|orange|gold", "#34A853": "green", "#4285F4": "blue", "#FF9900": "orange",
    "#00FF00": "green", "#00FFFF": "cyan|turquoise", "#4A86E8": "blue", "#0000FF": "blue", "#9900FF": "purple|violet",
    "#FF00FF": "magenta|pink|purple", "#980000": "red", "#F4CCCC": "red|pink", "#FCE5CD": "orange|peach",
    "#D9EAD3": "green", "#C9DAF8": "blue", "#CFE2F3": "blue", "#D9D2E9": "purple|lavender", "#EAD1DC": "pink",
    "#B7B7B7": "grey", "#434343": "grey",
    # a few more
    "#FFA500": "orange", "#FFC0CB": "pink|rose|red", "#808080": "grey", "#000000": "black", "#FFFFFF": "white",
    "#F2F2F2": "grey|white", "#A52A2A": "red|brown",
}  # fmt: skip


@pytest.mark.parametrize(("rgb", "words"), COMMON_COLOURS.items())
def test_common_spreadsheet_colours_get_their_familys_name(rgb: str, words: str) -> None:
    name = color_name(rgb)
    assert set(words.split("|")) & set(name.replace("-", " ").split()), f"{rgb} named {name!r}"


def test_the_issues_colours() -> None:
    assert color_name("#EA4335") == "red"  # was "brown"
    assert color_name("#92D050") == "light green"  # Excel's own name; was "tan"
    assert describe("#EA4335") == "#EA4335 red"  # the exact code stays beside the name


def test_excel_names_its_own_standard_and_theme_tint_colours() -> None:
    assert [color_name(rgb) for rgb in ("#C00000", "#FFC000", "#00B0F0", "#002060", "#7030A0")] == [
        "dark red", "orange", "light blue", "dark blue", "purple"]  # fmt: skip
    assert color_name(apply_tint("#4472C4", 0.8)) == "pale blue"  # "Blue, Accent 1, Lighter 80%"
    assert color_name(apply_tint("#70AD47", -0.5)) == "dark green"  # "Green, Accent 6, Darker 50%"


def test_every_name_is_plain_words() -> None:
    assert all(name.replace(" ", "").replace("-", "").isalpha() for name, _ in named_colours())


async def test_xlsx_fill_legend_names_the_colours(tmp_path, settings) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import PatternFill

    wb = Workbook()
    ws = wb.active
    for row, rgb in enumerate(("EA4335", "92D050", "FFC000"), start=1):
        ws.cell(row, 1, f"cell {row}").fill = PatternFill("solid", fgColor="FF" + rgb)
    wb.save(tmp_path / "colours.xlsx")
    text = (await convert_file(tmp_path / "colours.xlsx", settings)).text
    assert "| 1 | cell 1 [fill #EA4335 red] |" in text
    assert "- #92D050 light green (1 cells): A2" in text and "- #FFC000 orange (1 cells): A3" in text
