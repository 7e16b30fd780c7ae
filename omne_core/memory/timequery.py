"""Time in a query: expressions ("in May 2023", "last week", "two days before the trip") as time windows, and
"when did ..." questions.

Plain expressions are found and resolved by `dateparser` (`search_dates`), relative to the store's own "now": the
newest record in the searched scope (a conversation's time, not today's), preferring the past (memory is asked
about what happened). An expression relative to an *anchor* ("two weeks before August 11, 2023", "the week
after the wedding", "after the road trip") is read here: the anchor is a date (dateparser again) or an event,
located by a search for its words (`Locator`: the time of the record that best matches "the road trip"); the
window then runs from the anchor back (or forward) by the amount ("two weeks"; a month when none is named),
anchor day included, since a record dated on the anchor day often tells of what happened before it.
A window is a *boost* for the records whose time falls in it (`MemorySettings.time_weight`), never a hard
filter: a parse can be wrong ("may" as a month), and a record can tell of an event days after it. Spans
dateparser accepts that are no time ("we", a lone lower-case "may") are dropped.

A question asking *when* (`asks_when`) favours records that name a time themselves ("yesterday", "last May",
"in 2022": `time_word`), by `MemorySettings.when_weight`: they are the ones that can date the answer.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from pydantic import BaseModel

from .indexing import words

logger = logging.getLogger(__name__)

_MONTHS = "january february march april may june july august september october november december".split()
_DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_RELATIVE = set(
    "yesterday today tonight tomorrow ago last next past this previous coming recently week weeks weekend month "
    "months year years day days".split()
)
# A query is handed to the parser only if it holds one of these words or a digit (the parser costs a few ms).
_TIME_WORDS = frozenset({*_MONTHS, *(m[:3] for m in _MONTHS), *_DAYS, *_RELATIVE})
_EVENT_RELATIVE = {"before", "after", "since", "until", "till"}  # anchored expressions: `anchored_window`
_FILLER = {"in", "on", "at", "of", "the", "during", "from", "by", "around", "a", "an", "for"}
_PERIOD_DAYS = {"day": 1, "time": 1, "week": 7}


# "<amount> <unit>(s) before|after <anchor>", "the week after <anchor>", "before|after <anchor>"
_ANCHORED = re.compile(
    r"\b(?:(?:(?P<amount>\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a\s+couple\s+of|"
    r"couple\s+of|a\s+few|few|several)|(?:the|that|last))\s+(?P<unit>day|night|week|weekend|month|year)s?\s+)?"
    r"(?P<direction>before|after|prior\s+to|following)\s+(?P<anchor>(?:[^?!.;,]|,(?=\s*\d))+)",
    re.IGNORECASE,
)
_VAGUE_AMOUNTS = {"a couple of": "2", "couple of": "2", "a few": "3", "few": "3", "several": "3", "a": "1", "an": "1"}
_UNITS = {"night": "day", "weekend": "week"}
_BARE_SPAN = timedelta(days=30)  # "after the road trip": how far a window without an amount reaches
_ANCHOR_WORDS = 6  # an event anchor is searched by its first words ("the road trip to relax" -> all five)
_WHEN = re.compile(
    r"^\s*(?:when\b|what\s+(?:date|day|time|year|month|week)\b|how\s+long\s+ago\b)|\bwhen\s+(?:did|was|were|is|will)\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")

# An event's time by its words: (when it happened, which record says so) or None (`MemoryStore` searches the scope).
Locator = Callable[[str], Awaitable[tuple[datetime, str] | None]]


class TimeWindow(BaseModel):
    """A span of time a query names: the expression as written, the period it was read as, and its bounds; for an
    expression relative to an event, where that event was found."""

    expression: str
    period: str  # day, week, month or year
    start: datetime
    end: datetime  # exclusive
    anchor: str | None = None  # "'the trip' on 2023-05-07 (record 1a2b3c4d)"

    def holds(self, when: datetime) -> bool:
        return self.start <= when < self.end

    def describe(self) -> str:
        last = self.end - timedelta(seconds=1)
        found = f", {self.anchor}" if self.anchor else ""
        return f"{self.expression!r} = {self.start:%Y-%m-%d}..{last:%Y-%m-%d}{found}"


def asks_when(query: str) -> bool:
    """Whether a query asks for a time ("When did ...", "What year ...", "how long ago ...")."""
    return bool(_WHEN.search(query))


def time_word(text: str) -> str | None:
    """The first word of `text` that names a time (a month, weekday, relative time word, or a year), if any."""
    if found := _YEAR.search(text):
        return found.group(0)
    return next((w for w in words(text) if w in _MONTHS or w in _DAYS or w in _RELATIVE), None)


def may_name_a_time(query: str) -> bool:
    """Cheap gate before the parser: a digit, or a month, weekday, relative time word or before/after."""
    return any(ch.isdigit() for ch in query) or any(w in _TIME_WORDS or w in _EVENT_RELATIVE for w in words(query))


def plausible(span: str) -> bool:
    """Whether a span the parser took for a date can be one: it names a month, weekday, number or relative time
    word (not "we", not the modal "may"), and is not relative to another event."""
    tokens = [w for w in words(span) if w not in _FILLER]
    if not tokens or _EVENT_RELATIVE & set(tokens):
        return False
    if tokens == ["may"] and "May" not in span:  # "who may come": the modal verb
        return False
    return any(t.isdigit() or t in _MONTHS or t in _DAYS or t in _RELATIVE for t in tokens)


def window(expression: str, when: datetime, period: str) -> TimeWindow:
    """The span of the period (day, week, month, year) that starts at or holds `when`."""
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if period == "year":
        start = when.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        end = start.replace(year=start.year + 1)
    elif period == "month":
        start = when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=32)).replace(day=1)
    else:
        start = when.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start + timedelta(days=_PERIOD_DAYS.get(period, 1))
    return TimeWindow(expression=expression, period=period if period in {"year", "month", "week"} else "day",
                      start=start, end=end)


@cache
def _parser() -> Any:
    from dateparser.date import DateDataParser  # imported on first use: 0.3 s

    return DateDataParser(languages=["en"])


async def query_windows(
    query: str, newest: Callable[[], Awaitable[datetime | None]], locate: Locator | None = None
) -> list[TimeWindow]:
    """The windows a query names, relative to `await newest()` (the time of the newest record searched; asked
    only when the query may name a time), or to the clock when there is none. An anchor that is no date is
    looked up with `locate` (without it, that expression is dropped). The parser runs in a thread."""
    if not may_name_a_time(query):
        return []
    now = await newest() or datetime.now(UTC)
    out: list[TimeWindow] = []
    rest = query
    for match in _ANCHORED.finditer(query):
        found = await anchored_window(match, now, locate)
        if found is not None:
            out.append(found)
            rest = rest.replace(match.group(0), " ")  # its date is read here, not again by search_dates
    return out + await asyncio.to_thread(find_windows, rest, now)


def find_windows(query: str, now: datetime) -> list[TimeWindow]:
    """The time windows a query names, read relative to `now` (preferring the past); [] when none is plausible
    or the parser is unavailable. Expressions relative to an anchor are left to `query_windows`."""
    if not may_name_a_time(query):
        return []
    try:
        from dateparser.search import search_dates
    except ImportError:  # an optional nicety: search works without it
        logger.debug("dateparser is not installed: time expressions in queries are not read")
        return []
    base = now.astimezone(UTC).replace(tzinfo=None)
    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False}
    found = search_dates(query, languages=["en"], settings=settings) or []
    out: list[TimeWindow] = []
    for span, when in found:
        if plausible(span):
            period = _parser().get_date_data(span).period or "day"  # the period does not depend on the base
            out.append(window(span.strip(), when, period))
    return out


def parse_date(text: str, now: datetime) -> tuple[datetime, str] | None:
    """The date the leading words of `text` name ("August 3, 2023 involving his kids" -> 3 August 2023, "day"),
    longest reading first, with its period; None when they name none ("the road trip")."""
    tokens = text.split()
    base = now.astimezone(UTC).replace(tzinfo=None)
    for n in range(min(len(tokens), 5), 0, -1):
        span = " ".join(tokens[:n])
        if plausible(span) and (when := _parse(span, base)) is not None:
            return when.replace(tzinfo=UTC), _parser().get_date_data(span).period or "day"
    return None


def _parse(span: str, base: datetime) -> datetime | None:
    """dateparser's reading of `span` relative to `base` (naive UTC), preferring the past; None if it has none."""
    try:
        import dateparser
    except ImportError:  # as in `find_windows`: search works without it
        return None
    parsed: datetime | None = dateparser.parse(
        span, languages=["en"], settings={"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past"}
    )
    return parsed


def shifted(anchor: datetime, amount: str, unit: str, direction: str) -> datetime | None:
    """`anchor` moved by "<amount> <unit>s" back (before) or forward (after), by dateparser ("two weeks ago"
    relative to the anchor); None when it cannot read the amount."""
    amount = _VAGUE_AMOUNTS.get(" ".join(amount.lower().split()), amount)
    phrase = f"{amount} {unit}s ago" if direction == "before" else f"in {amount} {unit}s"
    return _parse(phrase, anchor.astimezone(UTC).replace(tzinfo=None))


async def anchored_window(match: re.Match[str], now: datetime, locate: Locator | None) -> TimeWindow | None:
    """The window of one "<amount> <unit> before|after <anchor>" match: from the anchor back (before) or forward
    (after) by the amount, or by `_BARE_SPAN` when none is named; the anchor day included."""
    direction = "before" if match["direction"].lower() in {"before", "prior to"} else "after"
    anchor_text = " ".join(match["anchor"].split()[:_ANCHOR_WORDS])
    dated = await asyncio.to_thread(parse_date, anchor_text, now)
    found = ""
    if dated is not None:
        anchor, period = dated
        anchor_end = window("", anchor, period).end
    elif locate is not None and (located := await locate(anchor_text)) is not None:
        anchor, record = located
        anchor_end = window("", anchor, "day").end
        found = f"{anchor_text!r} on {anchor:%Y-%m-%d} (record {record[:8]})"
    else:
        return None
    anchor_start = window("", anchor, "day").start
    unit = match["unit"]
    if unit:
        unit = _UNITS.get(unit.lower(), unit.lower())
        amount = match["amount"] or "1"
        moved = await asyncio.to_thread(shifted, anchor_start, amount, unit, direction)
        if moved is None:
            return None
        moved = moved.replace(tzinfo=UTC)
        start, end = (moved, anchor_end) if direction == "before" else (anchor_start, window("", moved, "day").end)
    else:
        start, end = (anchor_start - _BARE_SPAN, anchor_end) if direction == "before" else (anchor_start, anchor_start + _BARE_SPAN)
    return TimeWindow(expression=match.group(0).strip(), period=unit or "month", start=start, end=end,
                      anchor=found or None)  # fmt: skip
